"""cache-worker (queue variant): consumes `cache-invalidation` and deletes the blog list from Redis.

For each message `{"action": "invalidateCache", "keys": ["blogs:*"]}` it works `consumer.work_ms`
(plus any injected latency), then bumps the cache generation, SCANs `<prefix>blogs:*` and deletes what
matched with one UNLINK, counts the message handled in Redis (a count that outlives a SIGKILL, so the
lab's books stay right), and only then acks (`consumer.ack = "manual"`). A malformed message or a
Redis failure is rejected with requeue (or, with `consumer.retry = "delayed"`, sent to a retry queue to wait:
rabbitmq/consumer.py); past the queue's delivery limit (a policy, `consumer.delivery_limit`)
RabbitMQ moves it to `cache-invalidation.dlq`. `consumer.count` competing consumers share one connection, a
channel each. With `broker.durable = false` the queue is exclusive to that connection: it goes with the worker.

Any producer works: the body is all the worker reads.
"""

from __future__ import annotations

import json

from starlette.applications import Starlette

from sandbox.live.rabbitmq.consumer import Consumer
from sandbox.live.services.cache import BlogCache, redis_client
from sandbox.live.services.config import ServiceConfig
from sandbox.live.services.service import Counters, InjectedFaults, OwnWork, service_app
from sandbox.model.messages import SHOWN_PER_STATE

NAME = "cache-worker"
ACTION = "invalidateCache"


class MalformedMessage(ValueError):
    """A message body that is not an invalidateCache message."""


def parse_invalidation(body: bytes) -> list[str]:
    """The key patterns of an invalidateCache message; MalformedMessage for anything else."""
    try:
        message = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        raise MalformedMessage(f"not JSON: {body[:80]!r}") from None
    if not isinstance(message, dict) or message.get("action") != ACTION:
        raise MalformedMessage(f'not {{"action": "{ACTION}", ...}}: {body[:80]!r}')
    keys = message.get("keys")
    if not isinstance(keys, list) or not keys or not all(isinstance(k, str) and k for k in keys):
        raise MalformedMessage(f'"keys" must be a non-empty list of key patterns: {body[:80]!r}')
    return keys


class InjectedFailure(RuntimeError):
    """The `errors` fault on the worker: this message's handling fails on purpose."""


class CacheWorker:
    def __init__(self, config: ServiceConfig):
        self.config = config
        k = config.knobs
        self.cache = BlogCache(redis_client(config.redis_url, k.redis.timeout_s), config.redis_prefix)
        self.work = OwnWork(k.consumer.work_ms, k.services)
        self.deleted = Counters("keys_deleted")
        self.faults = InjectedFaults()
        self.consumer = Consumer(
            config.rabbitmq_urls, config.invalidation_queue, self.handle, declare=config.topology.declare,
            prefetch=k.consumer.prefetch, auto_ack=k.consumer.ack == "auto", channels=k.consumer.count,
            delivery_limit=k.consumer.delivery_limit, reconnect_s=k.consumer.reconnect_s,
            timeout_s=k.publish.timeout_s, retry_queues=config.topology.retry_queues, name=f"{NAME}-{config.variant}")

    def handle(self, body: bytes, _properties: object = None) -> None:
        """One message: the work, then SCAN + UNLINK. Raises on a malformed message or a Redis error.

        A hung worker (`hang`) waits here until healed; its connection, and what it holds, stay."""
        self.faults.wait_while_hung()
        self.work(self.faults.delay_s())
        patterns = parse_invalidation(body)
        if self.faults.strike():
            raise InjectedFailure("injected handler failure")
        self.deleted.add("keys_deleted", self.cache.invalidate(patterns))
        self.cache.client.incr(self.config.handled_key)

    def start(self) -> None:
        self.consumer.start()

    def run(self) -> None:
        """Consume in this thread until `stop()` (from another thread or a signal handler)."""
        self.consumer.run()

    def stop(self) -> None:
        self.consumer.stop()
        self.cache.client.close()

    def metrics(self) -> dict:
        """The counters, and where messages are now: `ready` in the queue (asked on the worker's own connection,
        the only one that may ask about an exclusive queue; None while it has none), then `holding` and the
        first `held` ones with their delivery counts and lanes."""
        consumer = self.consumer
        ready = consumer.ready()
        held = [h.to_dict() for h in consumer.held(SHOWN_PER_STATE)]
        return {**consumer.stats.snapshot(), **self.deleted.snapshot(), "workers": len(consumer.lanes),
                "busy": consumer.busy, "ready": ready, "holding": consumer.holding, "held": held,
                "connected": consumer.connected}


def create_app(config: ServiceConfig) -> Starlette:
    """/health and /metrics for the worker; the lifespan runs the consumer on its own thread."""
    worker = CacheWorker(config)
    app = service_app(NAME, [], counters=Counters(), workers=1, start=worker.start, stop=worker.stop,
                      gauges=worker.metrics, health=lambda: {"connected": worker.consumer.connected},
                      faults=worker.faults)
    app.state.service = worker
    return app
