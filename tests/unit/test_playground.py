"""The playground session: actions recorded at their moment, replayed to the same frames."""

import pytest

from sandbox.engine import run_scenario
from sandbox.model.commands import Kill, Latency, Load
from sandbox.model.errors import ScenarioError
from sandbox.model.scenario import parse_scenario_text
from sandbox.playground import MAX_SCENARIO_S, Playground
from sandbox.sim.engine import SimEngine


def test_a_recording_replays_to_the_same_frames():
    pg = Playground(("sync", "queue-outbox"), seed=3)
    pg.speed = 5.0
    for _ in range(3):
        pg.tick(1.0)
    pg.act(Kill(target="user"))
    pg.set_knob("http.timeout_s", 0.5, "sync")
    pg.tick(1.0)
    pg.act(Kill(target="broker", variant="queue-outbox"))
    pg.act(Load(reads_per_s=40.0, writes_per_s=3.0))
    pg.speed = 1.0
    for _ in range(7):
        pg.tick(1.0)
    pg.heal_everything()
    pg.tick(1.0)

    replay = parse_scenario_text(pg.recording_toml(), "playground.toml")
    assert [a.verb for a in replay.timeline] == ["kill", "set", "kill", "load", "revive", "revive", "revive"]
    result = run_scenario(replay, SimEngine(replay, replay.seed), replay.seed)
    assert result.engine.frames() == pg.engine.frames()
    assert len(pg.engine.frames()) == 2 * 28  # 3 ticks at 5×, one more at 5×, then 8 at 1×


def test_heal_everything_revives_and_heals_only_what_is_broken():
    pg = Playground()
    pg.act(Kill(target="user"))
    pg.act(Latency(target="blog", ms=300, variant="queue"))
    pg.heal_everything()
    healed = {(a.verb, a.target, a.variant) for a in pg.recorded[2:]}
    assert healed == {("revive", "user", "sync"), ("revive", "user", "queue"), ("heal", "blog", "queue")}
    assert pg.engine.status()["queue"].components["blog"].latency_ms == 0
    assert pg.heal_everything() == []


def test_knobs_follow_recorded_changes_per_variant():
    pg = Playground()
    pg.set_knob("consumer.ack", "auto", "queue")
    pg.act(Load(reads_per_s=50.0))
    assert pg.knobs("queue").consumer.ack == "auto"
    assert pg.knobs("sync").consumer.ack == "manual"
    assert pg.knobs("sync").load.reads_per_s == 50.0


def test_a_bad_knob_value_is_refused_before_it_is_recorded():
    pg = Playground()
    with pytest.raises(ScenarioError, match="not allowed"):
        pg.set_knob("consumer.ack", "sometimes")
    assert pg.recorded == []


def test_pause_moves_no_time_and_the_playground_stops_at_its_limit():
    pg = Playground()
    pg.speed = 0.0
    assert pg.tick(1.0) == 0 and pg.now == 0
    pg.speed = 1.0
    pg.engine.advance(MAX_SCENARIO_S - 0.5)
    assert pg.tick(1.0) == pytest.approx(0.5)
    assert pg.at_limit and pg.tick(1.0) == 0


def test_idle_after_ten_minutes_without_input():
    pg = Playground()
    assert not pg.idle(1000.0)
    pg.touch(1000.0)
    assert not pg.idle(1599.0) and pg.idle(1600.0)


def test_recent_frames_cover_the_window_for_every_variant():
    pg = Playground(("sync", "queue", "queue-auto-ack"))
    pg.engine.advance(200)
    start, frames = pg.recent_frames(120)
    assert start == 80
    assert len(frames) == 3 * 120
    assert {f["variant"] for f in frames} == {"sync", "queue", "queue-auto-ack"}


def test_a_playground_compares_one_to_three_variants():
    with pytest.raises(ValueError):
        Playground(("sync", "queue", "queue-outbox", "queue-auto-ack"))
