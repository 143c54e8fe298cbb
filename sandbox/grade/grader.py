"""Grading: a handler against a task's cases, seed by seed, each checked over its whole history; on a failure,
the smallest case that still fails the same way, told message by message.

`grade` runs in whatever process calls it: `sandbox.grade.sandbox` calls it in a limited child process for a
learner's code; `check` calls it directly for the shipped files.
"""

from __future__ import annotations

import io
import time
import types
from collections.abc import Callable, Sequence
from contextlib import redirect_stdout
from dataclasses import asdict, dataclass, field
from typing import Any

from sandbox.grade.cases import Case, generate, smaller
from sandbox.grade.handler import CALL_LIMIT_S, HandlerError, TimeLimit, compile_handler
from sandbox.grade.history import Event, History
from sandbox.grade.invariants import Verdict, check
from sandbox.grade.tasks import Task
from sandbox.grade.world import World

ANY = "any"
"""grade(stop_when=ANY): stop at the first seed where any invariant fails."""
PRINTED_CHARS = 4000
SHRINK_RUNS = 400
"""The most runs one shrink may take (each a few milliseconds)."""
Run = Callable[[Case], History]


@dataclass(frozen=True)
class Counterexample:
    """The smallest failing case found: its seed, what it breaks, and its history as a timeline."""

    seed: int
    invariant: str
    detail: str
    found: str
    """The case as first found, in words ("9 messages, 5 faults, 2 consumers")."""
    shrunk: str
    """The case shrunk, in words; "" when it was not (a live run)."""
    faults: tuple[str, ...]
    messages: int
    involved: tuple[str, ...]
    events: tuple[Event, ...]


@dataclass
class Report:
    task: str
    engine: str
    seeds: list[int]
    verdicts: list[Verdict] = field(default_factory=list)
    """One per invariant: held in every seed, or the first failing seed's detail."""
    failing_seeds: dict[str, list[int]] = field(default_factory=dict)
    counterexample: Counterexample | None = None
    stopped: str = ""
    """Why the handler could not be graded ("" when it was)."""
    wall_s: float = 0.0
    printed: str = ""
    """What the handler printed (the first few KB)."""

    @property
    def passed(self) -> bool:
        return not self.stopped and bool(self.verdicts) and all(v.held for v in self.verdicts)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, doc: dict[str, Any]) -> Report:
        counter = doc.get("counterexample")
        return cls(doc["task"], doc["engine"], list(doc["seeds"]),
                   [Verdict(v["invariant"], v["held"], v["detail"], tuple(v["messages"])) for v in doc["verdicts"]],
                   {k: list(v) for k, v in doc["failing_seeds"].items()},
                   None if counter is None else Counterexample(
                       counter["seed"], counter["invariant"], counter["detail"], counter["found"], counter["shrunk"],
                       tuple(counter["faults"]), counter["messages"], tuple(counter["involved"]),
                       tuple(Event(**e) for e in counter["events"])),
                   doc["stopped"], doc["wall_s"], doc.get("printed", ""))


def sim_run(task: Task, code: types.CodeType, call_limit_s: float = CALL_LIMIT_S,
            after_call: Callable[[], None] = lambda: None) -> Run:
    """Play one case in the simulation."""
    return lambda case: World(case, code, task.tail_s, task.relay(case), call_limit_s, after_call).run()


def grade(task: Task, source: str, seeds: Sequence[int], filename: str = "handler.py", shrink: bool = True,
          run: Run | None = None, engine: str = "sim", stop_when: str | None = None,
          after_call: Callable[[], None] = lambda: None) -> Report:
    """Grade `source` on `task` at every seed (stopping early once `stop_when`, an invariant or ANY, fails); a
    handler that cannot be graded gets a Report whose `stopped` says why."""
    started = time.perf_counter()
    report = Report(task.id, engine, list(seeds))
    printed = _Capped()
    with redirect_stdout(printed):
        try:
            play = run or sim_run(task, compile_handler(source, filename), after_call=after_call)
            first: tuple[int, Case, Verdict] | None = None
            for seed in seeds:
                case = generate(task.workload, task.faults, seed)
                verdicts = check(task.invariants, case, play(case), task.limits)
                for verdict in verdicts:
                    if not verdict.held:
                        report.failing_seeds.setdefault(verdict.invariant, []).append(seed)
                        first = first or (seed, case, verdict)
                report.verdicts = merge_verdicts(report.verdicts, verdicts)
                if stop_when in report.failing_seeds or (stop_when == ANY and report.failing_seeds):
                    break
            if first is not None and shrink:
                report.counterexample = counterexample(task, play, *first)
        except TimeLimit as exc:
            report.stopped = f"the handler was stopped: it {exc}; a handler must return or raise"
        except MemoryError:
            report.stopped = "the handler was stopped: it ran out of memory"
        except RecursionError:
            report.stopped = "the handler was stopped: it recursed too deeply"
        except HandlerError as exc:
            report.stopped = str(exc)
    report.wall_s = time.perf_counter() - started
    report.printed = printed.text
    return report


class _Capped(io.StringIO):
    """What the handler prints, up to PRINTED_CHARS."""

    def write(self, text: str) -> int:
        if self.tell() < PRINTED_CHARS:
            super().write(text[:PRINTED_CHARS - self.tell()])
        return len(text)

    @property
    def text(self) -> str:
        value = self.getvalue()
        return value + ("\n[… cut at 4,000 characters]" if len(value) >= PRINTED_CHARS else "")


def merge_verdicts(so_far: list[Verdict], verdicts: list[Verdict]) -> list[Verdict]:
    """Keep each invariant's first failure."""
    if not so_far:
        return verdicts
    return [old if not old.held else new for old, new in zip(so_far, verdicts, strict=True)]


def shrink_case(task: Task, play: Run, case: Case, invariant: str, budget: int = SHRINK_RUNS) -> tuple[Case, Verdict]:
    """The smallest case reachable one step at a time from `case` that still breaks `invariant`."""
    verdict = _breaks(task, play, case, invariant)
    assert verdict is not None, "the case to shrink must fail"
    runs = 0
    progress = True
    while progress and runs < budget:
        progress = False
        for candidate in smaller(case):
            runs += 1
            found = _breaks(task, play, candidate, invariant)
            if found is not None:
                case, verdict, progress = candidate, found, True
                break
            if runs >= budget:
                break
    return case, verdict


def _breaks(task: Task, play: Run, case: Case, invariant: str) -> Verdict | None:
    verdict = check((invariant,), case, play(case), task.limits)[0]
    return None if verdict.held else verdict


def counterexample(task: Task, play: Run, seed: int, case: Case, verdict: Verdict) -> Counterexample:
    shrunk, found = shrink_case(task, play, case, verdict.invariant)
    history = play(shrunk)
    return Counterexample(seed, found.invariant, found.detail, case.describe(), shrunk.describe(),
                          tuple(f.words() for f in shrunk.faults), len(shrunk.messages), found.messages,
                          tuple(history.events))
