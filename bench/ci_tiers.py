"""Every test, in tiers, fastest first: what `./dev test` runs after installing, and what each tier cost.

The tiers run in order and the run stops at the first that fails:

    ruff      ruff check .
    mypy      mypy (pyproject's files)
    fast      pytest -n 2 -m "not live and not browser"   unit, integration without servers, e2e without a browser
    live      pytest -m "live and not browser"            real RabbitMQ and Redis, on the wall clock, one at a time
    browser   pytest -m browser                           Chromium against `streamlit run`

The fast tier runs on two pytest-xdist workers. The live tier runs one test at a time: on two workers it took
13 minutes instead of about 20, but four fresh-clone runs each met one failure that two live tests at once
provoke (a port taken between its choice and its bind, a cluster join aborted in Mnesia, a cluster that did not
recover beside another run's nodes). The few tests that are not independent of each other (one
standing lab per broker; a count of every grade run's queues) hold a machine-wide lock while they run
(`tests.helpers.one_at_a_time`), so they never overlap. (pytest-xdist's `--dist loadgroup` did not keep an
`xdist_group` on one worker here, with pytest 9.2 and pytest-xdist 3.8.) A live bound should sit two spreads from
what the lab reads on a machine busier than CI's (bench/live_spread.py measures it). The browser tests run one at
a time: Chromium and Streamlit fill both cores.

At the end, passed or not, a table gives each tier's wall time and CPU time (user + system of the tier's processes
and every process they waited for: pytest's workers, servers, RabbitMQ nodes the tests started) and the total, so a
change can see what it cost. Extra arguments go to every pytest tier (`./dev test tests/unit -k breaker`); a tier
they select no test from passes as "no tests", but a run in which no tier selects a test fails with pytest's exit
status 5, and so does any tier that collects nothing when no arguments narrowed it (in CI that means a folder or
a marker went missing).

    .venv/bin/python -m bench.ci_tiers [pytest arguments]
"""

from __future__ import annotations

import resource
import subprocess
import sys
import time
from dataclasses import dataclass

WORKERS = 2  # the machine CI runs on has two cores
NO_TESTS = 5  # pytest's exit status when the arguments select no test


@dataclass(frozen=True)
class Tier:
    name: str
    argv: tuple[str, ...]
    pytest: bool = False  # extra arguments go to it, and "no test selected" is no failure


def tiers(pytest_args: list[str]) -> list[Tier]:
    py = sys.executable
    pytest = (py, "-m", "pytest")
    # worksteal: a worker that runs out of tests takes some of the other's (the live tests last 1 s to 3 minutes)
    parallel = (*pytest, "-n", str(WORKERS), "--dist", "worksteal")
    return [
        Tier("ruff", (py, "-m", "ruff", "check", ".")),
        Tier("mypy", (py, "-m", "mypy")),
        Tier("fast", (*parallel, "-m", "not live and not browser", *pytest_args), pytest=True),
        Tier("live", (*pytest, "-m", "live and not browser", *pytest_args), pytest=True),
        Tier("browser", (*pytest, "-m", "browser", *pytest_args), pytest=True),
    ]


@dataclass
class Outcome:
    tier: str
    result: str
    wall_s: float
    cpu_s: float


def run(tier: Tier, narrowed: bool) -> tuple[int, Outcome]:
    print(f"\n==== {tier.name}: {' '.join(tier.argv[1:])}", flush=True)
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.monotonic()
    status = subprocess.call(tier.argv)
    wall_s = time.monotonic() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu_s = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    if tier.pytest and status == NO_TESTS and narrowed:
        return 0, Outcome(tier.name, "no tests", wall_s, cpu_s)
    return status, Outcome(tier.name, "passed" if status == 0 else f"FAILED ({status})", wall_s, cpu_s)


def table(outcomes: list[Outcome], planned: list[Tier]) -> str:
    lines = [f"{'tier':<8} {'result':<12} {'wall s':>8} {'CPU s':>8}"]
    for outcome in outcomes:
        lines.append(f"{outcome.tier:<8} {outcome.result:<12} {outcome.wall_s:>8.1f} {outcome.cpu_s:>8.1f}")
    for tier in planned[len(outcomes):]:
        lines.append(f"{tier.name:<8} {'not run':<12} {'':>8} {'':>8}")
    wall_s, cpu_s = sum(o.wall_s for o in outcomes), sum(o.cpu_s for o in outcomes)
    lines.append(f"{'total':<8} {'':<12} {wall_s:>8.1f} {cpu_s:>8.1f}")
    return "\n".join(lines)


def main(argv: list[str]) -> int:
    planned = tiers(argv)
    outcomes: list[Outcome] = []
    status = 0
    for tier in planned:
        status, outcome = run(tier, narrowed=bool(argv))
        outcomes.append(outcome)
        if status != 0:
            break
    if status == 0 and all(o.result == "no tests" for o, t in zip(outcomes, planned, strict=False) if t.pytest):
        status = NO_TESTS
    print("\n==== each tier's time (python -m bench.ci_tiers)")
    print(table(outcomes, planned), flush=True)
    return status


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
