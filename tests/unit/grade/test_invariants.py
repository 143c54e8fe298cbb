"""Each invariant, checked on a history written by hand: it holds on a clean one and names what broke otherwise."""

from __future__ import annotations

from sandbox.grade import workloads
from sandbox.grade.cases import Case, Publish
from sandbox.grade.history import History, StaleRead
from sandbox.grade.invariants import Limits, check

LIMITS = Limits(staleness_s=5, max_deliveries=8)


def post(message_id: str, author: int) -> Publish:
    return Publish(message_id, workloads.body({"event": "post.created", "post_id": 1, "author_id": author,
                                               "title": "t"}), 0.0)


def rename(message_id: str, user: int, name: str, version: int) -> Publish:
    return Publish(message_id, workloads.body({"event": "user.updated", "user_id": user, "name": name,
                                               "version": version}), 0.0)


def case(*messages: Publish, kind: str = "post-created") -> Case:
    return Case(1, kind, messages, ())


def verdict(name: str, c: Case, history: History):
    return check((name,), c, history, LIMITS)[0]


def test_no_effect_lost_names_the_missing_email() -> None:
    c = case(post("m1", 2))
    assert verdict("no-effect-lost", c, History(mailbox=[("m1", "linus@example.org")])).held
    broken = verdict("no-effect-lost", c, History())
    assert not broken.held and broken.detail == "m1's e-mail to linus@example.org was never sent"


def test_an_email_to_a_domain_that_never_answers_is_not_expected() -> None:
    assert verdict("no-effect-lost", case(post("m1", 9)), History()).held


def test_none_applied_twice_counts_each_message_and_recipient() -> None:
    c = case(post("m1", 2))
    twice = verdict("none-applied-twice", c, History(mailbox=[("m1", "linus@example.org")] * 2))
    assert not twice.held and "sent 2 times" in twice.detail and twice.messages == ("m1",)


def test_the_final_state_must_be_the_newest_version_whatever_arrived_last() -> None:
    c = case(rename("m1", 1, "Ada L.", 1), rename("m2", 1, "Ada Lovelace", 2), kind="user-updated")
    right = History(authors={1: ("Ada Lovelace", 2), 2: ("Linus", 0)})
    assert verdict("final-state-in-order", c, right).held
    wrong = verdict("final-state-in-order", c, History(authors={1: ("Ada L.", 1), 2: ("Linus", 0)}))
    assert not wrong.held and "'Ada Lovelace' (version 2)" in wrong.detail


def test_staleness_is_measured_from_the_write_that_made_the_cache_stale() -> None:
    c = case(kind="invalidation")
    fresh = History(writes_s=[1.0, 10.0], stale_reads=[StaleRead(14.0, "blogs:list", 1, 2)])
    assert verdict("bounded-staleness", c, fresh).held  # 4 s after version 2
    stale = History(writes_s=[1.0, 10.0], stale_reads=[StaleRead(15.5, "blogs:list", 1, 2)])
    broken = verdict("bounded-staleness", c, stale)
    assert not broken.held and "5.5 s after version 2 was written" in broken.detail


def test_settles_wants_each_copy_acked_or_dead_lettered_within_the_most_deliveries() -> None:
    c = case(post("m1", 2))
    assert verdict("settles", c, History(ends={"m1": "acked"}, deliveries={"m1": 8})).held
    assert not verdict("settles", c, History(ends={"m1": "acked"}, deliveries={"m1": 9})).held
    stuck = verdict("settles", c, History(ends={"m1 (copy 2)": "in the retry queue"}, deliveries={}))
    assert not stuck.held and stuck.detail.startswith("m1 (copy 2) never settles")


def test_poison_must_end_in_the_dead_letter_queue() -> None:
    c = case(Publish("m1", b"[]", 0.0, poison=True))
    assert verdict("poison-parked", c, History(ends={"m1": "dead-lettered"})).held
    acked = verdict("poison-parked", c, History(ends={"m1": "acked"}))
    assert not acked.held and "ended acked" in acked.detail
