"""RabbitMQ for the lab: the pika client (connection, topology, publisher), the consumer, policies, probes, the
nodes the lab starts itself, and the standing lab's claim on a broker."""
