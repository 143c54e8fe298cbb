"""The contract every engine implements, and the one way to run a scenario on an engine.

The runner, the CLI, the lessons and the UI talk only to `Engine`; `make_engine` is the one place that
knows the two implementations (the simulation, and the live lab, whose dependencies load only when asked for).
`run_isolated` runs a scenario in a child process with a wall-clock and a memory cap, for a server many
learners share, and hands back a `RecordedEngine`: the finished run as data. `LabError` (the lab's errors a
user can fix) is the contract's too, so a caller catches it without reaching into the lab.
"""

from __future__ import annotations

import multiprocessing
import os
import resource
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from itertools import groupby
from multiprocessing.connection import Connection
from typing import Any, Protocol

from sandbox.live.errors import LabError
from sandbox.model.commands import Command
from sandbox.model.errors import ScenarioError
from sandbox.model.expectations import Verdict, check
from sandbox.model.measurements import Frame, Measurements
from sandbox.model.messages import Letters
from sandbox.model.scenario import Scenario
from sandbox.model.status import VariantStatus

ENGINES = {"sim": "Simulation", "live": "Live lab"}
STEP_S = 5.0
"""With a wall-clock cap, scenario time moves this far between two looks at the clock."""
ISOLATED_MEMORY_BYTES = 1536 * 1024 * 1024
"""The address space a run in a child process may use."""
EXIT_GRACE_S = 10.0
"""How much longer than its cap a child may take to report before it is killed."""


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


def live_broker(timeout_s: float = 2.0) -> tuple[str | None, str]:
    """Why the live lab cannot run here (RabbitMQ unreachable or refusing us) or None when it can, and the broker
    it would measure as its server properties name it ("RabbitMQ 3.10.8"; "" when it cannot run)."""
    from sandbox.live.servers import LabUnavailable, check_rabbitmq, rabbitmq_url

    try:
        return None, check_rabbitmq(rabbitmq_url(), timeout_s)
    except LabUnavailable as exc:
        return str(exc), ""


def live_unavailable(timeout_s: float = 2.0) -> str | None:
    """Why the live lab cannot run here (RabbitMQ unreachable or refusing us), or None when it can."""
    return live_broker(timeout_s)[0]


def make_engine(name: str, scenario: Scenario, seed: int | None = None) -> Engine:
    """A `sim` or `live` engine for `scenario` (`seed` None: the scenario's own)."""
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


@dataclass
class RecordedEngine:
    """A finished run's engine as data — what it measured, logged and last showed — readable like the engine it
    records and small enough to send between processes. It takes no more commands and no more time."""

    name: str
    now: float
    recorded_frames: list[Frame]
    recorded: dict[str, Measurements]
    last_status: dict[str, VariantStatus]
    last_letters: dict[str, Letters]
    lines: list[tuple[float, str, str]]

    @classmethod
    def of(cls, engine: Engine, variants: list[str]) -> RecordedEngine:
        return cls(engine.name, engine.now, engine.frames(), {v: engine.measurements(v) for v in variants},
                   engine.status(), {v: engine.messages(v) for v in variants}, engine.log())

    def apply(self, command: Command) -> list[str]:
        raise RuntimeError("a recorded run is finished: it takes no commands")

    def advance(self, seconds: float) -> None:
        raise RuntimeError("a recorded run is finished: its time does not move")

    def frames(self) -> list[Frame]:
        return self.recorded_frames

    def measurements(self, variant: str) -> Measurements:
        return self.recorded[variant]

    def messages(self, variant: str) -> Letters:
        return self.last_letters[variant]

    def status(self) -> dict[str, VariantStatus]:
        return self.last_status

    def log(self) -> list[tuple[float, str, str]]:
        return self.lines

    def close(self) -> None:
        """Nothing to release: the run's engine was closed in its own process."""


def run_isolated(scenario: Scenario, engine: str = "sim", seed: int | None = None,
                 wall_cap_s: float = 60.0) -> RunResult:
    """`run_scenario` in a child process of its own, under ISOLATED_MEMORY_BYTES and `wall_cap_s`, so that one
    run can neither stall nor starve the process that asked for it (a server other learners share). The result's
    engine is a RecordedEngine. Raises what the run raised (ScenarioError, RunTooLong) with the same message."""
    context = multiprocessing.get_context("forkserver")
    receiver, sender = context.Pipe(duplex=False)
    child = context.Process(target=_run_and_send, daemon=True,
                            args=(sender, scenario, engine, seed, wall_cap_s, dict(os.environ)))
    child.start()
    sender.close()
    try:
        if not receiver.poll(wall_cap_s + EXIT_GRACE_S):
            raise RunTooLong(f"stopped after {wall_cap_s:g} s of wall-clock time: lower the rates or shorten the run")
        kind, payload = receiver.recv()
    except EOFError:
        raise RuntimeError(f"the run's process ended without a result (exit code {child.exitcode})") from None
    finally:
        receiver.close()
        child.join(timeout=EXIT_GRACE_S)
        if child.is_alive():
            child.kill()
            child.join()
    if kind == "result":
        result: RunResult = payload
        return result
    if kind == "scenario":
        raise ScenarioError(*payload)
    if kind == "too long":
        raise RunTooLong(payload)
    if kind == "lab":
        raise LabError(payload)
    raise RuntimeError(payload)


def _run_and_send(sender: Connection, scenario: Scenario, engine: str, seed: int | None, wall_cap_s: float,
                  environ: dict[str, str]) -> None:
    """In the child: run with the asking process's environment (server URLs), then send ("result", RunResult) or
    what went wrong."""
    os.environ.clear()
    os.environ.update(environ)
    resource.setrlimit(resource.RLIMIT_AS, (ISOLATED_MEMORY_BYTES, ISOLATED_MEMORY_BYTES))
    message: tuple[str, Any]
    try:
        seed = scenario.seed if seed is None else seed
        if engine == "live":
            scenario = scenario.on_live_clock()
        made = make_engine(engine, scenario, seed)
        try:
            result = run_scenario(scenario, made, seed, wall_cap_s)
            recorded = RecordedEngine.of(made, [v.name for v in scenario.variants])
        finally:
            made.close()
        message = ("result", RunResult(result.scenario, recorded, seed, result.verdicts, result.wall_s, result.notes))
    except ScenarioError as exc:
        message = ("scenario", (exc.source, exc.field, exc.problem))
    except RunTooLong as exc:
        message = ("too long", str(exc))
    except LabError as exc:
        message = ("lab", str(exc))
    except MemoryError:
        message = ("error", f"the run needed more than {ISOLATED_MEMORY_BYTES // 2**20:,} MB and was stopped")
    except Exception as exc:  # whatever it was, the asking process gets it in words
        message = ("error", f"the run failed: {type(exc).__name__}: {exc}")
    sender.send(message)
    sender.close()
