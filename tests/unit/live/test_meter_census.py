"""The lab's census of a quorum queue: a queue without a leader is a place that cannot be read, not an empty one.

RabbitMQ answers a quorum queue's message count with 0 when its leader cannot be asked (no majority of its nodes,
or no answer within 250 ms). The broker here does just that for seconds 2-5, while it holds 6 messages; the
meter is either told that no majority answers (the lab's cluster says so) or not told (a 250 ms timeout looks the
same from outside). Either way no message may stay counted lost once the queue answers again.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import fakeredis
import httpx
import pytest

from sandbox.live.meter import Meter
from sandbox.live.services.cache import BlogCache
from sandbox.live.services.config import ServiceConfig
from sandbox.live.store import Database
from sandbox.live.wiring import VariantLab
from sandbox.model.knobs import DEFAULT_KNOBS
from sandbox.model.scenario import Variant
from tests.unit.live.test_meter_metrics import PORTS, Alive, Load

HELD_BY_THE_QUEUE = 6
LEADERLESS = range(2, 6)  # the seconds the queue has no leader and answers 0
SECONDS = 10


class LeaderlessQueue:
    """A quorum queue that holds 6 messages and, without a leader, says it holds none (as RabbitMQ's stat does)."""

    def __init__(self) -> None:
        self.second = 0

    def ready(self, queue: str) -> int | None:
        if queue.endswith(".dlq"):
            return 0
        return 0 if self.second in LEADERLESS else HELD_BY_THE_QUEUE

    def unacked(self, queue: str) -> int:
        return 0


@pytest.fixture
def lab(tmp_path: Path) -> Iterator[VariantLab]:
    knobs = DEFAULT_KNOBS.with_values({"broker.queue_type": "quorum"})
    config = ServiceConfig(variant="quorum", architecture="queue", redis_prefix="t:", queue_suffix=".t", knobs=knobs)
    db = Database(tmp_path / "lab.sqlite3")
    yield VariantLab(Variant("quorum", "queue"), config, dict(PORTS), {}, db,
                     BlogCache(fakeredis.FakeRedis(), config.redis_prefix), Load())
    db.close()


def run(lab: VariantLab, told: bool) -> list[int]:
    """Ten seconds of 20 posts: 14 handled, 6 in the queue; the messages counted lost at the end of each second."""
    queue = LeaderlessQueue()
    metrics = {PORTS["author"]: {"published": 20, "lost": 0, "publishing": 0},
               PORTS["cache-worker"]: {"holding": 0, "held": []}}
    probe = httpx.Client(transport=httpx.MockTransport(
        lambda request: httpx.Response(200, json=metrics.get(request.url.port, {}))))
    meter = Meter(lab, Alive(), queue, probe)
    if told:
        meter.quorum_readable = lambda: queue.second not in LEADERLESS
    for _ in range(20):
        lab.db.insert_post(1, "t", "b")
    lab.cache.client.set(lab.config.handled_key, 20 - HELD_BY_THE_QUEUE)
    lost = []
    for second in range(SECONDS):
        queue.second = second
        meter.close_second(second)
        lost.append(lab.measurements.totals(0, second + 1)["msg.lost"])
    probe.close()
    return lost


def test_a_queue_without_a_leader_makes_the_census_unknown_not_short(lab: VariantLab) -> None:
    assert run(lab, told=True) == [0] * SECONDS


def test_a_shortfall_the_queue_answers_for_later_is_taken_back(lab: VariantLab) -> None:
    lost = run(lab, told=False)
    assert max(lost) == HELD_BY_THE_QUEUE, "without being told, the lab first counts the queue's messages lost"
    assert lost[-1] == 0, f"and takes them back once the queue answers for them again: {lost}"
    assert not lab.measurements.lost_by_cause
