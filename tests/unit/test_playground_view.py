"""The playground view's data: the message view, the difference cues, the guided run, a moment of the playground, and
the playground's clicks and history behind them."""

import pytest

from sandbox.model.commands import Heal, Kill, Revive
from sandbox.model.errors import ScenarioError
from sandbox.model.messages import SHOWN_PER_STATE, Letter, Letters
from sandbox.playground import HISTORY_S, Playground
from sandbox.present.differences import difference_cues
from sandbox.present.headlines import Headline
from sandbox.present.letters import LISTED_PER_STATE, age, mailbag, whereabouts
from sandbox.present.playground_view import view_command, view_data
from sandbox.present.tour import tour_step


def test_each_letter_says_where_it_is_and_why():
    assert whereabouts(Letter("m1", "ready", 4.2)) == "ready"
    assert whereabouts(Letter("m2", "ready", 4.2, deliveries=1)) == "ready, redelivered next"
    assert whereabouts(Letter("m3", "unacked", 1, deliveries=1, holder="worker 2")) == "held unacked by worker 2"
    assert whereabouts(Letter("m4", "unacked", 2, deliveries=375, holder="worker 1", poison=True)) == (
        "held unacked by worker 1 · delivery 375, redelivered")
    assert whereabouts(Letter("m5", "dead-lettered", 9, deliveries=4)) == "dead-lettered after 4 deliveries"
    assert whereabouts(Letter("m6", "lost", 9, cause="broker restart: transient queue")) == (
        "lost: broker restart: transient queue")
    assert whereabouts(Letter("m7", "in flight", 0.1)) == "on its way to the queue"
    assert whereabouts(Letter("m8", "outbox", 3)) == "in the author's outbox"
    assert [age(s) for s in (4.9, 125, 3725)] == ["4 s", "2 min 05 s", "1 h 02 min"]


def test_thousands_queued_list_a_few_and_count_them_all():
    ready = tuple(Letter(f"m{i}", "ready", 100 - i) for i in range(SHOWN_PER_STATE))
    bag = mailbag(Letters(counts={"outbox": 0, "in flight": 0, "ready": 4000, "unacked": 1, "dead-lettered": 0,
                                  "lost": 0},
                          shown=(*ready, Letter("m99", "unacked", 1, deliveries=1, holder="worker 1"))))
    states = {s["state"]: s for s in bag["states"]}
    assert list(states) == ["outbox", "in flight", "ready", "unacked", "dead-lettered", "lost"]
    assert states["ready"]["count"] == 4000 and states["ready"]["more"] == 4000 - LISTED_PER_STATE
    assert states["unacked"]["more"] == 0
    assert [letter["id"] for letter in bag["letters"]][:2] == ["m0", "m1"]
    assert len(bag["letters"]) == LISTED_PER_STATE + 1


def _tile(label: str, number: float | None, scale: str = "share", higher: bool = False) -> Headline:
    return Headline(label, "", None, "", number, scale, higher)  # type: ignore[arg-type]


def test_a_tile_worse_than_the_best_variant_says_by_how_much():
    tiles = {
        "sync": [_tile("reads ok", 0.0, higher=True), _tile("read p99", 2400.0, "ms"), _tile("queue depth", None,
                                                                                             "count")],
        "queue": [_tile("reads ok", 1.0, higher=True), _tile("read p99", 24.0, "ms"), _tile("queue depth", 37.0,
                                                                                            "count")],
        "queue-outbox": [_tile("reads ok", 0.98, higher=True), _tile("read p99", 30.0, "ms"),
                         _tile("queue depth", 0.0, "count")],
    }
    cues = difference_cues(tiles)
    assert cues["sync"] == {"reads ok": "−100 pts vs queue", "read p99": "100× slower than queue"}
    assert cues["queue"] == {"queue depth": "+37 vs queue-outbox"}
    assert cues["queue-outbox"] == {}  # 2 points and 1.25× are too small to point at


def test_the_guided_run_follows_what_was_recorded_and_waits_for_the_learner():
    assert tour_step([]) == 0
    assert tour_step([Kill("user", at=5, variant="sync")]) == 0  # only a kill in every variant counts
    killed = [Kill("user", at=5)]
    assert tour_step(killed) == 1  # however long ago: at 20x, 15 s of scenario time pass in under a second
    assert tour_step(killed, watched=True) == 2
    assert tour_step([*killed, Revive("user", at=8)]) == 3


def test_the_playground_keeps_every_second_of_the_last_two_minutes():
    pg = Playground()
    pg.speed = 20.0
    pg.tick(1.0)
    pg.act(Kill("user"))
    for _ in range(3):
        pg.tick(1.0)
    assert pg.now == 80
    assert pg.status_at(19)["sync"].components["user"].health == "up"
    assert pg.status_at(21)["sync"].components["user"].health == "down"
    pg.act(Revive("user"))
    for _ in range(4):
        pg.tick(1.0)
    assert pg.status_at(160 - HISTORY_S)["sync"].components["user"].health == "down"
    assert pg.status_at(19) == pg.engine.status()  # older than the window: now
    pg.set_knob("http.timeout_s", 1.0)
    assert pg.knobs("sync", at_s=100).http.timeout_s == 5.0 and pg.knobs("sync").http.timeout_s == 1.0


def test_a_moment_of_the_playground_and_an_earlier_one():
    pg = Playground()
    pg.speed = 5.0
    for _ in range(4):
        pg.tick(1.0)
    pg.act(Kill("user"))
    for _ in range(4):
        pg.tick(1.0)
    now = view_data(pg, HISTORY_S)
    assert (now["now_s"], now["shown_s"], now["scrubbed"], now["span"]) == (40.0, 40, False, [0, 40])
    sync = now["variants"][0]
    assert sync["marks"] == [{"t": 20.0, "n": "①", "text": "kill User Service"}]
    assert sync["bands"] == [{"start": 20.0, "end": 40.0, "kind": "down", "label": "kill User Service"}]
    assert next(b for b in sync["diagram"]["boxes"] if b["name"] == "user")["health"] == "down"
    errors = next(c for c in now["charts"] if c["key"] == "errors")
    assert errors["start"] == 0 and len(errors["values"]["sync"][0]) == 40
    before = view_data(pg, HISTORY_S, at_s=15, highlight=("reads ok",))
    assert before["scrubbed"] and before["shown_s"] == 15 and before["highlight"] == ["reads ok"]
    sync_then = before["variants"][0]
    assert next(b for b in sync_then["diagram"]["boxes"] if b["name"] == "user")["health"] == "up"
    assert sync_then["narration"]["text"].startswith("All well")
    assert before["charts"] == now["charts"]  # the charts stay; a cursor marks the second shown


def test_a_busy_second_is_one_mark_numbered_in_time_order():
    pg = Playground()
    pg.speed = 1.0
    for second in range(10):
        pg.act(Kill("user", variant="sync" if second % 2 else None))
        if second == 3:
            pg.act(Revive("user"))
            pg.act(Kill("user"))
        pg.tick(1.0)
    sync, queue = (v["marks"] for v in view_data(pg, HISTORY_S)["variants"])
    assert [m["t"] for m in sync] == [float(s) for s in range(10)]
    assert [m["t"] for m in queue] == [0.0, 2.0, 3.0, 4.0, 6.0, 8.0]  # the odd seconds were sync's only
    assert [m["n"] for m in sync] == list("①②③④⑤⑥⑦⑧⑨⑩")  # a chart shows the number; the legend the words
    kill = "kill User Service"
    assert [m["text"] for m in sync][:6] == [kill, f"{kill} [sync]", kill, f"{kill} (+2)", kill, f"{kill} [sync]"]
    assert [m["text"] for m in queue] == [kill, kill, f"{kill} (+1)", kill, kill, kill]


def test_faults_of_one_kind_that_touch_are_one_band():
    pg = Playground()
    pg.speed = 1.0
    for second in range(6):
        pg.act(Kill("user") if second % 2 == 0 else Revive("user"))
        if second == 4:
            pg.act(Kill("blog", variant="queue"))
        pg.tick(1.0)
    pg.act(Kill("user"))
    pg.act(Revive("user"))  # over as soon as it began: no band
    sync, queue = (v["bands"] for v in view_data(pg, HISTORY_S)["variants"])
    assert sync == [{"start": 0.0, "end": 1.0, "kind": "down", "label": "kill User Service"},
                    {"start": 2.0, "end": 3.0, "kind": "down", "label": "kill User Service"},
                    {"start": 4.0, "end": 5.0, "kind": "down", "label": "kill User Service"}]
    assert queue[-1] == {"start": 4.0, "end": 6.0, "kind": "down",
                         "label": "kill User Service; kill Blog Service [queue]"}


def test_a_fault_on_a_part_a_variant_lacks_is_neither_shaded_nor_marked_there():
    pg = Playground()
    pg.speed = 1.0
    pg.act(Kill("cache-worker"))  # every variant: sync has no cache-worker
    pg.tick(5.0)
    sync, queue = view_data(pg, HISTORY_S)["variants"]
    assert sync["bands"] == [] and sync["marks"] == []
    assert queue["bands"] == [{"start": 0.0, "end": 5.0, "kind": "down", "label": "kill cache-worker"}]
    assert [m["text"] for m in queue["marks"]] == ["kill cache-worker"]


@pytest.mark.parametrize("asked, shown", [(-5, 0), (999, 40)])
def test_a_moment_outside_the_window_is_its_nearest_edge(asked, shown):
    pg = Playground()
    pg.speed = 20.0
    pg.tick(1.0)
    pg.tick(1.0)
    assert view_data(pg, HISTORY_S, at_s=asked)["shown_s"] == shown


def test_recent_frames_computed_once_equal_the_engines_frames():
    pg = Playground(("sync", "queue", "queue-outbox"))
    pg.speed = 5.0
    for tick in range(30):
        pg.tick(1.0)
        if tick == 12:
            pg.act(Kill("user"))
        start, frames = pg.recent_frames(60)
        end = int(pg.now)
        assert start == max(0, end - 60)
        assert frames == [f for f in pg.engine.frames() if start <= f["t"] < end]


def test_a_click_in_the_view_asks_for_a_verb_on_a_part():
    assert view_command({"verb": "kill", "target": "user", "variant": None}, ["sync", "queue"]) == Kill("user")
    assert view_command({"verb": "heal", "target": "broker", "variant": "queue"}, ["sync", "queue"]) == Heal(
        "broker", variant="queue")
    for bad in ({"verb": "poison", "target": "user"}, {"verb": "kill", "target": "moon"},
                {"verb": "kill", "target": "user", "variant": "outbox"}):
        with pytest.raises(ScenarioError):
            view_command(bad, ["sync", "queue"])
