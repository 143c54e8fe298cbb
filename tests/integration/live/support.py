"""What the live integration tests share: a plain channel of their own, polling, the broker's address."""

from __future__ import annotations

import time
from collections.abc import Callable
from urllib.parse import urlsplit

import pika
import pika.exceptions

from sandbox.live.broker import connect
from sandbox.live.servers import START_RABBITMQ
from tests.helpers import RABBITMQ_URL, REQUIRE_NODE_RESTART, unavailable


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
    """Skip (or fail, in CI) a test that restarts the RabbitMQ node when the lab cannot."""
    if not engine.controls_broker_node():
        unavailable("a real broker restart needs a local RabbitMQ node that rabbitmqctl controls",
                    "rabbitmq-server -detached", required=REQUIRE_NODE_RESTART)


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


