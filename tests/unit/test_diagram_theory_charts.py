"""The page's pure parts: the topology diagram, the queueing-theory hint, the chart specs, the tiles."""

import math

from sandbox.model.commands import Hang, Kill, Load, Set
from sandbox.model.periods import Period
from sandbox.playground import Playground
from sandbox.present.charts import PANEL_KEYS, panel, panel_rows, panel_spec
from sandbox.present.diagram import HEALTH_COLOURS, topology_dot
from sandbox.present.headlines import headlines


def _broken_playground() -> Playground:
    pg = Playground()
    pg.engine.advance(10)
    pg.act(Kill(target="user"))
    pg.engine.advance(10)
    return pg


def test_the_diagram_colours_a_dead_service_red_and_shows_absent_parts_dashed():
    status = _broken_playground().engine.status()
    dot = topology_dot(status["sync"])
    user_line = next(line for line in dot.splitlines() if line.strip().startswith('"user" ['))
    assert HEALTH_COLOURS["down"][0] in user_line and "DOWN" in user_line
    broker_line = next(line for line in dot.splitlines() if line.strip().startswith('"broker" ['))
    assert "dashed" in broker_line and "not in this variant" in broker_line
    assert '"blog" -> "user"' in dot


def test_the_queue_diagram_shows_the_queue_depth_and_failed_calls():
    pg = Playground()
    pg.act(Kill(target="cache-worker"))
    pg.engine.advance(20)
    queue = pg.engine.status()["queue"]
    dot = topology_dot(queue)
    assert f"{queue.queue_ready} ready" in dot and queue.queue_ready > 0
    assert '"author" -> "broker"' in dot and '"author" -> "blog"' not in dot
    sync_dot = topology_dot(_broken_playground().engine.status()["sync"])
    assert "failed" in sync_dot  # client -> blog: reads fail while user is down


def test_theory_predicts_a_saturated_pool_when_the_user_service_hangs():
    pg = Playground()
    pg.act(Load(reads_per_s=40.0))
    pg.act(Hang(target="user"))
    pg.act(Set(key="http.timeout_s", value=5.0))
    pg.engine.advance(30)
    loads = {load.service: load for load in pg.predicted_loads("sync")}
    assert loads["blog"].utilisation >= 1 and "growing line" in loads["blog"].explain()
    queue_loads = {load.service: load for load in pg.predicted_loads("queue")}
    assert queue_loads["blog"].utilisation < 0.2
    assert pg.engine.status()["sync"].components["blog"].health == "saturated"


def test_theory_with_no_timeout_calls_the_hold_infinite():
    pg = Playground()
    pg.act(Hang(target="user"))
    pg.act(Set(key="http.timeout_s", value=0.0))
    pg.engine.advance(20)
    blog = next(load for load in pg.predicted_loads("sync") if load.service == "blog")
    assert math.isinf(blog.hold_ms) and "∞" in blog.explain()


def test_a_healthy_default_flow_is_lightly_loaded():
    pg = Playground()
    pg.engine.advance(20)
    for load in pg.predicted_loads("sync"):
        assert load.utilisation < 0.2, load.explain()


def test_panel_rows_skip_unmeasured_seconds_and_draw_each_second_at_its_end():
    frames = [{"t": 0, "read.ok": 9, "read.errors": 1, "write.ok": 0, "write.errors": 0}]
    rows = panel_rows(frames, panel("errors"))
    assert rows == [{"t": 1, "series": "reads", "value": 10.0, "source": "measured"}]


def test_panel_spec_shades_faults_inside_the_window_and_overlays_a_prediction():
    pg = _broken_playground()
    _, frames = pg.recent_frames(60)
    sync = [f for f in frames if f["variant"] == "sync"]
    periods = [Period("user", "down", 10, None, "kill user"), Period("blog", "down", 100, 110, "later")]
    spec = panel_spec(sync, "errors", (0, 20), periods, [(10, "kill user")], prediction=sync)
    bands, rules, lines = spec["layer"]
    assert bands["data"]["values"] == [{"start": 10, "end": 20, "fault": "kill user", "kind": "down"}]
    assert rules["data"]["values"] == [{"t": 10, "what": "kill user"}]
    assert {row["source"] for row in lines["data"]["values"]} == {"lab", "simulation"}
    assert "strokeDash" in lines["encoding"]
    assert set(PANEL_KEYS) == {"latency", "errors", "queue", "staleness"}


def test_tiles_turn_red_for_failing_sync_reads_and_stay_green_for_queue_reads():
    pg = _broken_playground()
    status = pg.engine.status()
    tiles = {v: {h.label: h for h in headlines(pg.engine.measurements(v), status[v], pg.now)}
             for v in ("sync", "queue")}
    assert tiles["sync"]["reads ok"].healthy is False
    assert tiles["sync"]["read p99"].healthy is None  # refusals are fast: a low p99 is no comfort here
    assert tiles["queue"]["read p99"].healthy is True
    assert tiles["queue"]["reads ok"].healthy is True and tiles["queue"]["reads ok"].value == "100.0%"
    assert tiles["sync"]["queue depth"].value == "no queue"
    assert tiles["queue"]["messages lost"].value == "0"
