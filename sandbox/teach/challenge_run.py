"""Trying a design on a challenge: the constraints first, then the challenge's run on the simulation.

The page, `python -m sandbox check` and the tests judge the same way: a design that breaks a constraint is
refused with the reasons and never runs; one that keeps them plays the challenge's timeline with the design
as its one variant, and the goal's expectations decide.
"""

from __future__ import annotations

from dataclasses import dataclass

from sandbox.engine import RunResult, make_engine, run_scenario
from sandbox.teach.challenges import Challenge, Design


@dataclass(frozen=True)
class Attempt:
    design: Design
    violations: tuple[str, ...]
    """Why the design was refused; empty when it ran."""
    result: RunResult | None
    """The run; None when the design was refused."""

    @property
    def passed(self) -> bool:
        return self.result is not None and self.result.passed

    @property
    def held(self) -> int:
        """How many of the goal's expectations held (0 when refused)."""
        return 0 if self.result is None else sum(v.passed for v in self.result.verdicts)


def attempt(challenge: Challenge, design: Design, seed: int | None = None) -> Attempt:
    """Judge `design`: refused with reasons when it breaks a constraint, otherwise run and checked.
    `seed` None uses the challenge's own seed."""
    violations = tuple(challenge.violations(design))
    if violations:
        return Attempt(design, violations, None)
    scenario = challenge.scenario_for(design)
    seed = scenario.seed if seed is None else seed
    return Attempt(design, (), run_scenario(scenario, make_engine("sim", scenario, seed), seed))
