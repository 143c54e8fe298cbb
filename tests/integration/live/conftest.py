import contextlib

import pika.exceptions
import pytest

from tests.integration.live.support import rabbit_channel


@pytest.fixture
def channel():
    """A channel on the real broker for the test's own declares, publishes and reads."""
    connection, channel = rabbit_channel()
    yield channel
    with contextlib.suppress(pika.exceptions.AMQPError):
        connection.close()
