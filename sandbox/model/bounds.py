"""The range of every number a user can type: a knob, a command's field, a scenario's duration.

Each range is written once, next to its unit, where the number is declared; out of range is one
ScenarioError that names the field, the value and the range.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from sandbox.model.errors import ScenarioError

MAX_DURATION_S = 7200.0
"""Two hours of scenario time: the longest run, playground or scenario."""


def number(value: float) -> str:
    """A bound as people write it: 60,000 and 0.001, never 6e+04."""
    return f"{int(value):,}" if value == int(value) else f"{value:g}"


@dataclass(frozen=True)
class Range:
    """Inclusive bounds with a unit; `whole` numbers only when set."""

    minimum: float
    maximum: float
    unit: str = ""
    whole: bool = False

    def __str__(self) -> str:
        unit = f" {self.unit}" if self.unit else ""
        return f"{number(self.minimum)} to {number(self.maximum)}{unit}"

    def check(self, value: object, source: str = "", field: str = "") -> float:
        """`value` as a float inside the range, or a ScenarioError naming `field` and the range."""
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ScenarioError(source, field, f"{value!r} is not a number; use {self}")
        if not math.isfinite(value):
            raise ScenarioError(source, field, f"{value!r} is not a finite number; use {self}")
        if self.whole and value != int(value):
            raise ScenarioError(source, field, f"{value!r} must be a whole number from {self}")
        if not self.minimum <= value <= self.maximum:
            raise ScenarioError(source, field, f"{value!r} is out of range; use {self}")
        return float(value)

    def check_whole(self, value: object, source: str = "", field: str = "") -> int:
        return int(self.check(value, source, field))
