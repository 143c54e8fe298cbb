"""How far each expectation of a scenario file sits from its bound on the live lab, over several runs.

Runs each named scenario file unchanged on the lab (as `python -m sandbox run scenarios/NAME.toml --engine live`
does, and as tests/integration/live/test_scenario_files_live.py does) RUNS times, and prints per expectation the
observed minimum, median and maximum, the bound, and the margin: the distance from the bound to the nearest
observed value, in units of the spread (max - min). A live bound should sit at least 2 spreads away ("ok"); below
that the row says "EDGE", and a bound an observed value crossed says "FAILED". The load average before each run
is printed, since readings on a busy two-core machine spread wider.

Run:  .venv/bin/python -m bench.live_spread user-down poison-message [--runs 5]    (each run lasts its scenario's
duration plus about 10 s to start and stop the lab)
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from pathlib import Path

from sandbox.catalog import load_scenario
from sandbox.engine import run_scenario
from sandbox.live.engine import LiveEngine
from sandbox.model.expectations import Expectation

SCENARIOS = Path(__file__).resolve().parents[1] / "scenarios"
MARGIN_SPREADS = 2.0


def margin(expectation: Expectation, observed: list[float]) -> tuple[float, str]:
    """(distance from the bound to the nearest reading, in spreads; ok / EDGE / FAILED)."""
    low, high = min(observed), max(observed)
    spread = high - low
    if expectation.comparison in ("above", "at_least"):
        distance = low - expectation.bound
        crossed = low <= expectation.bound if expectation.comparison == "above" else low < expectation.bound
    else:
        distance = expectation.bound - high
        crossed = high >= expectation.bound if expectation.comparison == "below" else high > expectation.bound
    spreads = distance / spread if spread > 0 else float("inf")
    return spreads, "FAILED" if crossed else "ok" if spreads >= MARGIN_SPREADS else "EDGE"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("names", nargs="+", help="scenario files in scenarios/, without .toml")
    parser.add_argument("--runs", type=int, default=5, choices=range(1, 21), metavar="1-20")
    args = parser.parse_args()
    for name in args.names:
        scenario = load_scenario(SCENARIOS / f"{name}.toml").on_live_clock()
        readings: dict[int, list[float | None]] = {i: [] for i in range(len(scenario.expectations))}
        loads, walls = [], []
        for _ in range(args.runs):
            loads.append(os.getloadavg()[0])
            started = time.monotonic()
            engine = LiveEngine(scenario)
            try:
                result = run_scenario(scenario, engine, scenario.seed)
            finally:
                engine.close()
            walls.append(time.monotonic() - started)
            for i, verdict in enumerate(result.verdicts):
                readings[i].append(verdict.observed)
        print(f"\n{name}: {args.runs} runs on the live lab, {min(walls):.0f}-{max(walls):.0f} s each, "
              f"load average {min(loads):.1f}-{max(loads):.1f} at their starts")
        print(f"{'variant':<10} {'metric':<20} {'window':<9} {'bound':<14} {'min':>9} {'median':>9} {'max':>9} "
              f"{'margin':>9}")
        for i, expectation in enumerate(scenario.expectations):
            observed = [value for value in readings[i] if value is not None]
            start, end = expectation.window(scenario.duration_s)
            bound = f"{expectation.comparison} {expectation.bound:g}"
            head = f"{expectation.variant:<10} {expectation.metric:<20} {f'{start:g}-{end:g}':<9} {bound:<14}"
            if len(observed) < len(readings[i]):
                print(f"{head} nothing measured in {len(readings[i]) - len(observed)} of {args.runs} runs")
                continue
            spreads, word = margin(expectation, observed)
            print(f"{head} {min(observed):>9.4g} {statistics.median(observed):>9.4g} {max(observed):>9.4g} "
                  f"{spreads:>6.1f} sp {word}")


if __name__ == "__main__":
    main()
