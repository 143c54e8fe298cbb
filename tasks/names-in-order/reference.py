"""The newest version wins, whatever the arrival order: one conditional upsert."""

from sandbox.grade.api import Reject


def parse(message):
    try:
        event = message.json()
        return int(event["user_id"]), str(event["name"]), int(event["version"])
    except (ValueError, KeyError, TypeError):
        return None


def handle(message, ctx):
    parsed = parse(message)
    if parsed is None:
        raise Reject(requeue=False)  # poison: to the dead-letter queue
    ctx.db.execute(
        "INSERT INTO authors (user_id, name, version) VALUES (?, ?, ?) "
        "ON CONFLICT(user_id) DO UPDATE SET name = excluded.name, version = excluded.version "
        "WHERE excluded.version > authors.version",
        parsed)
