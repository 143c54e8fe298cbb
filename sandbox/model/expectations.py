"""Expectations: the steady-state hypothesis a scenario states and a run checks."""

from __future__ import annotations

from dataclasses import dataclass

from sandbox.model.measurements import Measurements
from sandbox.model.metrics import MetricName

COMPARISONS = {
    "above": lambda observed, bound: observed > bound,
    "below": lambda observed, bound: observed < bound,
    "at_least": lambda observed, bound: observed >= bound,
    "at_most": lambda observed, bound: observed <= bound,
}


@dataclass(frozen=True)
class Expectation:
    variant: str
    metric: MetricName
    comparison: str
    bound: float
    during: tuple[float, float] | None = None
    why: str = ""

    def window(self, duration_s: float) -> tuple[float, float]:
        return self.during if self.during is not None else (0.0, duration_s)

    def describe(self, duration_s: float) -> str:
        start, end = self.window(duration_s)
        op = self.comparison.replace("_", " ")
        return f"{self.variant} {self.metric} during {start:g}–{end:g} s {op} {self.bound:g}"


@dataclass(frozen=True)
class Verdict:
    expectation: Expectation
    observed: float | None
    passed: bool


def check(expectation: Expectation, measurements: Measurements, duration_s: float) -> Verdict:
    """Evaluate one expectation over its window; nothing measured is a failure."""
    start, end = expectation.window(duration_s)
    observed = measurements.observe(expectation.metric, start, end)
    passed = observed is not None and COMPARISONS[expectation.comparison](observed, expectation.bound)
    return Verdict(expectation, observed, passed)
