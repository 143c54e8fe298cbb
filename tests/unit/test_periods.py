"""Fault periods read from a timeline: what the charts shade."""

from sandbox.model.actions import Action
from sandbox.model.periods import fault_periods, open_faults


def test_kill_then_revive_is_one_closed_down_period():
    timeline = [Action("kill", at=10, target="user"), Action("revive", at=30, target="user")]
    [period] = fault_periods(timeline)
    assert (period.target, period.kind, period.start_s, period.end_s) == ("user", "down", 10, 30)
    assert period.label == "kill user"


def test_heal_ends_latency_but_not_a_kill():
    timeline = [Action("kill", at=1, target="blog"), Action("latency", at=2, target="user", ms=500),
                Action("heal", at=5, target="user"), Action("heal", at=6, target="blog")]
    periods = {(p.target, p.kind): p.end_s for p in fault_periods(timeline)}
    assert periods == {("blog", "down"): None, ("user", "latency"): 5}
    assert [p.target for p in open_faults(timeline)] == ["blog"]


def test_restart_is_down_for_its_length_and_zero_latency_is_no_fault():
    timeline = [Action("restart", at=4, target="author", down_s=6), Action("latency", at=8, target="user", ms=0)]
    [period] = fault_periods(timeline)
    assert (period.kind, period.start_s, period.end_s) == ("down", 4, 10)


def test_actions_on_one_variant_shade_only_that_variant():
    timeline = [Action("hang", at=3, target="user", variant="sync"), Action("errors", at=4, target="user", rate=0.5)]
    assert {p.kind for p in fault_periods(timeline, "sync")} == {"hung", "errors"}
    assert {p.kind for p in fault_periods(timeline, "queue")} == {"errors"}


def test_a_kill_ends_a_hang():
    timeline = [Action("hang", at=1, target="user"), Action("kill", at=2, target="user")]
    kinds = {p.kind: p.end_s for p in fault_periods(timeline)}
    assert kinds == {"hung": 2, "down": None}
