"""Trying a design on a challenge: the constraints first, then the challenge's run on several seeds.

The page, `python -m sandbox check` and the tests judge the same way: a design that breaks a constraint is
refused with the reasons and never runs; one that keeps them plays the challenge's timeline with the design
as its one variant on every judged seed (`judged_seeds`), and it passes only when every goal holds on every
seed — a design that works on a lucky seed is not solved.
"""

from __future__ import annotations

from dataclasses import dataclass

from sandbox.engine import RunResult, make_engine, run_scenario
from sandbox.teach.challenges import VARIANT, Challenge, Cost, Design, Tempting

JUDGED_SEEDS = 6
"""How many seeds every try runs: the challenge's own seed and the ones after it."""


def judged_seeds(challenge: Challenge) -> tuple[int, ...]:
    """The seeds every try runs, derived from the challenge's seed (the same for every learner and for check)."""
    return tuple(challenge.scenario.seed + i for i in range(JUDGED_SEEDS))


@dataclass(frozen=True)
class Attempt:
    design: Design
    violations: tuple[str, ...]
    """Why the design was refused; empty when it ran."""
    runs: tuple[tuple[int, RunResult], ...]
    """(seed, run) for each judged seed that ran; empty when the design was refused."""

    @property
    def passed(self) -> bool:
        return bool(self.runs) and all(run.passed for _, run in self.runs)

    @property
    def result(self) -> RunResult | None:
        """The run to show: the first seed that failed, else the first seed; None when the design was refused."""
        failed = [run for _, run in self.runs if not run.passed]
        shown = failed or [run for _, run in self.runs]
        return shown[0] if shown else None

    @property
    def seed(self) -> int | None:
        """The seed of `result`."""
        return next((seed for seed, run in self.runs if run is self.result), None)

    @property
    def failed_seeds(self) -> tuple[int, ...]:
        return tuple(seed for seed, run in self.runs if not run.passed)

    @property
    def held(self) -> int:
        """How many of the goal's expectations held on every seed that ran (0 when refused)."""
        if not self.runs:
            return 0
        return sum(all(verdicts) for verdicts in zip(*([v.passed for v in run.verdicts] for _, run in self.runs),
                                                      strict=True))

    def broken_goals(self) -> dict[int, tuple[int, ...]]:
        """For each goal (its index in the challenge's expectations) that failed: the seeds it failed on."""
        broken: dict[int, list[int]] = {}
        for seed, run in self.runs:
            for index, verdict in enumerate(run.verdicts):
                if not verdict.passed:
                    broken.setdefault(index, []).append(seed)
        return {index: tuple(seeds) for index, seeds in broken.items()}


def is_real_attempt(challenge: Challenge, tried: Attempt) -> bool:
    """A try that counts towards opening the reference: it ran (kept the rules) and changed the start design."""
    return bool(tried.runs) and challenge.knobs_of(tried.design) != challenge.knobs_of(challenge.start)


def reference_opens(solved: bool, real_attempts: int, hints_shown: int, hints: int) -> bool:
    """The reference solution shows once the challenge is solved, or after at least one real attempt and every
    hint: reading it before trying anything teaches nothing."""
    return solved or (real_attempts >= 1 and hints_shown >= hints)


def attempt(challenge: Challenge, design: Design, seeds: tuple[int, ...] | None = None, *,
            until_failure: bool = False) -> Attempt:
    """Judge `design`: refused with reasons when it breaks a constraint, otherwise run on `seeds` (None: the
    judged seeds) and checked. `until_failure` stops at the first seed that fails (the verdict is the same)."""
    violations = tuple(challenge.violations(design))
    if violations:
        return Attempt(design, violations, ())
    scenario = challenge.scenario_for(design)
    runs = []
    for seed in judged_seeds(challenge) if seeds is None else seeds:
        run = run_scenario(scenario, make_engine("sim", scenario, seed), seed)
        runs.append((seed, run))
        if until_failure and not run.passed:
            break
    return Attempt(design, (), tuple(runs))


@dataclass(frozen=True)
class Spent:
    """One cost of a tried design next to the reference's: its par."""

    cost: Cost
    yours: float
    par: float

    def describe(self) -> str:
        worst = " (the worst seed)" if self.cost.metric is not None else ""
        return f"you used {self.yours:,g} {self.cost.name}{worst}; par is {self.par:,g}"


def spent(challenge: Challenge, cost: Cost, tried: Attempt) -> float | None:
    """What `tried` spent of `cost`: the knob's value, or the metric's worst over the seeds that ran."""
    if cost.knob is not None:
        return float(challenge.knobs_of(tried.design).get(cost.knob))
    assert cost.metric is not None
    start, end = cost.during or (0.0, challenge.scenario.duration_s)
    observed = [run.engine.measurements(VARIANT).observe(cost.metric, start, end) for _, run in tried.runs]
    values = [value for value in observed if value is not None]
    return max(values) if values else None


def against_par(challenge: Challenge, tried: Attempt, reference: Attempt) -> list[Spent]:
    """Each of the challenge's costs, `tried`'s against the reference's (empty for a refused design)."""
    lines = []
    for cost in challenge.costs:
        yours, par = spent(challenge, cost, tried), spent(challenge, cost, reference)
        if yours is not None and par is not None:
            lines.append(Spent(cost, yours, par))
    return lines


@dataclass(frozen=True)
class Caught:
    """A tempting wrong design, judged: the seeds on which the goal it names broke."""

    tempting: Tempting
    tried: Attempt
    seeds: tuple[int, ...]

    @property
    def proven(self) -> bool:
        """It fails, and the goal it names breaks on at least one judged seed (a try fails on any seed's failure;
        a knife-edge design that breaks on some seeds only is exactly what multi-seed judging catches)."""
        return not self.tried.passed and bool(self.seeds)


def judge_tempting(challenge: Challenge, tempting: Tempting) -> Caught:
    """Run a tempting design on every judged seed; note where the goal it names broke."""
    tried = attempt(challenge, tempting.design)
    expectations = challenge.scenario.expectations
    seeds = {seed for index, broken in tried.broken_goals().items() if expectations[index].metric == tempting.fails
             for seed in broken}
    return Caught(tempting, tried, tuple(sorted(seeds)))
