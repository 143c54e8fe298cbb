"""The pika layer's publishing and declaring against a real RabbitMQ: confirms, routing failures, backoff,
the queue a plain declare from any client matches, the policy that dead-letters it, the exclusive queue.

Every test declares its own queues (a random suffix) and deletes them, and their policies, at the end.
"""

from __future__ import annotations

import time

import pika
import pika.exceptions
import pytest

from sandbox.live.processes.ports import free_port
from sandbox.live.proxy import FaultProxy
from sandbox.live.rabbitmq.broker import INVALIDATE_BODY, Publisher, PublishError, TopologyError
from sandbox.live.servers import through
from tests.helpers import RABBITMQ_URL
from tests.integration.live.support import (
    management_api,
    owned_policy,
    rabbit_channel,
    rabbitmq_address,
    ready,
    topology,
    wait_until,
)

pytestmark = pytest.mark.live


# publishing -------------------------------------------------------------------------------------------


def test_the_publisher_sends_exactly_the_message_persistent_confirmed_and_with_an_id(channel, queue_name):
    publisher = Publisher(RABBITMQ_URL, queue_name, declare=topology(queue_name).declare, name="test-publisher")
    try:
        publisher.publish(INVALIDATE_BODY, message_id="post-1")
    finally:
        publisher.close()
    _method, properties, body = channel.basic_get(queue_name, auto_ack=True)
    assert body == b'{"action": "invalidateCache", "keys": ["blogs:*"]}'
    assert properties.delivery_mode == 2
    assert properties.content_type == "application/json"
    assert properties.message_id == "post-1"
    assert abs(properties.timestamp - time.time()) < 5
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


def test_a_hung_broker_is_unreachable_after_the_timeout_then_waits_out_the_backoff():
    proxy = FaultProxy(rabbitmq_address(), listen_port=free_port()).start()
    proxy.black_hole()  # accepts the connection, never answers the handshake
    publisher = Publisher(through(RABBITMQ_URL, proxy.port), "cache-invalidation", reconnect_s=30, timeout_s=1,
                          name="test-publisher")
    try:
        with pytest.raises(PublishError, match="no answer from RabbitMQ within 1 s"):
            publisher.publish(INVALIDATE_BODY)  # the caller stops waiting; the handshake times out after it
        wait_until(lambda: publisher.failures == 1, what="the handshake to time out")
        # no new handshake to wait out: the next publish fails at once, naming the last one's fault
        with pytest.raises(PublishError, match=r"unreachable \(AMQPConnectorStackTimeout: .*\); next attempt in"):
            publisher.publish(INVALIDATE_BODY)
    finally:
        publisher.close()
        proxy.stop()


def test_the_publisher_reopens_a_connection_that_dropped_while_it_was_idle(channel, queue_name):
    proxy = FaultProxy(rabbitmq_address(), listen_port=free_port()).start()
    publisher = Publisher(through(RABBITMQ_URL, proxy.port), queue_name, declare=topology(queue_name).declare,
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


# declaring --------------------------------------------------------------------------------------------


def test_a_plain_durable_declare_from_any_client_matches_the_lab_s_classic_queue(channel, queue_name):
    lab_queue = topology(queue_name)
    lab_queue.declare(channel)
    channel.queue_declare(queue_name, durable=True)  # what a producer written from the pika tutorials declares
    assert channel.queue_declare(queue_name, passive=True).method.consumer_count == 0


def test_the_policy_dead_letters_a_queue_that_was_declared_plain(channel, queue_name):
    lab_queue = topology(queue_name)
    with owned_policy(lab_queue) as policy:
        lab_queue.declare(channel)
        api = management_api()
        try:
            wait_until(lambda: (api.queue("/", queue_name) or {}).get("policy") == policy.name,
                       what="the policy applied to the queue")
        finally:
            api.close()
        channel.basic_publish("", queue_name, b"refused")
        method, _, _ = channel.basic_get(queue_name)
        channel.basic_reject(method.delivery_tag, requeue=False)
        wait_until(lambda: ready(channel, lab_queue.dead_letter_queue) == 1, what="the message dead-lettered")


def test_a_quorum_queue_needs_its_type_on_every_declare_that_is_rabbitmq_s_rule(queue_name):
    connection, channel = rabbit_channel()
    try:
        topology(queue_name, queue_type="quorum").declare(channel)
        with pytest.raises(pika.exceptions.ChannelClosedByBroker, match="inequivalent arg 'x-queue-type'"):
            channel.queue_declare(queue_name, durable=True)
    finally:
        connection.close()


def test_declaring_a_queue_with_other_settings_says_what_to_do(channel, queue_name):
    topology(queue_name).declare(channel)
    with pytest.raises(TopologyError, match=f"already has '{queue_name}' with other settings"):
        topology(queue_name, queue_type="quorum").declare(channel)


def test_a_transient_queue_is_exclusive_to_its_worker_and_gone_with_its_connection(queue_name):
    worker, worker_channel = rabbit_channel()
    lab_queue = topology(queue_name, durable=False)
    lab_queue.declare(worker_channel)
    publisher = Publisher(RABBITMQ_URL, queue_name, declare=lab_queue.declare_for_producers, name="test-publisher")
    try:
        publisher.publish(INVALIDATE_BODY)  # the producer declares around it, and its message is routed
        assert worker_channel.queue_declare(queue_name, passive=True).method.message_count == 1
        other, other_channel = rabbit_channel()
        with pytest.raises(pika.exceptions.ChannelClosedByBroker, match="RESOURCE_LOCKED"):
            other_channel.queue_declare(queue_name, passive=True)
        other.close()
        worker.close()  # the worker's connection goes: so do the queue and its message
        with pytest.raises(PublishError, match="could not route"):
            publisher.publish(INVALIDATE_BODY)
    finally:
        publisher.close()
