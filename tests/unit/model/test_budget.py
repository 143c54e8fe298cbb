"""The work budget: a run that would simulate too many requests is refused before it starts."""

from __future__ import annotations

import pytest

from sandbox.catalog import load_scenario, scenario_paths
from sandbox.model.budget import MAX_REQUESTS, expected_requests
from sandbox.model.commands import Load, Set
from sandbox.model.errors import ScenarioError
from sandbox.model.knobs import resolve
from sandbox.playground import Playground
from tests.helpers import scenario


def test_requests_follow_every_rate_change_and_count_each_write_attempt():
    knobs = resolve({"load.reads_per_s": 10.0, "load.writes_per_s": 2.0, "client.retries": 2})
    timeline = [Load(reads_per_s=30.0, at=10), Set("load.writes_per_s", 0.0, at=20, variant="other"),
                Set("client.retries", 0, at=30)]
    # 0–10 s: 10 + 2·3; 10–30 s: 30 + 2·3; 30–40 s: 30 + 2·1
    assert expected_requests(knobs, timeline, "mine", 40) == pytest.approx(10 * 16 + 20 * 36 + 10 * 32)


def test_a_run_over_the_budget_is_refused_with_what_to_lower():
    with pytest.raises(ScenarioError, match=r"about 28,814,400 requests .* the most one run may is 300,000") as caught:
        scenario(duration=7200, load={"reads_per_s": 2000})
    assert caught.value.field == "load"


def test_a_load_spike_in_the_timeline_counts_too():
    with pytest.raises(ScenarioError, match="lower the rates or shorten the run"):
        scenario(duration=3600, timeline=[{"at": 60, "do": "load", "reads_per_s": 2000}])


def test_every_shipped_scenario_fits_the_budget_with_room_to_spare():
    for path in scenario_paths():
        s = load_scenario(path)
        asked = sum(expected_requests(s.knobs_for(v), s.timeline, v.name, s.duration_s) for v in s.variants)
        assert asked < MAX_REQUESTS / 4, path.stem


def test_the_playground_stops_when_it_has_done_the_work_one_run_may():
    pg = Playground(knobs={"load.reads_per_s": 2000.0, "load.writes_per_s": 0.0})
    pg.speed = 20.0
    assert pg.limit_reason is None
    pg.requests = MAX_REQUESTS - 1
    pg.tick(1.0)
    assert pg.at_limit and "300,000 requests" in (pg.limit_reason or "")
    now = pg.now
    assert pg.tick(1.0) == 0 and pg.now == now
