"""Speed and memory of the simulation engine, against a bare SimPy M/M/4 on the same machine.

Engine: a 600 s scenario at 200 requests/s (190 reads/s + 10 writes/s), both default variants
(sync and queue), with faults on the timeline. Simulated requests = finished reads + writes of
all variants; speed = simulated requests per wall-second (scenario parse excluded, engine
construction and the whole timeline included).

Bare: the textbook SimPy M/M/4 at rho = 0.8 (a source process, `with res.request() as req:
yield req; yield env.timeout(expovariate)`), 200,000 customers; speed = customers per
wall-second. Each customer records its time in system, as the engine records each latency.

Wall time is time.perf_counter() (CPU time, time.process_time(), beside it: on a busy machine it is the
fairer of the two), best of 3 rounds; a round runs the engine, then the bare model, so both
see the machine's load alike. Peak memory is measured in a separate,
untimed engine run under tracemalloc (peak of Python allocations during that run); the
process's peak resident set size (resource.getrusage ru_maxrss) is printed too.

Run:  .venv/bin/python -m bench.sim_speed [--profile]
      (--profile also prints the 10 hottest functions of one engine run, by own time)
"""

from __future__ import annotations

import cProfile
import io
import os
import pstats
import random
import resource
import sys
import time
import tracemalloc

import simpy

from sandbox.engine import run_scenario
from sandbox.model.scenario import Scenario, parse_scenario_text
from sandbox.sim.engine import SimEngine

REPEATS = 3
SEED = 11
DURATION_S = 600
BARE_CUSTOMERS = 200_000
BARE_SERVERS = 4
BARE_RHO = 0.8
SPEED_TARGET = 1.0
MEMORY_TARGET_MB = 300

SCENARIO = f"""
title = "engine speed benchmark"
duration = {DURATION_S}
seed = {SEED}

[load]
reads_per_s = 190
writes_per_s = 10

[[timeline]]
at = 120
do = "kill"
target = "user"

[[timeline]]
at = 240
do = "revive"
target = "user"

[[timeline]]
at = 300
do = "latency"
target = "user"
ms = 500

[[timeline]]
at = 400
do = "heal"
target = "user"

[[timeline]]
at = 420
do = "kill"
target = "cache-worker"

[[timeline]]
at = 480
do = "revive"
target = "cache-worker"

[[timeline]]
at = 500
do = "restart"
target = "broker"
down_s = 10
"""


def scheduled_events(env: simpy.Environment) -> int:
    """How many events `env` has scheduled so far (SimPy numbers them with the private counter _eid)."""
    return next(env._eid)


def run_engine(scenario: Scenario) -> tuple[int, int]:
    """Play the whole scenario; return (finished reads + writes of all variants, SimPy events)."""
    engine = SimEngine(scenario, seed=SEED)
    run_scenario(scenario, engine, SEED)
    finished = events = 0
    for name, world in engine.worlds.items():
        totals = engine.measurements(name).totals(0, scenario.duration_s)
        finished += totals["read.ok"] + totals["read.errors"] + totals["write.ok"] + totals["write.errors"]
        events += scheduled_events(world.ctx.env)
    return finished, events


def run_bare(customers: int, servers: int, rho: float, seed: int) -> tuple[int, int]:
    """Textbook SimPy M/M/c with mean service 1 s; return (customers served, SimPy events)."""
    rng = random.Random(seed)
    service_rate = 1.0
    arrival_rate = rho * servers * service_rate
    env = simpy.Environment()
    res = simpy.Resource(env, capacity=servers)
    times_in_system: list[float] = []

    def customer():
        arrived = env.now
        with res.request() as req:
            yield req
            yield env.timeout(rng.expovariate(service_rate))
        times_in_system.append(env.now - arrived)

    def source():
        for _ in range(customers):
            env.process(customer())
            yield env.timeout(rng.expovariate(arrival_rate))

    env.process(source())
    env.run()
    return len(times_in_system), scheduled_events(env)


Timing = tuple[float, float, tuple[int, int]]
"""(wall seconds, CPU seconds of this process, what the run returned)."""


def timed(fn, *args) -> Timing:
    started, started_cpu = time.perf_counter(), time.process_time()
    result = fn(*args)
    return time.perf_counter() - started, time.process_time() - started_cpu, result


def alternating_best(repeats: int, scenario: Scenario) -> tuple[Timing, Timing]:
    """Fastest engine run and fastest bare run over `repeats` rounds of one each, alternating, so that a change
    in the machine's load during the run falls on both alike."""
    engine: list[Timing] = []
    bare: list[Timing] = []
    for _ in range(repeats):
        engine.append(timed(run_engine, scenario))
        bare.append(timed(run_bare, BARE_CUSTOMERS, BARE_SERVERS, BARE_RHO, SEED))
    return min(engine), min(bare)


def engine_peak_mb(scenario: Scenario) -> float:
    """Peak traced Python allocations during one engine run, in MB (1 MB = 2**20 bytes)."""
    tracemalloc.start()
    try:
        run_engine(scenario)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return peak / 2**20


def max_rss_mb() -> float:
    """This process's peak resident set size so far, in MB (Linux reports ru_maxrss in KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def print_profile(scenario: Scenario, top: int = 10) -> None:
    profiler = cProfile.Profile()
    profiler.runcall(run_engine, scenario)
    out = io.StringIO()
    pstats.Stats(profiler, stream=out).sort_stats("tottime").print_stats(top)
    print(f"cProfile of one engine run, top {top} by own time (profiling slows the run):")
    print(out.getvalue().strip())
    print()


def main(argv: list[str]) -> None:
    scenario = parse_scenario_text(SCENARIO, "<bench/sim_speed.py>")
    if "--profile" in argv:
        print_profile(scenario)

    (engine_s, engine_cpu_s, (requests, engine_events)), (bare_s, bare_cpu_s, (customers, bare_events)) = \
        alternating_best(REPEATS, scenario)
    load_1min = os.getloadavg()[0]
    peak_mb = engine_peak_mb(scenario)
    rss_mb = max_rss_mb()

    ratio = (requests / engine_s) / (customers / bare_s)
    cpu_ratio = (requests / engine_cpu_s) / (customers / bare_cpu_s)

    print(f"simulation speed, best of {REPEATS} rounds of engine then bare (Python {sys.version.split()[0]}, "
          f"SimPy {simpy.__version__}; load average {load_1min:.1f} at the end)")
    rows = [
        ("engine: 600 s, 200 req/s, faults, sync + queue", requests, engine_events, engine_s, engine_cpu_s),
        ("bare SimPy M/M/4, rho 0.8", customers, bare_events, bare_s, bare_cpu_s),
    ]
    print(f"{'run':<48} {'requests':>9} {'wall s':>7} {'CPU s':>6} {'requests/wall-s':>16} "
          f"{'SimPy events':>13} {'events/req':>10} {'events/wall-s':>14}")
    for label, done, events, wall_s, cpu_s in rows:
        print(f"{label:<48} {done:>9,} {wall_s:>7.2f} {cpu_s:>6.2f} {done / wall_s:>16,.0f} "
              f"{events:>13,} {events / done:>10.1f} {events / wall_s:>14,.0f}")
    print(f"engine peak memory (tracemalloc, separate run): {peak_mb:.1f} MB; "
          f"process peak RSS (ru_maxrss): {rss_mb:.0f} MB")
    print(f"engine/bare speed ratio: {ratio:.2f} by wall time, {cpu_ratio:.2f} by CPU time (target >= {SPEED_TARGET}); "
          f"peak memory {peak_mb:.0f} MB (target < {MEMORY_TARGET_MB} MB)")


if __name__ == "__main__":
    main(sys.argv[1:])
