"""The simulated mailer: each consumer.dedup setting against a kill just before and just after the e-mail."""

from __future__ import annotations

import pytest

from sandbox.model.effects import AFTER, BEFORE
from sandbox.model.knobs import resolve
from sandbox.sim.world import World


def world(dedup: str, plan: list[str | None]) -> World:
    """A queue world with the mailer on, whose kills follow `plan`: the fate of each handling in turn."""
    knobs = resolve({"mailer.enabled": True, "consumer.dedup": dedup, "load.reads_per_s": 0,
                     "load.writes_per_s": 0})
    w = World("v", "queue", knobs, seed=1)
    assert w.mailer is not None
    w.mailer.kill_point = lambda: plan.pop(0) if plan else None  # type: ignore[method-assign]
    return w


def run(dedup: str, plan: list[str | None], posts: int = 3) -> dict[str, float | None]:
    w = world(dedup, plan)
    assert w.mailer is not None
    for post_id in range(1, posts + 1):
        w.mailer.publish(post_id)
    w.advance_to(30)
    m = w.measurements
    return {name: m.observe(name, 0, 30) for name in ("effect.applied", "effect.duplicates", "effect.missing")}


def test_without_kills_every_setting_sends_each_post_once() -> None:
    for dedup in ("none", "inbox", "redis-before"):
        assert run(dedup, []) == {"effect.applied": 3, "effect.duplicates": 0, "effect.missing": 0}, dedup


def test_none_sends_again_after_a_kill_between_the_email_and_the_ack() -> None:
    assert run("none", [AFTER]) == {"effect.applied": 4, "effect.duplicates": 1, "effect.missing": 0}


def test_none_loses_nothing_to_a_kill_before_the_email() -> None:
    assert run("none", [BEFORE]) == {"effect.applied": 3, "effect.duplicates": 0, "effect.missing": 0}


def test_redis_before_loses_the_email_of_a_kill_between_setnx_and_the_email() -> None:
    assert run("redis-before", [BEFORE]) == {"effect.applied": 2, "effect.duplicates": 0, "effect.missing": 1}


def test_redis_before_skips_the_redelivery_of_a_kill_after_the_email() -> None:
    assert run("redis-before", [AFTER]) == {"effect.applied": 3, "effect.duplicates": 0, "effect.missing": 0}


@pytest.mark.parametrize("fate", [BEFORE, AFTER])
def test_inbox_sends_exactly_once_whatever_the_kill(fate: str) -> None:
    assert run("inbox", [fate, fate]) == {"effect.applied": 3, "effect.duplicates": 0, "effect.missing": 0}


def test_a_killed_mailer_comes_back_after_restart_s_and_gets_the_message_again() -> None:
    w = world("none", [AFTER])
    assert w.mailer is not None
    w.mailer.publish(1)
    w.advance_to(0.5)
    assert w.mailer.mailbox == {1: 1} and len(w.mailer.queue) == 1, "killed after the e-mail: the message is back"
    w.advance_to(2)
    assert w.mailer.mailbox == {1: 2} and not w.mailer.queue


def test_redis_before_with_redis_down_requeues_and_sends_once_redis_is_back() -> None:
    w = world("redis-before", [])
    assert w.mailer is not None
    w.cache.kill()
    w.mailer.publish(1)
    w.advance_to(3)
    assert w.mailer.mailbox == {} and len(w.mailer.queue) == 1
    w.cache.revive()
    w.advance_to(6)
    assert w.mailer.mailbox == {1: 1}


def test_the_kill_rate_is_the_knob_and_splits_between_before_and_after() -> None:
    w = World("v", "queue", resolve({"mailer.enabled": True, "mailer.crash_rate": 0.2}), seed=3)
    assert w.mailer is not None
    fates = [w.mailer.kill_point() for _ in range(4000)]
    assert 0.17 < sum(f is not None for f in fates) / 4000 < 0.23
    assert 0.4 < fates.count(BEFORE) / (fates.count(BEFORE) + fates.count(AFTER)) < 0.6


def test_a_world_without_the_mailer_knob_has_no_mailer_and_counts_no_effect() -> None:
    w = World("v", "queue", resolve({"load.writes_per_s": 5}), seed=1)
    w.advance_to(10)
    assert w.mailer is None and w.measurements.observe("effect.applied", 0, 10) == 0
