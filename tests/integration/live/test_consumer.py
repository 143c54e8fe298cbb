"""The pika consumer against a real RabbitMQ: qos, heartbeats, reconnects, reject vs nack, the delivery limit,
and what it reports holding.

Every test declares its own queues (a random suffix) and deletes them, and their policies, at the end.
"""

from __future__ import annotations

import threading
import time

import pika
import pytest

from sandbox.live.processes.ports import free_port
from sandbox.live.proxy import FaultProxy
from sandbox.live.rabbitmq.broker import INVALIDATE_BODY
from sandbox.live.rabbitmq.consumer import Consumer
from sandbox.live.servers import through
from tests.helpers import RABBITMQ_URL
from tests.integration.live.support import owned_policy, rabbitmq_address, ready, topology, wait_until

pytestmark = pytest.mark.live


def running(consumer: Consumer) -> Consumer:
    consumer.start()
    wait_until(lambda: consumer.connected, what="the consumer to connect")
    return consumer


def test_prefetch_bounds_the_unacked_messages_and_acks_come_after_the_work(channel, queue_name):
    topology(queue_name).declare(channel)
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
    topology(queue_name).declare(channel)

    def slow(body, properties):
        time.sleep(3.5)  # longer than two 1-second heartbeat intervals: a blocked I/O thread would be cut off

    consumer = running(Consumer(RABBITMQ_URL, queue_name, slow, heartbeat_s=1, name="test-slow"))
    try:
        channel.basic_publish("", queue_name, INVALIDATE_BODY)
        wait_until(lambda: consumer.stats.consumed == 1, timeout_s=10, what="the slow message acked")
    finally:
        consumer.stop()
    assert consumer.stats.snapshot() | {"consumed": 1} == {
        "consumed": 1, "redelivered": 0, "failed": 0, "dead_lettered": 0, "lost": 0, "reconnects": 0, "retried": 0}


def test_the_consumer_reconnects_after_its_connection_drops_and_gets_the_unacked_message_again(channel, queue_name):
    topology(queue_name).declare(channel)
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
    topology(queue_name).declare(channel)

    def failing(body, properties):
        raise RuntimeError("boom")

    consumer = running(Consumer(RABBITMQ_URL, queue_name, failing, auto_ack=True, name="test-auto"))
    try:
        channel.basic_publish("", queue_name, INVALIDATE_BODY)
        wait_until(lambda: consumer.stats.lost == 1, what="the failed message counted lost")
    finally:
        consumer.stop()
    assert ready(channel, queue_name) == 0  # gone: the broker forgot it when it sent it


def test_a_failure_is_rejected_toward_the_policy_s_delivery_limit_then_dead_lettered(channel, queue_name):
    quorum = topology(queue_name, queue_type="quorum")
    attempts = []

    def handler(body, properties):
        attempts.append((body, properties.headers or {}))
        if body == b"poison":
            raise ValueError("malformed")

    with owned_policy(quorum, delivery_limit=2):
        quorum.declare(channel)
        consumer = running(Consumer(RABBITMQ_URL, queue_name, handler, delivery_limit=2, name="test-limit"))
        try:
            channel.basic_publish("", queue_name, b"poison")
            channel.basic_publish("", queue_name, b"good")
            wait_until(lambda: ready(channel, quorum.dead_letter_queue) == 1, what="the poison message in the DLQ")
            wait_until(lambda: consumer.stats.consumed == 1, what="the good message consumed")
        finally:
            consumer.stop()
    poison = [headers for body, headers in attempts if body == b"poison"]
    assert len(poison) == 3  # delivered, rejected twice with requeue, then "more than 2": dead-lettered
    assert [h.get("x-delivery-count", 0) for h in poison] == [0, 1, 2]
    assert consumer.stats.failed == 3 and consumer.stats.dead_lettered == 1
    _, _properties, body = channel.basic_get(quorum.dead_letter_queue, auto_ack=True)
    assert body == b"poison"


def test_on_stop_the_message_at_work_is_acked_and_those_not_started_go_back_unharmed(channel, queue_name):
    topology(queue_name).declare(channel)
    started = threading.Event()

    def slow(body, properties):
        started.set()
        time.sleep(0.5)

    consumer = running(Consumer(RABBITMQ_URL, queue_name, slow, prefetch=5, name="test-stop"))
    for i in range(5):
        channel.basic_publish("", queue_name, f"m{i}".encode())
    assert started.wait(5)
    wait_until(lambda: consumer.holding == 5, what="all five delivered")
    consumer.stop()
    assert consumer.stats.consumed == 1
    assert consumer.stats.failed == 0, "given back with basic_nack: not processed, not a failure"
    wait_until(lambda: ready(channel, queue_name) == 4, what="the four not started back in the queue")
    method, _, body = channel.basic_get(queue_name, auto_ack=True)
    assert (body, method.redelivered) == (b"m1", True)


def test_the_consumer_reports_what_it_holds_and_counts_its_exclusive_queue(channel, queue_name):
    transient = topology(queue_name, durable=False)
    release = threading.Event()
    consumer = Consumer(RABBITMQ_URL, queue_name, lambda body, properties: release.wait(10), prefetch=2,
                        channels=2, declare=transient.declare, name="test-held")
    running(consumer)
    try:
        for n in range(5):
            channel.basic_publish("", queue_name, INVALIDATE_BODY, pika.BasicProperties(message_id=f"post-{n}"))
        wait_until(lambda: consumer.holding == 4, what="two held by each lane")
        assert consumer.ready() == 1, "asked on the consumer's own connection, the exclusive queue answers"
        held = consumer.held(10)
        assert sorted(h.id for h in held) == ["post-0", "post-1", "post-2", "post-3"]
        assert sorted(h.lane for h in held) == [1, 1, 2, 2]
        assert {h.deliveries for h in held} == {1}
        assert consumer.held(3) == held[:3]
    finally:
        release.set()
        consumer.stop()
