"""Play a scenario's timeline on an engine and check its expectations."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from itertools import groupby

from sandbox.engine import Engine
from sandbox.model.expectations import Verdict, check
from sandbox.model.scenario import Scenario


@dataclass
class RunResult:
    scenario: Scenario
    engine: Engine
    seed: int
    verdicts: list[Verdict]
    wall_s: float
    notes: list[str] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return all(v.passed for v in self.verdicts)


def play(scenario: Scenario, engine: Engine, on_tick: Callable[[float], None] | None = None) -> list[str]:
    """Advance through the timeline, applying each group of simultaneous actions at its moment."""
    notes: list[str] = []
    for at, actions in groupby(scenario.timeline, key=lambda a: a.at):
        engine.advance(at - engine.now)
        for action in actions:
            notes.extend(engine.apply(action))
        if on_tick:
            on_tick(engine.now)
    engine.advance(scenario.duration_s - engine.now)
    return notes


def run_scenario(scenario: Scenario, engine: Engine, seed: int) -> RunResult:
    started = time.perf_counter()
    notes = play(scenario, engine)
    verdicts = [
        check(e, engine.measurements(e.variant), scenario.duration_s) for e in scenario.expectations
    ]
    return RunResult(scenario, engine, seed, verdicts, time.perf_counter() - started, notes)
