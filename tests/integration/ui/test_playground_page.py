"""The playground page in AppTest: controls change the sandbox, and the playground view's data tells the story.

AppTest does not fire `run_every` fragments, so these tests move time with the page's own "step 1 s" button and read
what the playground view component was given to draw."""

from types import SimpleNamespace

from sandbox.engine import run_scenario
from sandbox.model.scenario import parse_scenario_text
from sandbox.present.charts import PANEL_KEYS
from sandbox.sim.engine import SimEngine
from sandbox.teach.lessons import load_lessons
from sandbox.ui import session
from tests.integration.ui.support import app, step, tile, variant_view, view_data


def _part(at, variant: str, name: str) -> dict:
    return next(b for b in variant_view(at, variant)["diagram"]["boxes"] if b["name"] == name)


def test_killing_user_fails_sync_reads_and_leaves_queue_reads_healthy():
    at = step(app(), 5)
    assert at.selectbox(key="target").value == "user"
    at.button(key="do_kill").click().run()
    step(at, 15)
    sync, queue = tile(at, "sync", "reads ok"), tile(at, "queue", "reads ok")
    assert float(sync["value"].rstrip("%")) < 50 and sync["tone"] == "bad"
    assert queue["value"] == "100.0%" and queue["tone"] == "ok"
    assert sync["cue"].startswith("−") and sync["cue"].endswith("pts vs queue") and queue["cue"] == ""
    assert _part(at, "sync", "user")["health"] == "down"
    story = variant_view(at, "sync")["narration"]
    assert story["tone"] == "bad" and story["text"].startswith("The User Service is down: a read that misses the cache")
    queue_story = variant_view(at, "queue")["narration"]
    assert queue_story["tone"] == "ok" and "no read or write waits on it here" in queue_story["text"]
    log = "\n".join(words for _, _, words in view_data(at)["log"])
    assert "kill user" in log and "blog → user" in log


def test_every_chart_has_one_y_domain_for_all_variants():
    at = app()
    at.button(key="do_kill").click().run()
    step(at, 12)
    charts = view_data(at)["charts"]
    assert [c["key"] for c in charts] == list(PANEL_KEYS)
    for chart in charts:
        low, high = chart["domain"]
        assert set(chart["values"]) == {"sync", "queue"}
        for series in (s for values in chart["values"].values() for s in values):
            assert all(low <= v <= high for v in series if v is not None and not (chart["log"] and v <= 0)), chart
    errors = next(c for c in charts if c["key"] == "errors")
    assert errors["domain"] == [0.0, 100.0] and errors["heading"] == "failed requests (%, each second)"


def test_controls_change_the_sandbox():
    at = app()
    pg = at.session_state["playground"]
    assert not at.sidebar.number_input  # the everyday faults only, until more is asked for
    at.toggle(key="more_controls").set_value(True).run()
    at.selectbox(key="knob_key").set_value("http.timeout_s").run()
    timeout = at.number_input(key="knob_value:http.timeout_s")
    assert timeout.label == "service-to-service HTTP: timeout (s)" and (timeout.min, timeout.max) == (0.0, 600.0)
    assert "0 to 600 s" in timeout.help
    timeout.set_value(0.25).run()
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
    assert any("no cache-worker in a sync variant" in t.value for t in at.toast)
    at.button(key="heal_all").click().run()
    assert pg.engine.status()["queue"].components["cache-worker"].health == "up"

    at.segmented_control(key="speed").set_value("pause").run()
    assert pg.speed == 0
    assert [a.verb for a in pg.recorded] == ["set", "load", "kill", "revive"]


def test_each_click_is_recorded_once():
    at = app()
    for button in ("do_kill", "do_revive", "do_kill", "do_hang", "do_heal", "do_revive"):
        at.button(key=button).click().run()
        at.run()  # a run the click did not cause applies nothing
    pg = at.session_state["playground"]
    assert [a.verb for a in pg.recorded] == ["kill", "revive", "kill", "hang", "heal", "revive"]
    [mark] = variant_view(at, "sync")["marks"]  # all at 0 s: one line, the last action's words and how many more
    assert mark == {"t": 0.0, "n": "①", "text": "revive User Service (+5)"}


def test_a_click_a_timers_fragment_run_also_hears_is_applied_by_the_pages_run_only(monkeypatch):
    calls = []
    once = session.page_click(lambda verb: calls.append(verb))
    monkeypatch.setattr(session, "get_script_run_ctx", lambda: SimpleNamespace(fragment_ids_this_run=["live"]))
    once("kill")
    monkeypatch.setattr(session, "get_script_run_ctx", lambda: SimpleNamespace(fragment_ids_this_run=None))
    once("kill")
    assert calls == ["kill"]


def test_a_variant_change_says_how_it_applies_and_restart_applies_it():
    at = app()
    at.multiselect(key="presets").set_value(["sync-guarded", "queue", "queue-outbox"]).run()
    assert [v["name"] for v in view_data(at)["variants"]] == ["sync", "queue"]  # not yet
    assert any("applies when you restart" in c.value for c in at.caption)
    at.button(key="reset").click().run()
    pg = at.session_state["playground"]
    assert [v.name for v in pg.variants] == ["sync-guarded", "queue", "queue-outbox"]
    assert [v["title"] for v in view_data(at)["variants"]] == ["sync-guarded", "queue", "queue-outbox"]
    assert pg.knobs("sync-guarded").http.breaker is True
    assert not any("applies when you restart" in c.value for c in at.caption)


def test_the_message_view_counts_what_the_queue_metrics_count_after_a_cache_worker_kill():
    at = step(app(), 3)
    at.selectbox(key="target").set_value("cache-worker").run()
    at.button(key="do_kill").click().run()
    step(at, 20)
    pg = at.session_state["playground"]
    mail = variant_view(at, "queue")["messages"]
    counts = {s["state"]: s["count"] for s in mail["states"]}
    last = pg.engine.measurements("queue").frames()[-1]
    assert counts["ready"] == last["queue.ready"] > 5
    assert counts["unacked"] == last["queue.unacked"]
    assert _part(at, "queue", "broker")["lines"][0] == f"{counts['ready']} ready · {counts['unacked']} unacked"
    ready = [letter for letter in mail["letters"] if letter["state"] == "ready"]
    assert ready and all(letter["where"] == "ready" and letter["id"].startswith("m") for letter in ready)
    assert variant_view(at, "sync")["messages"] is None
    assert variant_view(at, "queue")["narration"]["text"].startswith(
        f"The cache-worker is down: {counts['ready'] + counts['unacked']} invalidations wait in the queue")


def test_a_poison_message_can_be_followed_as_it_bounces():
    at = step(app(), 2)
    at.toggle(key="more_controls").set_value(True).run()
    at.number_input(key="poison_count").set_value(1).run()
    at.button(key="do_poison").click().run()
    step(at, 2)
    [poison] = [letter for letter in variant_view(at, "queue")["messages"]["letters"] if letter["poison"]]
    assert poison["deliveries"] > 1 and poison["where"].startswith("held unacked by worker 1 · delivery ")
    assert poison["where"].endswith("redelivered")
    first_id, first_deliveries = poison["id"], poison["deliveries"]
    step(at, 1)
    [later] = [letter for letter in variant_view(at, "queue")["messages"]["letters"] if letter["poison"]]
    assert later["id"] == first_id and later["deliveries"] > first_deliveries
    story = variant_view(at, "queue")["narration"]["text"]
    assert story.startswith("The same 1 message keeps coming back") and "— poison" in story


def test_a_paused_playground_scrubs_back_over_its_last_seconds():
    at = app()
    at.segmented_control(key="speed").set_value("pause").run()
    step(at, 20)
    at.button(key="do_kill").click().run()
    step(at, 15)
    assert _part(at, "sync", "user")["health"] == "down"
    at.select_slider(key="scrub_s").set_value(15).run()
    view = view_data(at)
    assert view["scrubbed"] and view["shown_s"] == 15 and view["now_s"] == 35
    assert _part(at, "sync", "user")["health"] == "up"
    assert tile(at, "sync", "reads ok")["value"] == "100.0%"
    assert not any("kill" in words for _, _, words in view["log"])
    at.select_slider(key="scrub_s").set_value(35).run()
    assert not view_data(at)["scrubbed"] and _part(at, "sync", "user")["health"] == "down"


def test_the_guided_first_run_goes_from_the_kill_to_lesson_one():
    at = app()
    pg = at.session_state["playground"]
    assert "1/4 · Kill the User Service" in at.markdown[1].value
    at.button(key="tour_kill").click().run()
    step(at, 2)
    assert view_data(at)["highlight"] == ["reads ok"]
    at.button(key="tour_next").click().run()
    assert view_data(at)["highlight"] == []
    at.button(key="tour_revive").click().run()
    assert [(a.verb, a.target, a.variant) for a in pg.recorded] == [("kill", "user", None), ("revive", "user", None)]
    at.button(key="tour_lesson").click().run()
    assert not at.exception, at.exception
    assert at.header[0].value == load_lessons()[0].title
    assert not at.session_state["tour"]["open"]


def test_a_refresh_finds_the_same_playground():
    first = step(app(), 2)
    first.button(key="do_kill").click().run()
    token = first.query_params["pg"]
    again = app(pg=token, tour="done")
    assert again.session_state["playground"] is first.session_state["playground"]
    assert view_data(again)["now_s"] == 2.0
    assert not any("First run" in m.value for m in again.markdown)  # the tour was done in this tab
    stranger = app(pg="not-a-playground")
    assert stranger.session_state["playground"].recorded == []


def test_a_recorded_session_saved_as_a_scenario_replays_to_the_same_frames():
    at = step(app(), 3)
    at.button(key="do_kill").click().run()
    step(at, 4)
    at.button(key="do_revive").click().run()
    step(at, 3)
    assert at.download_button(key="save").label.endswith("save as scenario")
    pg = at.session_state["playground"]
    saved = parse_scenario_text(pg.recording_toml(), "playground.toml")
    assert [(a.at, a.verb, a.target) for a in saved.timeline] == [(3.0, "kill", "user"), (7.0, "revive", "user")]
    replay = run_scenario(saved, SimEngine(saved, saved.seed), saved.seed)
    assert replay.engine.frames() == pg.engine.frames()


def test_each_session_has_its_own_playground():
    first, second = app(), app()
    first.button(key="do_kill").click().run()
    step(first, 2)
    assert second.session_state["playground"] is not first.session_state["playground"]
    assert second.session_state["playground"].recorded == []
    assert second.session_state["playground"].now == 0
