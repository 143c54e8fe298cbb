"""The broker the live lab measured, named from its server properties and said against the 4.x the lessons teach."""

from __future__ import annotations

from sandbox.live.servers import broker_identity
from sandbox.present.broker_version import broker_note


def test_the_identity_comes_from_the_server_properties_product_and_version():
    assert broker_identity({"product": b"RabbitMQ", "version": b"4.3.0", "platform": b"Erlang/OTP 27"}) == (
        "RabbitMQ 4.3.0")
    assert broker_identity({"product": "RabbitMQ", "version": "3.10.8"}) == "RabbitMQ 3.10.8"
    assert broker_identity({}) == "an AMQP broker of an unknown version"


def test_each_version_line_says_how_it_differs_from_what_the_lessons_teach():
    old, middle, new = broker_note("RabbitMQ 3.10.8"), broker_note("RabbitMQ 4.1.2"), broker_note("RabbitMQ 4.3.0")
    assert "3.10" in old and "no delivery limit unless one is set" in old and "closes the consumer's channel" in old
    assert "20 by default" in middle and "every return counts" in middle and "deprecated" in middle
    assert "only a reject or a lost connection" in new and "refused" in new
    assert broker_note("an AMQP broker of an unknown version") == ""
