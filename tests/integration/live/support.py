"""What the live integration tests share: a plain channel of their own, polling, the broker's address, and the
policy of a queue a test owns."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterator
from urllib.parse import urlsplit

import pika
import pika.exceptions

from sandbox.live.rabbitmq.broker import Topology, connect
from sandbox.live.rabbitmq.management import ManagementApi, ManagementUnavailable
from sandbox.live.rabbitmq.policies import Policies, QueuePolicy, invalidation_policy
from sandbox.live.servers import START_RABBITMQ
from tests.helpers import MANAGEMENT_URL, RABBITMQ_URL, REQUIRE_NODE_RESTART, unavailable


def rabbitmq_address() -> tuple[str, int]:
    return "127.0.0.1", urlsplit(RABBITMQ_URL).port or 5672


def wait_until(condition: Callable[[], object], timeout_s: float = 10.0, what: str = "the condition") -> object:
    """Poll `condition` until it is truthy (bounded in time); return its value."""
    deadline = time.monotonic() + timeout_s
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout_s:g} s waiting for {what}")
        time.sleep(0.02)


def need_node_restart(engine) -> None:
    """Skip (or fail, in CI) a test that restarts the RabbitMQ node when the lab cannot: it restarts only a node it
    started itself, which takes RabbitMQ installed on this machine."""
    if not engine.owns_nodes:
        unavailable("a real broker restart needs a RabbitMQ node the lab starts itself, on this machine",
                    "apt-get install rabbitmq-server", required=REQUIRE_NODE_RESTART)


def rabbit_channel():
    """A plain pika channel for the test itself (skip or fail when RabbitMQ is not there)."""
    try:
        connection = connect(RABBITMQ_URL, timeout_s=3.0, name="test")
    except pika.exceptions.AMQPError as exc:
        unavailable(f"RabbitMQ is not reachable at {RABBITMQ_URL} ({type(exc).__name__})", START_RABBITMQ)
    return connection, connection.channel()


def ready(channel, queue_name: str) -> int:
    """Messages ready in a queue (not counting those delivered and unacked)."""
    return channel.queue_declare(queue_name, passive=True).method.message_count




def topology(queue_name: str, *, durable: bool = True, queue_type: str = "classic") -> Topology:
    """A test's own invalidation queue with its own user.updated exchange."""
    return Topology(queue_name, f"user.updated.{queue_name}", durable, queue_type)


def management_api() -> ManagementApi:
    credentials = pika.URLParameters(RABBITMQ_URL).credentials
    return ManagementApi(MANAGEMENT_URL, credentials.username, credentials.password)


@contextlib.contextmanager
def owned_policy(topology: Topology, delivery_limit: int = 0, max_length: int = 0,
                 overflow: str = "drop-head") -> Iterator[QueuePolicy]:
    """The dead-letter (delivery-limit, length limit) policy of a queue the test owns: set for the test, cleared
    after."""
    api = management_api()
    try:
        version = api.version()
    except ManagementUnavailable as exc:
        api.close()
        unavailable(f"the RabbitMQ management API is not reachable at {MANAGEMENT_URL} ({exc})",
                    "rabbitmq-plugins enable rabbitmq_management")
    policies = Policies(RABBITMQ_URL, api)
    policy = invalidation_policy(topology, delivery_limit, version, max_length, overflow)
    policies.set(policy)
    try:
        yield policy
    finally:
        policies.clear(policy)
        api.close()
