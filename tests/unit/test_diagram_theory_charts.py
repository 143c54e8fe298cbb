"""The page's pure parts: the topology diagram, the queueing-theory hint, the chart specs, the tiles."""

import math

from sandbox.model.commands import Hang, Kill, Load, Set
from sandbox.model.periods import Period
from sandbox.model.theory import PoolLoad, pool_loads
from sandbox.playground import Playground
from sandbox.present.charts import (
    PANEL_KEYS,
    PANELS,
    moment_layers,
    moments_legend,
    nice_ceiling,
    panel,
    panel_rows,
    shaded_periods,
    variant_specs,
    y_domain,
)
from sandbox.present.diagram import HEALTH_COLOURS, topology
from sandbox.present.headlines import headlines


def _broken_playground() -> Playground:
    pg = Playground()
    pg.engine.advance(10)
    pg.act(Kill(target="user"))
    pg.engine.advance(10)
    return pg


def _boxes(status) -> dict[str, dict]:
    return {box["name"]: box for box in topology(status)["boxes"]}


def _arrows(status) -> dict[tuple[str, str], dict]:
    return {(a["source"], a["target"]): a for a in topology(status)["arrows"]}


def test_the_diagram_shows_a_dead_service_down_and_parts_a_variant_lacks_as_absent():
    status = _broken_playground().engine.status()
    sync = _boxes(status["sync"])
    assert sync["user"]["health"] == "down" and "DOWN" in sync["user"]["lines"]
    assert sync["broker"]["health"] == "absent" and sync["broker"]["lines"] == ("not in sync",)
    reads = _arrows(status["sync"])[("client", "blog")]
    assert reads["label"][1].endswith("% fail") and reads["colour"] == HEALTH_COLOURS["down"][1]
    assert reads["dots"] >= 1 and reads["failed_dots"] == reads["dots"]  # every read fails: every dot is red
    assert ("blog", "user") in _arrows(status["sync"])


def test_a_fault_on_a_part_a_variant_lacks_is_not_shaded_on_its_charts():
    timeline = [Kill("cache-worker", at=5), Kill("user", at=10)]
    periods = shaded_periods(timeline, _broken_playground().engine.status())
    assert [p.target for p in periods["sync"]] == ["user"]
    assert [p.target for p in periods["queue"]] == ["cache-worker", "user"]


def test_every_part_sits_in_the_same_place_in_every_variant():
    status = Playground(("sync", "queue", "queue-outbox")).engine.status()
    places = [{name: (b["x"], b["y"], b["w"], b["h"]) for name, b in _boxes(s).items()} for s in status.values()]
    assert places[0] == places[1] == places[2]
    assert set(places[0]) == {"client", "author", "blog", "user", "broker", "cache-worker", "redis", "database"}


def test_the_queue_diagram_shows_the_queue_depth_and_dots_in_proportion_to_traffic():
    pg = Playground(knobs={"load.reads_per_s": 40.0})
    pg.act(Kill(target="cache-worker"))
    pg.engine.advance(20)
    queue = pg.engine.status()["queue"]
    assert _boxes(queue)["broker"]["lines"][0] == f"{queue.queue_ready} ready · 0 unacked" and queue.queue_ready > 0
    arrows = _arrows(queue)
    assert ("author", "broker") in arrows and ("author", "blog") not in arrows
    assert ("user", "broker") not in arrows  # profile updates carry no traffic here: their arrows are not drawn
    calls = {(e.source, e.target): e.calls_per_s for e in queue.edges}
    for key, arrow in arrows.items():  # one dot per 10 calls/s, at least one while calls flow, at most 4
        assert arrow["dots"] == min(4, math.ceil(calls.get(key, 0) / 10)), key
    assert arrows[("client", "blog")]["dots"] == 4 and arrows[("broker", "cache-worker")]["dots"] == 0


def _loads(pg: Playground, variant: str) -> list[PoolLoad]:
    """Queueing theory's load on each pool of `variant`, from its knobs and faults now."""
    return pool_loads(pg.knobs(variant), pg.engine.status()[variant])


def test_theory_predicts_a_saturated_pool_when_the_user_service_hangs():
    pg = Playground()
    pg.act(Load(reads_per_s=40.0))
    pg.act(Hang(target="user"))
    pg.act(Set(key="http.timeout_s", value=5.0))
    pg.engine.advance(30)
    loads = {load.service: load for load in _loads(pg, "sync")}
    assert loads["blog"].utilisation >= 1 and "growing line" in loads["blog"].explain()
    queue_loads = {load.service: load for load in _loads(pg, "queue")}
    assert queue_loads["blog"].utilisation < 0.2
    assert pg.engine.status()["sync"].components["blog"].health == "saturated"


def test_theory_with_no_timeout_calls_the_hold_infinite():
    pg = Playground()
    pg.act(Hang(target="user"))
    pg.act(Set(key="http.timeout_s", value=0.0))
    pg.engine.advance(20)
    blog = next(load for load in _loads(pg, "sync") if load.service == "blog")
    assert math.isinf(blog.hold_ms) and "∞" in blog.explain()


def test_a_healthy_default_flow_is_lightly_loaded():
    pg = Playground()
    pg.engine.advance(20)
    for load in _loads(pg, "sync"):
        assert load.utilisation < 0.2, load.explain()


def test_panel_rows_skip_unmeasured_seconds_and_draw_each_second_at_its_end():
    frames = [{"t": 0, "read.ok": 9, "read.errors": 1, "write.ok": 0, "write.errors": 0}]
    rows = panel_rows(frames, panel("errors"))
    assert rows == [{"t": 1, "series": "failed reads", "value": 10.0, "source": "measured"}]


def _y(spec: dict) -> list[float]:
    return next(layer["encoding"]["y"]["scale"] for layer in spec["layer"] if layer["mark"]["type"] == "line")


def test_every_variant_of_a_panel_shares_one_y_domain_and_draws_steps():
    pg = _broken_playground()
    _, frames = pg.recent_frames(60)
    periods = {"sync": [Period("user", "down", 10, None, "kill user"), Period("blog", "down", 100, 110, "later")]}
    for key in PANEL_KEYS:
        specs = variant_specs(frames, ["sync", "queue"], key, (0, 20), periods, [(10, "kill user")])
        assert _y(specs["sync"]) == _y(specs["queue"]), key
        line = specs["queue"]["layer"][-1]
        assert line["mark"]["interpolate"] == "step-before"
    latency = variant_specs(frames, ["sync", "queue"], "latency", (0, 20), periods)
    assert _y(latency["sync"])["type"] == "log"
    errors = variant_specs(frames, ["sync", "queue"], "errors", (0, 20), periods, [(10, "kill user")])
    assert _y(errors["queue"])["domain"] == [0.0, 100.0]  # a queue that never fails still reads 0–100%
    bands, rule, *labels, _ = errors["sync"]["layer"]
    assert bands["data"]["values"] == [{"start": 10, "end": 20, "fault": "kill user", "kind": "down"}]
    moment = {"t": 10, "what": "① kill user", "n": "①", "row": 0, "late": False}
    assert rule["data"]["values"] == [moment]
    # the chart carries the moment's number only; its words are in the tooltip and in the page's legend
    assert [(layer["encoding"]["text"], layer["data"]["values"]) for layer in labels] == [({"field": "n"}, [moment])]
    assert moments_legend([(10, "kill user"), (30, "revive user"), (99, "later")], (0, 60)) == (
        "① 10 s kill user · ② 30 s revive user")
    assert errors["queue"]["layer"][0]["mark"]["type"] == "rule"  # no fault on queue's side: no band


def test_a_moment_near_the_right_edge_is_numbered_on_its_left_so_it_stays_inside():
    layers = moment_layers([(5, "kill user"), (59, "revive user")], (0, 60))
    sides = {layer["data"]["values"][0]["t"]: layer["mark"]["align"] for layer in layers[1:]}
    assert sides == {5: "left", 59: "right"}
    assert all(layer["encoding"]["text"] == {"field": "n"} for layer in layers[1:])


def test_moments_too_close_for_their_numbers_take_the_second_row_then_none():
    layers = moment_layers([(10, "kill user"), (11, "revive user"), (12, "kill user"), (40, "hang user")], (0, 100))
    rows = {row["n"]: row["row"] for row in layers[0]["data"]["values"]}
    assert rows == {"①": 0, "②": 1, "③": None, "④": 0}  # ③ keeps its line and tooltip, and the legend its words
    labelled = [row["n"] for layer in layers[1:] for row in layer["data"]["values"]]
    assert sorted(labelled) == ["①", "②", "④"]


def test_a_prediction_counts_in_the_shared_domain_and_is_dashed():
    frames = [{"t": 0, "variant": "sync", "queue.ready": 3, "queue.unacked": 0, "outbox.pending": 0}]
    predicted = [{"t": 0, "variant": "sync", "queue.ready": 140, "queue.unacked": 0, "outbox.pending": 0}]
    spec = variant_specs(frames, ["sync"], "queue", (0, 10), {}, prediction=predicted)["sync"]
    assert _y(spec)["domain"] == [0.0, 200.0]
    assert {row["source"] for row in spec["layer"][-1]["data"]["values"]} == {"lab", "simulation"}
    assert "strokeDash" in spec["layer"][-1]["encoding"]


def test_y_domains_read_well_and_each_panel_has_one_unit():
    assert [nice_ceiling(v) for v in (0, 0.4, 1, 3, 10, 11, 60, 450, 5001)] == [1, 1, 1, 5, 10, 20, 100, 500, 10000]
    latency = panel("latency")
    fast = [{"read.p50_ms": 3.0, "read.p99_ms": 40.0, "write.p99_ms": 20.0}]
    slow = [{"read.p50_ms": 900.0, "read.p99_ms": 2400.0, "write.p99_ms": 30.0}]
    assert y_domain(latency, [fast]) == (1.0, 100.0)
    assert y_domain(latency, [fast, slow]) == (1.0, 10000.0)
    assert y_domain(panel("stale"), [[]]) == (0.0, 1.0)
    assert {p.unit for p in PANELS} == {"%", "ms", "messages", "s", "reads/s"}
    assert panel("staleness").heading == "oldest unapplied write (s, each second)"
    assert [s.name for s in panel("queue").series] == ["ready messages", "unacked messages", "outbox rows"]


def test_tiles_turn_red_for_failing_sync_reads_and_stay_green_for_queue_reads():
    pg = _broken_playground()
    status = pg.engine.status()
    tiles = {v: {h.label: h for h in headlines(pg.engine.measurements(v), status[v], pg.now)}
             for v in ("sync", "queue")}
    assert tiles["sync"]["reads ok"].healthy is False
    assert tiles["sync"]["read p99"].healthy is None  # refusals are fast: a low p99 is no comfort here
    assert tiles["queue"]["read p99"].healthy is True
    assert tiles["queue"]["reads ok"].healthy is True and tiles["queue"]["reads ok"].value == "100.0%"
    assert tiles["sync"]["queue depth"].value == "–" and tiles["sync"]["queue depth"].number is None
    assert tiles["sync"]["queue depth"].help == "no queue in sync"
    assert tiles["queue"]["messages lost"].value == "0"
