"""The live lab's message view against the real broker: counts as RabbitMQ, the worker and the database have
them, and the letters the lab can see without taking anything off the queue."""

from __future__ import annotations

import pytest

from sandbox.live.engine import LiveEngine
from sandbox.live.servers import START_RABBITMQ, LabUnavailable
from sandbox.model.commands import Hang, Heal, Kill, Load
from tests.helpers import scenario, unavailable
from tests.integration.live.support import rabbit_channel, ready

pytestmark = pytest.mark.live


def queue_lab(**consumer) -> LiveEngine:
    s = scenario(duration=30, load={"reads_per_s": 2, "writes_per_s": 8},
                 variants={"queue": {"architecture": "queue", "consumer": consumer}})
    try:
        return LiveEngine(s)
    except LabUnavailable as exc:
        unavailable(str(exc), START_RABBITMQ)


def last_frame(engine: LiveEngine) -> dict:
    return engine.frames()[-1]


def test_after_the_worker_dies_the_counts_are_the_queue_s_of_the_same_second_and_the_broker_s():
    engine = queue_lab()
    try:
        engine.advance(1.2)
        engine.apply(Kill("cache-worker"))
        engine.advance(3)
        engine.apply(Load(writes_per_s=0))
        engine.advance(2)  # the last writes land; then nothing moves
        view = engine.messages("queue")
        frame = last_frame(engine)
        queue = engine.labs["queue"].config.invalidation_queue
        connection, channel = rabbit_channel()
        try:
            on_the_broker = ready(channel, queue)
        finally:
            connection.close()
    finally:
        engine.close()
    assert view.counts["ready"] == frame["queue.ready"] == on_the_broker >= 15
    assert view.counts["unacked"] == frame["queue.unacked"] == 0
    assert view.counts["in flight"] == frame["msg.in_flight"] == 0
    assert view.counts["lost"] == 0 and view.counts["dead-lettered"] == 0
    assert view.of("ready") == [], "ready messages are counted, never taken off the queue to be listed"


def test_a_hung_worker_s_messages_are_letters_with_their_ids_deliveries_and_lane():
    engine = queue_lab(prefetch=5)
    try:
        engine.advance(1.2)
        engine.apply(Hang("cache-worker"))
        engine.advance(3)
        view = engine.messages("queue")
        frame = last_frame(engine)
        status = engine.status()["queue"]
        engine.apply(Heal("cache-worker"))
        engine.apply(Load(writes_per_s=0))
        engine.advance(3)
        after = engine.messages("queue")
    finally:
        engine.close()
    unacked = view.of("unacked")
    assert view.counts["unacked"] == frame["queue.unacked"] == len(unacked) == 5, "prefetch 5, held while hung"
    assert all(x.id.startswith("post-") and x.holder == "worker 1" and x.deliveries == 1 for x in unacked)
    assert view.counts["ready"] == frame["queue.ready"] > 0
    assert status.components["cache-worker"].health == "hung"
    assert after.counts["unacked"] == after.counts["ready"] == 0, "healed, the worker drains the queue"
