"""grade --engine live: every task's reference passes on real RabbitMQ, Redis and SQLite with real consumer
processes (a crash is a real SIGKILL), a wrong handler fails there with the invariant the simulation names, and a
run leaves nothing behind (its queues, its Redis keys, its processes)."""

from __future__ import annotations

import httpx
import pika
import pytest
import redis

from sandbox.grade.live import grade_live
from sandbox.grade.tasks import find_task, load_tasks
from tests.helpers import MANAGEMENT_URL, RABBITMQ_URL, REDIS_URL, one_at_a_time
from tests.integration.live.support import rabbit_channel

pytestmark = pytest.mark.live


@pytest.fixture(autouse=True)
def no_other_grade_run():
    """The last test counts every grade run's queues on the broker: no test of this module overlaps another."""
    with one_at_a_time("grade-live"):
        yield


def _grade_queues() -> list[str]:
    """The grade runs' queues the broker has now, from its management API."""
    credentials = pika.URLParameters(RABBITMQ_URL).credentials
    answer = httpx.get(f"{MANAGEMENT_URL}/api/queues", auth=(credentials.username, credentials.password),
                       timeout=5.0, trust_env=False)
    answer.raise_for_status()
    return [queue["name"] for queue in answer.json() if queue["name"].startswith("grade-")]


@pytest.mark.parametrize("task_id", [task.id for task in load_tasks()])
def test_the_reference_passes_on_the_live_lab(task_id: str) -> None:
    rabbit_channel()[0].close()  # skip (or fail, in CI) without a broker
    task = find_task(task_id)
    report = grade_live(task, task.reference, [1], "reference.py")
    assert not report.stopped, report.stopped
    failing = {v.invariant: v.detail for v in report.verdicts if not v.held}
    assert report.passed, failing


def test_a_handler_without_dedup_sends_twice_on_the_live_lab_and_leaves_nothing_behind() -> None:
    rabbit_channel()[0].close()  # skip (or fail, in CI) without a broker
    task = find_task("email-once")
    report = grade_live(task, task.start, [1], "start.py")
    assert "none-applied-twice" in report.failing_seeds, report.verdicts
    counter = report.counterexample
    assert counter is not None and counter.invariant == "none-applied-twice"
    kinds = [event.kind for event in counter.events]
    assert "crash" in kinds and any("(SIGKILL)" in event.words for event in counter.events), kinds
    assert any("redelivered=True" in event.words for event in counter.events), "RabbitMQ flags the redelivery"
    assert not _grade_queues(), "the run deletes its queues"
    client = redis.Redis.from_url(REDIS_URL)
    assert not list(client.scan_iter(match="grade-*")), "the run deletes its Redis keys"
    client.close()
