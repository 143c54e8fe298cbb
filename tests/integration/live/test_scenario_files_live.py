"""The scenario files of the failure stories, run unchanged on the live lab: every expectation holds for real.

Each runs on the wall clock for its full duration (about 13 minutes in all), as `python -m sandbox run
scenarios/NAME.toml --engine live` does; broker-cluster on three RabbitMQ nodes the lab starts itself.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from sandbox.catalog import load_scenario
from sandbox.engine import run_scenario
from sandbox.live.engine import LiveEngine
from sandbox.live.servers import START_RABBITMQ, LabUnavailable
from sandbox.model.commands import Restart
from tests.helpers import unavailable
from tests.integration.live.support import need_node_restart

pytestmark = pytest.mark.live

SCENARIOS = Path(__file__).resolve().parents[3] / "scenarios"
STORIES = ("user-down", "cache-worker-down", "consumer-crash", "broker-down", "poison-message",
           "broker-restart-durability", "broker-cluster", "email-once", "redis-blip-retry", "queue-full")


@pytest.mark.parametrize("name", STORIES)
def test_every_expectation_of_the_scenario_holds_on_the_live_lab(name):
    scenario = load_scenario(SCENARIOS / f"{name}.toml").on_live_clock()
    try:
        engine = LiveEngine(scenario)
    except LabUnavailable as exc:
        unavailable(str(exc), START_RABBITMQ)
    try:
        restarts_node = any(isinstance(a, Restart) and a.target == "broker" for a in scenario.timeline)
        if restarts_node:
            need_node_restart(engine)
        result = run_scenario(scenario, engine, scenario.seed)
    finally:
        engine.close()
    failed = [f"{v.expectation.describe(scenario.duration_s)}: observed {v.observed}"
              for v in result.verdicts if not v.passed]
    assert not failed, f"{name} on the live lab (notes: {result.notes}):\n" + "\n".join(failed)
    assert not result.notes, "every action of the story is one the lab can carry out"
