"""What judging challenges on several seeds costs, against the one-seed judging it replaced, timed in the same run.

For each challenge, CPU time of this process (time.process_time, steadier than the wall clock on a busy machine):

- baseline: the start and the reference at the challenge's own seed — what `check` ran per challenge before.
- check: what `check` runs now — the start until its first failing seed, the reference on every judged seed and
  each tempting wrong design on every judged seed.
- a try: one design (the reference) on every judged seed — what a learner waits for after *try it*.

Run:  .venv/bin/python -m bench.challenge_judging
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable

from sandbox.teach.challenge_run import JUDGED_SEEDS, attempt, judge_tempting
from sandbox.teach.challenges import Challenge, load_challenges


def cpu_s(work: Callable[[], object]) -> float:
    started = time.process_time()
    work()
    return time.process_time() - started


def baseline(c: Challenge) -> None:
    seed = (c.scenario.seed,)
    attempt(c, c.start, seed), attempt(c, c.solution, seed)


def check(c: Challenge) -> None:
    attempt(c, c.start, until_failure=True), attempt(c, c.solution)
    for tempting in c.tempting:
        judge_tempting(c, tempting)


def main() -> None:
    print(f"| challenge | baseline: start + reference, 1 seed | check: start, reference and tempting designs, "
          f"{JUDGED_SEEDS} seeds | a try: {JUDGED_SEEDS} seeds |")
    print("| --- | --- | --- | --- |")
    totals = [0.0, 0.0, 0.0]
    for c in load_challenges():
        row = [cpu_s(functools.partial(baseline, c)), cpu_s(functools.partial(check, c)),
               cpu_s(functools.partial(attempt, c, c.solution))]
        totals = [t + r for t, r in zip(totals, row, strict=True)]
        print(f"| {c.id} ({len(c.tempting)} tempting) | {row[0]:.2f} s | {row[1]:.2f} s | {row[2]:.2f} s |")
    print(f"| all | {totals[0]:.2f} s | {totals[1]:.2f} s ({totals[1] / totals[0]:.1f}×) | {totals[2]:.2f} s |")


if __name__ == "__main__":
    main()
