"""The blog's directory of author names in the simulation: competing consumers break the order of user.updated,
a per-author version and single active consumer keep it."""

from __future__ import annotations

from sandbox.model.knobs import resolve
from sandbox.sim.directory import Directory, NameChange
from sandbox.sim.world import World

BURST = {"load.reads_per_s": 0, "load.writes_per_s": 0, "load.profile_updates_per_s": 100,
         "directory.work_ms": 30, "directory.consumers": 3, "directory.prefetch": 50, "directory.authors": 50}


def names(order: str, seed: int) -> Directory:
    """A 10 s burst of renames, then 50 s for everything in flight to land."""
    w = World("v", "queue", resolve(BURST | {"directory.order": order}), seed)
    assert w.names is not None
    w.advance_to(10)
    w.set_knob("load.profile_updates_per_s", 0)
    w.advance_to(60)
    assert not w.names.ready and not any(c.buffer for c in w.names.consumers), "everything was applied"
    return w.names


def test_competing_consumers_leave_old_names_for_good() -> None:
    wrong = [names("last-write", seed).wrong for seed in range(2, 7)]
    assert min(wrong) >= 2, wrong


def test_a_per_author_version_keeps_the_newest_name() -> None:
    for seed in range(2, 7):
        directory = names("version", seed)
        assert directory.wrong == 0 and directory.shown == directory.latest


def test_single_active_consumer_applies_in_order_on_one_consumer() -> None:
    for seed in range(2, 7):
        directory = names("single-active", seed)
        assert directory.wrong == 0
        assert len(directory.consumers) == 1 and directory.standing_by == 2


def test_one_consumer_with_prefetch_one_keeps_the_order() -> None:
    w = World("v", "queue", resolve(BURST | {"directory.consumers": 1, "directory.prefetch": 1}), 3)
    assert w.names is not None
    w.advance_to(10)
    w.set_knob("load.profile_updates_per_s", 0)
    w.advance_to(60)
    assert w.names.wrong == 0


def test_version_ignores_an_event_older_than_the_name_shown() -> None:
    w = World("v", "queue", resolve({"directory.order": "version"}), 1)
    directory = w.names
    assert directory is not None
    directory.apply(NameChange(7, 2))
    directory.apply(NameChange(7, 1))
    assert directory.shown[7] == 2
    w2 = World("v", "queue", resolve({}), 1)
    assert w2.names is not None
    w2.names.apply(NameChange(7, 2))
    w2.names.apply(NameChange(7, 1))
    assert w2.names.shown[7] == 1, "last-write: the older name lands last and stays"


def test_the_gauge_reads_the_directory_and_a_sync_world_has_none() -> None:
    w = World("v", "queue", resolve(BURST), 4)
    w.advance_to(10)
    w.set_knob("load.profile_updates_per_s", 0)
    w.advance_to(60)
    assert w.names is not None
    assert w.measurements.observe("names.wrong_last", 50, 60) == w.names.wrong
    assert World("s", "sync", resolve({}), 1).names is None
