"""The pika layer against a real RabbitMQ: confirms, routing failures, backoff, qos, heartbeats, reconnects.

Every test declares its own queues (a random suffix) and deletes them at the end.
"""

from __future__ import annotations

import threading
import time
import uuid

import pytest

from sandbox.live.broker import (
    INVALIDATE_BODY,
    Publisher,
    PublishError,
    TopologyError,
    declare_topology,
    delete_topology,
)
from sandbox.live.consumer import Consumer
from sandbox.live.ports import free_port
from sandbox.live.proxy import FaultProxy
from sandbox.live.servers import through
from tests.helpers import RABBITMQ_URL
from tests.integration.live.support import rabbit_channel, rabbitmq_address, ready, wait_until

pytestmark = pytest.mark.live


# helpers shared with test_services.py ---------------------------------------------------------------


# fixtures ---------------------------------------------------------------------------------------------


@pytest.fixture
def queue_name():
    """A unique invalidation queue; it, its DLQ and its exchanges are deleted after the test."""
    name = f"cache-invalidation.test-{uuid.uuid4().hex[:8]}"
    yield name
    connection, channel = rabbit_channel()
    try:
        delete_topology(channel, name, user_exchange=f"user.updated.{name}")
    finally:
        connection.close()


def declare(queue_name: str, delivery_limit: int = 0):
    return lambda channel: declare_topology(channel, queue_name, True, delivery_limit, f"user.updated.{queue_name}")


def running(consumer: Consumer) -> Consumer:
    consumer.start()
    wait_until(lambda: consumer.connected, what="the consumer to connect")
    return consumer


# publishing -------------------------------------------------------------------------------------------


def test_the_publisher_sends_exactly_the_message_persistent_and_confirmed(channel, queue_name):
    publisher = Publisher(RABBITMQ_URL, queue_name, declare=declare(queue_name), name="test-publisher")
    try:
        publisher.publish(INVALIDATE_BODY, message_id="post-1")
    finally:
        publisher.close()
    _method, properties, body = channel.basic_get(queue_name, auto_ack=True)
    assert body == b'{"action": "invalidateCache", "keys": ["blogs:*"]}'
    assert properties.delivery_mode == 2
    assert properties.content_type == "application/json"
    assert properties.message_id == "post-1"
    assert publisher.published == 1


def test_an_unroutable_message_is_an_error_with_confirms(queue_name):
    publisher = Publisher(RABBITMQ_URL, queue_name + ".missing", name="test-publisher")  # nobody declared it
    try:
        with pytest.raises(PublishError, match="could not route"):
            publisher.publish(INVALIDATE_BODY)
    finally:
        publisher.close()


def test_an_unreachable_broker_fails_fast_then_waits_out_the_backoff():
    closed = through(RABBITMQ_URL, free_port())
    publisher = Publisher(closed, "cache-invalidation", reconnect_s=30, timeout_s=3, name="test-publisher")
    try:
        started = time.monotonic()
        with pytest.raises(PublishError, match="unreachable"):
            publisher.publish(INVALIDATE_BODY)
        with pytest.raises(PublishError, match="next attempt in"):
            publisher.publish(INVALIDATE_BODY)
        assert time.monotonic() - started < 2.0
    finally:
        publisher.close()
    assert publisher.failures == 2


def test_the_publisher_reopens_a_connection_that_dropped_while_it_was_idle(channel, queue_name):
    proxy = FaultProxy(rabbitmq_address(), listen_port=free_port()).start()
    publisher = Publisher(through(RABBITMQ_URL, proxy.port), queue_name, declare=declare(queue_name),
                          reconnect_s=30, name="test-publisher")
    try:
        publisher.publish(INVALIDATE_BODY)
        proxy.reset_peer()
        wait_until(lambda: not publisher.connected, what="the publisher to notice the drop")
        publisher.publish(INVALIDATE_BODY)  # no backoff wait: only failed attempts to connect back off
    finally:
        publisher.close()
        proxy.stop()
    assert ready(channel, queue_name) == 2


def test_declaring_a_queue_with_other_settings_says_what_to_do(channel, queue_name):
    declare_topology(channel, queue_name, durable=True, delivery_limit=0, user_exchange=None)
    with pytest.raises(TopologyError, match=f"already has '{queue_name}' with other settings"):
        declare_topology(channel, queue_name, durable=True, delivery_limit=3, user_exchange=None)


# consuming --------------------------------------------------------------------------------------------


def test_prefetch_bounds_the_unacked_messages_and_acks_come_after_the_work(channel, queue_name):
    declare(queue_name)(channel)
    release = threading.Event()
    handled = []

    def handler(body, properties):
        release.wait(10)
        handled.append(body)

    consumer = running(Consumer(RABBITMQ_URL, queue_name, handler, prefetch=1, name="test-consumer"))
    try:
        for i in range(3):
            channel.basic_publish("", queue_name, f"m{i}".encode())
        wait_until(lambda: ready(channel, queue_name) == 2, what="one message delivered, two held back")
        time.sleep(0.2)
        assert ready(channel, queue_name) == 2  # basic_qos(prefetch_count=1): no second delivery yet
        release.set()
        wait_until(lambda: consumer.stats.consumed == 3, what="all three consumed")
    finally:
        consumer.stop()
    assert handled == [b"m0", b"m1", b"m2"]
    assert ready(channel, queue_name) == 0


def test_heartbeats_keep_flowing_while_a_slow_handler_works(channel, queue_name):
    declare(queue_name)(channel)

    def slow(body, properties):
        time.sleep(3.5)  # longer than two 1-second heartbeat intervals: a blocked I/O thread would be cut off

    consumer = running(Consumer(RABBITMQ_URL, queue_name, slow, heartbeat_s=1, name="test-slow"))
    try:
        channel.basic_publish("", queue_name, INVALIDATE_BODY)
        wait_until(lambda: consumer.stats.consumed == 1, timeout_s=10, what="the slow message acked")
    finally:
        consumer.stop()
    assert consumer.stats.snapshot() | {"consumed": 1} == {
        "consumed": 1, "redelivered": 0, "failed": 0, "dead_lettered": 0, "lost": 0, "reconnects": 0}


def test_the_consumer_reconnects_after_its_connection_drops_and_gets_the_unacked_message_again(channel, queue_name):
    declare(queue_name)(channel)
    proxy = FaultProxy(rabbitmq_address(), listen_port=free_port()).start()
    first = threading.Event()
    seen = []

    def handler(body, properties):
        seen.append(properties)
        if not first.is_set():
            first.set()
            time.sleep(0.5)  # the connection is cut while this runs: the ack has nowhere to go

    consumer = running(Consumer(through(RABBITMQ_URL, proxy.port), queue_name, handler, reconnect_s=0.1,
                                name="test-reconnect"))
    try:
        channel.basic_publish("", queue_name, INVALIDATE_BODY)
        assert first.wait(5)
        proxy.reset_peer()
        wait_until(lambda: consumer.stats.consumed == 1, timeout_s=10, what="the redelivered message acked")
    finally:
        consumer.stop()
        proxy.stop()
    assert consumer.stats.reconnects >= 1
    assert consumer.stats.redelivered == 1
    assert len(seen) == 2


def test_auto_ack_loses_a_message_whose_handler_failed(channel, queue_name):
    declare(queue_name)(channel)

    def failing(body, properties):
        raise RuntimeError("boom")

    consumer = running(Consumer(RABBITMQ_URL, queue_name, failing, auto_ack=True, name="test-auto"))
    try:
        channel.basic_publish("", queue_name, INVALIDATE_BODY)
        wait_until(lambda: consumer.stats.lost == 1, what="the failed message counted lost")
    finally:
        consumer.stop()
    assert ready(channel, queue_name) == 0  # gone: the broker forgot it when it sent it


def test_manual_ack_requeues_a_failure_until_the_delivery_limit_then_dead_letters_it(channel, queue_name):
    declare(queue_name, delivery_limit=2)(channel)
    attempts = []

    def handler(body, properties):
        attempts.append(body)
        if body == b"poison":
            raise ValueError("malformed")

    consumer = running(Consumer(RABBITMQ_URL, queue_name, handler, delivery_limit=2, name="test-limit"))
    try:
        channel.basic_publish("", queue_name, b"poison")
        channel.basic_publish("", queue_name, b"good")
        wait_until(lambda: ready(channel, queue_name + ".dlq") == 1, what="the poison message in the DLQ")
        wait_until(lambda: consumer.stats.consumed == 1, what="the good message consumed")
    finally:
        consumer.stop()
    assert attempts.count(b"poison") == 3  # delivered, returned twice, then "more than 2 returns": dead-lettered
    assert consumer.stats.failed == 3 and consumer.stats.dead_lettered == 1
    _, _properties, body = channel.basic_get(queue_name + ".dlq", auto_ack=True)
    assert body == b"poison"
