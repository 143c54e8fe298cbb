"""The real servers the live lab runs on answer on loopback: RabbitMQ (AMQP and management API) and Redis.

These skip on a laptop without them (saying how to start them) and fail in CI, where
SANDBOX_REQUIRE_LIVE=1 and .ci/run installs and starts both.
"""

from __future__ import annotations

import json
import uuid

import httpx
import pika
import pytest
import redis

from sandbox.live.servers import START_RABBITMQ, START_REDIS
from tests.helpers import MANAGEMENT_URL, RABBITMQ_URL, REDIS_URL, unavailable

pytestmark = pytest.mark.live


@pytest.fixture
def channel():
    params = pika.URLParameters(RABBITMQ_URL)
    params.connection_attempts = 1
    params.socket_timeout = 2
    try:
        connection = pika.BlockingConnection(params)
    except pika.exceptions.AMQPError as exc:
        unavailable(f"RabbitMQ is not reachable at {RABBITMQ_URL} ({type(exc).__name__})", START_RABBITMQ)
    try:
        yield connection.channel()
    finally:
        connection.close()


def test_rabbitmq_confirms_and_returns_the_invalidation_message(channel):
    body = json.dumps({"action": "invalidateCache", "keys": ["blogs:*"]}).encode()
    queue = channel.queue_declare(queue="", exclusive=True).method.queue
    channel.confirm_delivery()
    channel.basic_publish("", queue, body, pika.BasicProperties(delivery_mode=pika.DeliveryMode.Persistent))
    method, _properties, got = channel.basic_get(queue, auto_ack=False)
    assert got == body and method.redelivered is False
    channel.basic_nack(method.delivery_tag, requeue=True)
    method, _properties, got = channel.basic_get(queue, auto_ack=True)
    assert got == body and method.redelivered is True


def test_rabbitmq_management_api_reports_queues():
    try:
        credentials = pika.URLParameters(RABBITMQ_URL).credentials
        response = httpx.get(f"{MANAGEMENT_URL}/api/overview", auth=(credentials.username, credentials.password),
                             timeout=3)
    except httpx.TransportError as exc:
        unavailable(f"the RabbitMQ management API is not reachable at {MANAGEMENT_URL} ({type(exc).__name__})",
                    "rabbitmq-plugins enable rabbitmq_management")
    assert response.status_code == 200
    assert "rabbitmq_version" in response.json()


def test_redis_deletes_keys_by_pattern():
    client = redis.Redis.from_url(REDIS_URL, socket_timeout=2)
    try:
        client.ping()
    except redis.exceptions.ConnectionError:
        unavailable(f"Redis is not reachable at {REDIS_URL}", START_REDIS)
    prefix = f"test-{uuid.uuid4().hex}"
    client.set(f"{prefix}:blogs:list", "[]")
    client.set(f"{prefix}:blogs:page:2", "[]")
    keys = list(client.scan_iter(match=f"{prefix}:blogs:*"))
    assert len(keys) == 2
    assert client.unlink(*keys) == 2
    assert list(client.scan_iter(match=f"{prefix}:blogs:*")) == []
