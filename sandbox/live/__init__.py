"""The live lab: real services, real RabbitMQ, real Redis, real HTTP."""
