"""Expectations and their verdicts in words a learner reads: the metric's human label, the bound in its unit."""

from __future__ import annotations

from dataclasses import dataclass

from sandbox.model.expectations import Verdict
from sandbox.model.metrics import label
from sandbox.present.report import format_metric


@dataclass(frozen=True)
class VerdictLine:
    passed: bool
    claim: str
    """e.g. "sync: failed reads from 12 to 30 s above 50.0%"."""
    observed: str
    why: str
    metric: str
    """The registry's name of the metric, for whoever writes scenario files."""

    @property
    def mark(self) -> str:
        return "✅" if self.passed else "❌"


def verdict_line(verdict: Verdict, duration_s: float) -> VerdictLine:
    e = verdict.expectation
    start, end = e.window(duration_s)
    claim = (f"{e.variant}: {label(e.metric)} from {start:g} to {end:g} s {e.comparison.replace('_', ' ')} "
             f"{format_metric(e.bound, e.metric)}")
    observed = "nothing measured" if verdict.observed is None else format_metric(verdict.observed, e.metric)
    return VerdictLine(verdict.passed, claim, observed, e.why, e.metric)


def verdict_summary(verdicts: list[Verdict]) -> str:
    """e.g. "✅ 6/6 expectations hold"; with none, says so."""
    if not verdicts:
        return "this scenario states no expectations"
    held = sum(v.passed for v in verdicts)
    return f"{'✅' if held == len(verdicts) else '❌'} {held}/{len(verdicts)} expectations hold"
