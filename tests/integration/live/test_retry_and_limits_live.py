"""Delayed retry and a queue length limit on a real RabbitMQ: retry queues whose TTL dead-letters a failed message back
to its queue, the DLQ after the last one, and a max-length policy that drops the oldest or nacks the publisher.

Every test declares its own queues (a random suffix) and deletes them, and their policies, at the end.
"""

from __future__ import annotations

import contextlib
import itertools
import time
import uuid
from collections.abc import Iterator

import pytest

from sandbox.live.rabbitmq.broker import Publisher, PublishRefused, Topology
from sandbox.live.rabbitmq.consumer import Consumer
from tests.helpers import RABBITMQ_URL
from tests.integration.live.support import owned_policy, rabbit_channel, ready, wait_until

pytestmark = pytest.mark.live
DELAYS_S = (0.5, 1.0)


@contextlib.contextmanager
def own_topology(channel, **fields) -> Iterator[Topology]:
    """A test's own queue, its dead letters and any retry queues, declared under its policy and deleted after."""
    name = f"cache-invalidation.test-{uuid.uuid4().hex[:8]}"
    topology = Topology(name, **fields)
    try:
        yield topology
    finally:
        connection, cleanup = rabbit_channel()
        try:
            topology.delete(cleanup)
        finally:
            connection.close()


def test_a_failed_message_waits_out_each_retry_queue_then_goes_to_the_dlq(channel):
    with own_topology(channel, retry_delays_s=DELAYS_S) as topology, owned_policy(topology):
        topology.declare(channel)
        tries: list[float] = []

        def failing(body, properties):
            tries.append(time.monotonic())
            raise RuntimeError("Redis is down")

        consumer = Consumer(RABBITMQ_URL, topology.queue, failing, retry_queues=topology.retry_queues, name="t")
        consumer.start()
        try:
            wait_until(lambda: consumer.connected, what="the consumer to connect")
            channel.basic_publish("", topology.queue, b"{}")
            wait_until(lambda: ready(channel, topology.dead_letter_queue) == 1, what="the message in the DLQ")
        finally:
            consumer.stop()
        assert len(tries) == 3, "the first try, then one after each retry queue"
        waits = [later - earlier for earlier, later in itertools.pairwise(tries)]
        assert waits[0] >= DELAYS_S[0] - 0.05 and waits[1] >= DELAYS_S[1] - 0.05, f"each tier holds it: {waits}"
        assert consumer.stats.retried == 2 and consumer.stats.dead_lettered == 1
        assert consumer.stats.redelivered == 0, "a retried message comes back as a new message"
        assert all(ready(channel, name) == 0 for name in topology.retry_queues)


def test_a_retried_message_is_handled_once_the_failure_is_over(channel):
    with own_topology(channel, retry_delays_s=DELAYS_S) as topology, owned_policy(topology):
        topology.declare(channel)
        handled, failures = [], []

        def flaky(body, properties):
            if not failures:
                failures.append(body)
                raise RuntimeError("Redis blinked")
            handled.append(body)

        consumer = Consumer(RABBITMQ_URL, topology.queue, flaky, retry_queues=topology.retry_queues, name="t")
        consumer.start()
        try:
            wait_until(lambda: consumer.connected, what="the consumer to connect")
            channel.basic_publish("", topology.queue, b"m1")
            wait_until(lambda: handled, what="the retried message handled")
        finally:
            consumer.stop()
        assert handled == [b"m1"]
        assert consumer.stats.consumed == 1 and consumer.stats.dead_lettered == 0
        assert ready(channel, topology.dead_letter_queue) == 0


def test_drop_head_pushes_the_oldest_to_the_dead_letter_queue_and_confirms_the_publisher(channel):
    with own_topology(channel) as topology, owned_policy(topology, max_length=2):
        topology.declare(channel)
        publisher = Publisher(RABBITMQ_URL, topology.queue, timeout_s=5.0, name="t")
        try:
            for i in range(3):
                publisher.publish(f"m{i}".encode())  # every one confirmed: the publisher is never told
        finally:
            publisher.close()
        wait_until(lambda: ready(channel, topology.dead_letter_queue) == 1, what="the oldest dead-lettered")
        assert ready(channel, topology.queue) == 2
        _method, _properties, body = channel.basic_get(topology.dead_letter_queue, auto_ack=True)
        assert body == b"m0", "the oldest is the one dropped"


def test_reject_publish_nacks_the_publisher_and_keeps_what_the_queue_holds(channel):
    with own_topology(channel) as topology, owned_policy(topology, max_length=2, overflow="reject-publish"):
        topology.declare(channel)
        publisher = Publisher(RABBITMQ_URL, topology.queue, timeout_s=5.0, name="t")
        try:
            publisher.publish(b"m0")
            publisher.publish(b"m1")
            with pytest.raises(PublishRefused):
                publisher.publish(b"m2")
        finally:
            publisher.close()
        assert ready(channel, topology.queue) == 2
        assert ready(channel, topology.dead_letter_queue) == 0, "reject-publish dead-letters nothing"
