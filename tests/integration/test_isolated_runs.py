"""A run in a child process: the same verdicts and frames as at home, its errors in words, and a cap that holds."""

from __future__ import annotations

import time

import pytest

from sandbox.catalog import find_scenario
from sandbox.engine import RecordedEngine, RunTooLong, run_isolated, run_scenario
from tests.helpers import scenario


def test_an_isolated_run_gives_what_a_run_at_home_gives():
    s = find_scenario("consumer-crash")
    home, away = run_scenario(s), run_isolated(s)
    assert isinstance(away.engine, RecordedEngine)
    assert [(v.expectation, v.observed, v.passed) for v in away.verdicts] == [
        (v.expectation, v.observed, v.passed) for v in home.verdicts]
    assert away.engine.frames() == home.engine.frames()
    assert away.engine.log() == home.engine.log()
    assert away.engine.messages("manual-ack") == home.engine.messages("manual-ack")
    with pytest.raises(RuntimeError, match="its time does not move"):
        away.engine.advance(1)


def test_a_run_past_its_cap_is_stopped_and_says_so():
    s = scenario(duration=600, load={"reads_per_s": 480}, variants={"q": {"architecture": "queue"}})
    started = time.monotonic()
    with pytest.raises(RunTooLong, match=r"stopped after 2 s of wall-clock time, at \d+ s of 600 s"):
        run_isolated(s, wall_cap_s=2)
    assert time.monotonic() - started < 20


def test_a_lab_that_cannot_start_is_the_same_one_line_error_here(monkeypatch):
    from sandbox.live.errors import LabError

    monkeypatch.setenv("RABBITMQ_URL", "amqp://guest:guest@127.0.0.1:1/%2F")  # the child inherits it
    with pytest.raises(LabError, match="RabbitMQ"):
        run_isolated(scenario(duration=5), engine="live", wall_cap_s=30)
