"""Fault periods read from a timeline: what the charts shade."""

from sandbox.model.commands import Errors, Hang, Heal, Kill, Latency, Restart, Revive
from sandbox.model.periods import fault_periods, open_faults


def test_kill_then_revive_is_one_closed_down_period():
    timeline = [Kill(at=10, target="user"), Revive(at=30, target="user")]
    [period] = fault_periods(timeline)
    assert (period.target, period.kind, period.start_s, period.end_s) == ("user", "down", 10, 30)
    assert period.label == "kill user"


def test_heal_ends_latency_but_not_a_kill():
    timeline = [Kill(at=1, target="blog"), Latency(at=2, target="user", ms=500),
                Heal(at=5, target="user"), Heal(at=6, target="blog")]
    periods = {(p.target, p.kind): p.end_s for p in fault_periods(timeline)}
    assert periods == {("blog", "down"): None, ("user", "latency"): 5}
    assert [p.target for p in open_faults(timeline)] == ["blog"]


def test_restart_is_down_for_its_length_and_zero_latency_is_no_fault():
    timeline = [Restart(at=4, target="author", down_s=6), Latency(at=8, target="user", ms=0)]
    [period] = fault_periods(timeline)
    assert (period.kind, period.start_s, period.end_s) == ("down", 4, 10)


def test_actions_on_one_variant_shade_only_that_variant():
    timeline = [Hang(at=3, target="user", variant="sync"), Errors(at=4, target="user", rate=0.5)]
    assert {p.kind for p in fault_periods(timeline, "sync")} == {"hung", "errors"}
    assert {p.kind for p in fault_periods(timeline, "queue")} == {"errors"}


def test_a_kill_ends_a_hang():
    timeline = [Hang(at=1, target="user"), Kill(at=2, target="user")]
    kinds = {p.kind: p.end_s for p in fault_periods(timeline)}
    assert kinds == {"hung": 2, "down": None}
