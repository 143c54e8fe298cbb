"""How long `post-office-lab grade` takes on the simulation, per task, against a baseline timed in the same run.

For each task, three timings (wall time, time.perf_counter):

- grade: the reference at seeds 1 to 20 as a learner runs it — a confined child process started, the handler
  loaded, 20 cases simulated and checked (`grade_isolated`, the command line's and the page's path). The target is
  under 10 s.
- baseline: the same 20 cases in this process with a handler that does nothing (`def handle(m, ctx): pass`) —
  what the simulation and the checker cost without the learner's code or a process of its own.
- shrink: the start file, which fails, graded in this process at seeds 1 to 20 with its counterexample shrunk —
  the extra a failing learner waits for — and the shrunk case's size.

Run:  .venv/bin/python -m bench.grade_speed
"""

from __future__ import annotations

import time
from collections.abc import Callable
from functools import partial

from sandbox.grade.grader import Report, grade
from sandbox.grade.isolated import grade_isolated
from sandbox.grade.tasks import load_tasks

SEEDS = range(1, 21)
TARGET_S = 10.0
NOTHING = "def handle(message, ctx):\n    pass\n"


def timed(work: Callable[[], Report]) -> tuple[float, Report]:
    started = time.perf_counter()
    result = work()
    return time.perf_counter() - started, result


def main() -> None:
    print("| task | grade, 20 seeds, own process | baseline: 20 seeds, no-op handler, in process | "
          "start graded + shrunk | shrunk to | target |")
    print("| --- | --- | --- | --- | --- | --- |")
    for task in load_tasks():
        graded_s, report = timed(partial(grade_isolated, task.reference, task.id, SEEDS, "reference.py"))
        assert report.passed, report
        baseline_s, _ = timed(partial(grade, task, NOTHING, SEEDS, shrink=False))
        shrunk_s, failing = timed(partial(grade, task, task.start, SEEDS, "start.py"))
        counter = failing.counterexample
        size = counter.shrunk if counter else "—"
        mark = "✓" if graded_s < TARGET_S else "✗"
        print(f"| {task.id} | {graded_s:.2f} s | {baseline_s:.2f} s | {shrunk_s:.2f} s | {size} | "
              f"{mark} < {TARGET_S:g} s |")


if __name__ == "__main__":
    main()
