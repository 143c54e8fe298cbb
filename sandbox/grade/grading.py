"""The front door of grading, for the command line, `check` and the Challenges page: how many seeds, which
engine, and the proof that a task's files say what they claim."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from sandbox.grade.grader import ANY, Report, grade
from sandbox.grade.handler import HandlerError, compile_handler
from sandbox.grade.invariants import TITLES
from sandbox.grade.isolated import grade_isolated
from sandbox.grade.tasks import Task, TaskError

DEFAULT_SEEDS = 20
MAX_SEEDS = 100
"""The most seeds one simulated grading runs (every reference passes seeds 1 to 100)."""
MAX_LIVE_SEEDS = 5
"""The most seeds one live grading runs (each takes up to a minute of wall-clock time)."""
MAX_SEED = 1_000_000


def seeds_of(engine: str, count: int | None, seed: int | None) -> list[int]:
    """The seeds to run: `seed` alone, or the first `count` (defaults: 20 on the simulation, 1 on the lab)."""
    if seed is not None:
        if not 0 <= seed <= MAX_SEED:
            raise TaskError("--seed", "", f"{seed} is out of range; use 0 to {MAX_SEED:,}")
        return [seed]
    most = MAX_SEEDS if engine == "sim" else MAX_LIVE_SEEDS
    count = (DEFAULT_SEEDS if engine == "sim" else 1) if count is None else count
    if not 1 <= count <= most:
        raise TaskError("--seeds", "", f"{count} is out of range; use 1 to {most} on the "
                                       f"{'simulation' if engine == 'sim' else 'live lab'}")
    return list(range(1, count + 1))


def grade_file(task: Task, source: str, seeds: Sequence[int], engine: str = "sim",
               filename: str = "handler.py") -> Report:
    """A learner's handler graded: on the simulation in a confined child process, or on the live lab."""
    try:
        compile_handler(source, filename)  # a syntax error needs no process of its own to be found
    except HandlerError as exc:
        return Report(task.id, engine, list(seeds), stopped=str(exc))
    if engine == "live":
        from sandbox.grade.live import grade_live

        return grade_live(task, source, seeds, filename)
    return grade_isolated(source, task.id, seeds, filename)


@dataclass
class Proof:
    seeds: list[int]
    wrong_failing: int = 0
    problems: list[str] = field(default_factory=list)
    broken: list[str] = field(default_factory=list)
    """For each wrong solution: which invariant it broke, and at which seed first."""

    @property
    def ok(self) -> bool:
        return not self.problems


def prove(task: Task, seeds: Sequence[int] = range(1, DEFAULT_SEEDS + 1)) -> Proof:
    """Check a task's own files, in this process (they are the project's): the reference passes every seed, the start
    fails, and each wrong solution fails the invariant it names."""
    proof = Proof(list(seeds))
    reference = grade(task, task.reference, seeds, "reference.py", shrink=False)
    for verdict in reference.verdicts:
        if not verdict.held:
            seed = reference.failing_seeds[verdict.invariant][0]
            proof.problems.append(f"reference breaks “{TITLES[verdict.invariant]}” at seed {seed}: {verdict.detail}")
    if reference.stopped:
        proof.problems.append(f"reference: {reference.stopped}")
    if grade(task, task.start, seeds, "start.py", shrink=False, stop_when=ANY).passed:
        proof.problems.append("the start already passes: there is nothing to solve")
    for wrong in task.wrong:
        report = grade(task, wrong.source, seeds, wrong.file, shrink=False, stop_when=wrong.breaks)
        if wrong.breaks in report.failing_seeds:
            proof.wrong_failing += 1
            proof.broken.append(f"{wrong.file} breaks “{TITLES[wrong.breaks]}” (first at seed "
                                f"{report.failing_seeds[wrong.breaks][0]})")
        else:
            broken = ", ".join(TITLES[i] for i in report.failing_seeds) or "nothing"
            proof.problems.append(f"{wrong.file} should break “{TITLES[wrong.breaks]}” but breaks {broken}"
                                  + (f" ({report.stopped})" if report.stopped else ""))
    return proof
