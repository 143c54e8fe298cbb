"""The contract every engine implements, and the one way to run a scenario on an engine.

The runner, the CLI, the lessons and the UI talk only to `Engine`; `make_engine` is the one place that
knows the two implementations (the simulation, and the live lab, whose dependencies load only when asked for).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from itertools import groupby
from typing import Protocol

from sandbox.model.commands import Command
from sandbox.model.expectations import Verdict, check
from sandbox.model.measurements import Measurements
from sandbox.model.messages import Letters
from sandbox.model.scenario import Scenario
from sandbox.model.status import VariantStatus

ENGINES = {"sim": "Simulation", "live": "Live lab"}
STEP_S = 5.0
"""With a wall-clock cap, scenario time moves this far between two looks at the clock."""


class Engine(Protocol):
    name: str

    @property
    def now(self) -> float:
        """Seconds of scenario time since the start."""

    def apply(self, command: Command) -> list[str]:
        """Apply a fault, heal, load or knob change now; return notes for variants where it does nothing."""

    def advance(self, seconds: float) -> None:
        """Let scenario time pass (virtual in the simulation, wall clock in the lab)."""

    def frames(self) -> list[dict]:
        """One row per finished second per variant: {"t", "variant", <metric>: value, ...}."""

    def measurements(self, variant: str) -> Measurements:
        """Everything measured for one variant, for window metrics and expectations."""

    def messages(self, variant: str) -> Letters:
        """Where each invalidation message of one variant is now: counts per state and the first few letters."""

    def status(self) -> dict[str, VariantStatus]:
        """Health, calls and queue depths per variant, for the diagram."""

    def log(self) -> list[tuple[float, str, str]]:
        """(time, variant, plain words) for every notable event so far."""

    def close(self) -> None:
        """Release what the engine holds (processes, connections)."""


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


def live_unavailable(timeout_s: float = 2.0) -> str | None:
    """Why the live lab cannot run here (RabbitMQ unreachable or refusing us), or None when it can."""
    from sandbox.live.servers import LabUnavailable, check_rabbitmq, rabbitmq_url

    try:
        check_rabbitmq(rabbitmq_url(), timeout_s)
    except LabUnavailable as exc:
        return str(exc)
    return None


def make_engine(name: str, scenario: Scenario, seed: int) -> Engine:
    if name == "live":
        from sandbox.live.engine import LiveEngine

        return LiveEngine(scenario, seed)
    from sandbox.sim.engine import SimEngine

    return SimEngine(scenario, seed)


class RunTooLong(RuntimeError):
    """A run passed its wall-clock cap and was stopped; the message says where it got to."""


def play(scenario: Scenario, engine: Engine, on_tick: Callable[[float], None] | None = None,
         wall_cap_s: float | None = None) -> list[str]:
    """Advance through the timeline, applying each group of simultaneous commands at its moment.

    With `wall_cap_s`, time moves in steps of at most STEP_S and a run still going after that many seconds of
    wall-clock time raises RunTooLong (the engine keeps what it measured so far)."""
    deadline = None if wall_cap_s is None else time.monotonic() + wall_cap_s

    def advance_to(t: float) -> None:
        while engine.now < t:
            engine.advance(min(t, engine.now + STEP_S) - engine.now if deadline else t - engine.now)
            if deadline is not None and time.monotonic() > deadline and engine.now < scenario.duration_s:
                raise RunTooLong(f"stopped after {wall_cap_s:g} s of wall-clock time, at {engine.now:,.0f} s of "
                                 f"{scenario.duration_s:,.0f} s: lower the rates or shorten the run")

    notes: list[str] = []
    for at, commands in groupby(scenario.timeline, key=lambda c: c.at):
        advance_to(at)
        for command in commands:
            notes.extend(engine.apply(command))
        if on_tick:
            on_tick(engine.now)
    advance_to(scenario.duration_s)
    return notes


def run_scenario(scenario: Scenario, engine: str | Engine = "sim", seed: int | None = None,
                 wall_cap_s: float | None = None) -> RunResult:
    """Play a scenario on an engine (by name: made here and closed after; the lab on its own clock,
    `[live] duration`) and check its expectations. An engine passed in stays open for the caller.
    `wall_cap_s`: stop with RunTooLong after that much wall-clock time."""
    seed = scenario.seed if seed is None else seed
    if isinstance(engine, str):
        if engine == "live":
            scenario = scenario.on_live_clock()
        made = make_engine(engine, scenario, seed)
        try:
            return run_scenario(scenario, made, seed, wall_cap_s)
        finally:
            made.close()
    started = time.perf_counter()
    notes = play(scenario, engine, wall_cap_s=wall_cap_s)
    verdicts = [check(e, engine.measurements(e.variant), scenario.duration_s) for e in scenario.expectations]
    return RunResult(scenario, engine, seed, verdicts, time.perf_counter() - started, notes)
