"""The live message view from a reading: exact counts as read, and the letters the lab can see one by one."""

from __future__ import annotations

import threading

from sandbox.live.letters import letters
from sandbox.live.meter import Reading
from sandbox.live.services.service import InjectedFaults
from sandbox.live.store import OutboxRow
from sandbox.model import losses
from sandbox.model.messages import SHOWN_PER_STATE, Letters

COUNTS = {"outbox": 2, "in flight": 1, "ready": 40, "unacked": 3, "dead-lettered": 1, "lost": 2}


def reading(auto_ack: bool = False) -> Reading:
    held = ({"id": "post-7", "deliveries": 1, "lane": 1, "published_at": 990.0},
            {"id": "poison-1", "deliveries": 3, "lane": 2, "published_at": 995.0},
            {"id": "tag 4", "deliveries": 2, "lane": 1, "published_at": None})
    rows = (OutboxRow(11, b"{}", 999.5), OutboxRow(12, b"{}", 999.75))
    return Reading(second=9, at=1000.0, counts=COUNTS, held=held, outbox_rows=rows, auto_ack=auto_ack)


def test_the_counts_are_the_reading_s_and_ready_messages_are_counted_never_listed():
    view = letters(reading(), [])
    assert view.counts == COUNTS
    assert view.of("ready") == [] and view.of("dead-lettered") == []


def test_held_messages_are_unacked_letters_with_their_holder_deliveries_and_age():
    unacked = letters(reading(), []).of("unacked")
    assert [(x.id, x.holder, x.deliveries, x.age_s, x.poison) for x in unacked] == [
        ("post-7", "worker 1", 1, 10.0, False), ("poison-1", "worker 2", 3, 5.0, True), ("tag 4", "worker 1", 2, 0.0,
                                                                                        False)]
    assert unacked[1].redelivered


def test_with_auto_ack_what_the_worker_holds_is_in_flight():
    view = letters(reading(auto_ack=True), [])
    assert view.of("unacked") == []
    assert [x.holder for x in view.of("in flight")] == ["worker 1 (acked on delivery)", "worker 2 (acked on delivery)",
                                                         "worker 1 (acked on delivery)"]


def test_outbox_rows_are_letters_aged_since_their_commit():
    assert [(x.id, x.age_s) for x in letters(reading(), []).of("outbox")] == [("outbox-11", 0.5), ("outbox-12", 0.25)]


def test_lost_messages_are_numbered_with_their_cause_and_capped():
    found = [(990.0, losses.AUTO_ACK_DIED, 2), (999.0, losses.DROPPED, 100)]
    lost = letters(reading(), found).of("lost")
    assert len(lost) == SHOWN_PER_STATE
    assert [(x.id, x.cause, x.age_s) for x in lost[:3]] == [
        ("lost 1", losses.AUTO_ACK_DIED, 10.0), ("lost 2", losses.AUTO_ACK_DIED, 10.0), ("lost 3", losses.DROPPED, 1.0)]


def test_before_the_first_second_there_is_nothing_to_show():
    assert letters(None, []) == Letters()


def test_a_hung_worker_waits_until_healed():
    faults = InjectedFaults()
    assert faults.update({"hung": True}) is None and faults.hung
    done = threading.Event()
    waiter = threading.Thread(target=lambda: (faults.wait_while_hung(), done.set()))
    waiter.start()
    assert not done.wait(0.2)
    assert faults.update({"hung": False, "error_rate": 0.0}) is None
    assert done.wait(5)
    waiter.join()
    assert faults.update({"hung": 1}) == "hung: 1 is not allowed; use true or false"
    assert faults.snapshot() == {"error_rate": 0.0, "latency_ms": 0.0, "jitter_ms": 0.0, "hung": False}
