"""The playground page in AppTest: controls change the sandbox; a dead User Service cascades only in sync.

AppTest does not fire `run_every`, so these tests move time with the page's own "step 1 s" button."""

from sandbox.engine import run_scenario
from sandbox.model.scenario import parse_scenario_text
from sandbox.sim.engine import SimEngine
from tests.integration.ui.support import app, metric_values


def _step(at, seconds: int):
    for _ in range(seconds):
        at.button(key="step").click().run()
    assert not at.exception, at.exception
    return at


def test_killing_user_fails_sync_reads_and_leaves_queue_reads_healthy():
    at = _step(app(), 5)
    assert at.selectbox(key="target").value == "user"
    at.button(key="do_kill").click().run()
    _step(at, 15)
    sync_reads, queue_reads = metric_values(at, "reads ok")
    assert float(sync_reads.rstrip("%")) < 50
    assert queue_reads == "100.0%"
    labels = [m.label for m in at.metric if m.label.endswith("reads ok")]
    assert labels == ["🔴 reads ok", "🟢 reads ok"]
    log = "\n".join(c.value for c in at.code)
    assert "kill user" in log and "blog → user" in log


def test_controls_change_the_sandbox():
    at = app()
    pg = at.session_state["playground"]
    at.selectbox(key="knob_key").set_value("http.timeout_s").run()
    at.number_input(key="knob_value:http.timeout_s").set_value(0.25).run()
    at.selectbox(key="scope").set_value("sync").run()
    at.button(key="do_set").click().run()
    assert pg.knobs("sync").http.timeout_s == 0.25
    assert pg.knobs("queue").http.timeout_s == 5.0

    at.selectbox(key="scope").set_value("every variant").run()
    at.number_input(key="reads_per_s").set_value(45.0).run()
    at.button(key="do_load").click().run()
    assert pg.knobs("queue").load.reads_per_s == 45.0

    at.selectbox(key="target").set_value("cache-worker").run()
    at.button(key="do_kill").click().run()
    assert pg.engine.status()["queue"].components["cache-worker"].health == "down"
    assert any("no cache-worker in a sync variant" in i.value for i in at.info)
    at.button(key="heal_all").click().run()
    assert pg.engine.status()["queue"].components["cache-worker"].health == "up"

    at.segmented_control(key="speed").set_value("pause").run()
    assert pg.speed == 0
    assert [a.verb for a in pg.recorded] == ["set", "load", "kill", "revive"]


def test_choosing_variants_and_reset_starts_a_new_playground():
    at = app()
    at.multiselect(key="presets").set_value(["sync-guarded", "queue", "queue-outbox"]).run()
    at.button(key="reset").click().run()
    pg = at.session_state["playground"]
    assert [v.name for v in pg.variants] == ["sync-guarded", "queue", "queue-outbox"]
    assert len(metric_values(at, "reads ok")) == 3
    assert pg.knobs("sync-guarded").http.breaker is True


def test_a_recorded_session_saved_as_a_scenario_replays_to_the_same_frames():
    at = _step(app(), 3)
    at.button(key="do_kill").click().run()
    _step(at, 4)
    at.button(key="do_revive").click().run()
    _step(at, 3)
    assert at.download_button(key="save").label.endswith("save as scenario")
    pg = at.session_state["playground"]
    saved = parse_scenario_text(pg.recording_toml(), "playground.toml")
    assert [(a.at, a.verb, a.target) for a in saved.timeline] == [(3.0, "kill", "user"), (7.0, "revive", "user")]
    replay = run_scenario(saved, SimEngine(saved, saved.seed), saved.seed)
    assert replay.engine.frames() == pg.engine.frames()


def test_each_session_has_its_own_playground():
    first, second = app(), app()
    first.button(key="do_kill").click().run()
    _step(first, 2)
    assert second.session_state["playground"] is not first.session_state["playground"]
    assert second.session_state["playground"].recorded == []
    assert second.session_state["playground"].now == 0
