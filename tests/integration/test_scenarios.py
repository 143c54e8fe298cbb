"""The shipped scenarios: each loads, explains itself, and every claim it makes holds on the simulation."""

from __future__ import annotations

import pytest

from sandbox.catalog import load_scenario, scenario_paths
from tests.helpers import run

PATHS = scenario_paths()

# The stories the foundation promises (issue: "at least 10 scenarios").
REQUIRED = {
    "happy-path", "user-down", "user-slow", "blog-down-during-writes", "cache-worker-down", "traffic-spike",
    "rolling-deploy", "broker-down", "consumer-crash", "poison-message", "retry-storm",
}


def test_every_promised_story_has_a_scenario():
    assert {p.stem for p in PATHS} >= REQUIRED


@pytest.mark.parametrize("path", PATHS, ids=[p.stem for p in PATHS])
def test_the_scenario_explains_itself(path):
    s = load_scenario(path)
    assert s.id == path.stem
    assert s.title and s.summary
    assert s.expectations, "a scenario states what it demonstrates"
    for e in s.expectations:
        assert len(e.why) > 20, f"{e.describe(s.duration_s)} needs a why"
    assert len({v.architecture for v in s.variants}) > 1 or len(s.variants) > 1, "a scenario compares"


@pytest.mark.parametrize("path", PATHS, ids=[p.stem for p in PATHS])
def test_every_expectation_holds(path):
    result = run(load_scenario(path))
    failed = [f"{v.expectation.describe(result.scenario.duration_s)}: observed {v.observed}"
              for v in result.verdicts if not v.passed]
    assert not failed
