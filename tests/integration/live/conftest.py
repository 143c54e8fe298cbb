import contextlib
import uuid

import pika.exceptions
import pytest

from tests.integration.live.support import rabbit_channel, topology


@pytest.fixture
def channel():
    """A channel on the real broker for the test's own declares, publishes and reads."""
    connection, channel = rabbit_channel()
    yield channel
    with contextlib.suppress(pika.exceptions.AMQPError):
        connection.close()


@pytest.fixture
def queue_name():
    """A unique invalidation queue; it, its DLQ and its exchanges are deleted after the test."""
    name = f"cache-invalidation.test-{uuid.uuid4().hex[:8]}"
    yield name
    connection, channel = rabbit_channel()
    try:
        topology(name).delete(channel)
    finally:
        connection.close()
