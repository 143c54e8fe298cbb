"""What a run looks like: charts, the topology diagram, headline tiles, queueing theory, text and HTML reports."""
