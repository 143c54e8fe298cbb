"""The simulation as an M/M/c queue holds to Erlang C's mean wait (bench/sim_accuracy.py, made fast).

The blog service alone, set up exactly as bench/sim_accuracy.py does: Poisson reads, c workers, exponential
service, and every knob that adds to a read's time (round trips, the database, author lookups, cache expiry)
at zero. Then a read's latency is its wait for a worker plus its own service time, and the mean latency minus
the known mean service time estimates Erlang C's W_q without bias.

Tolerance: the reads after a warm-up are cut by finish time into BATCHES consecutive batches (each hundreds of
seconds, far longer than the queue's memory of a few seconds, so their means are close to independent), and
the batch-means standard error SE = sd(batch means) / sqrt(BATCHES) measures the estimate's own noise. The
test asserts |simulated − Erlang C| < K · SE with K = 3: for a correct engine the ratio follows Student's t with
BATCHES − 1 = 39 degrees of freedom, so a new random stream fails it with probability about 0.5%, and the run
is seeded, so a given engine passes or fails every time. A read that holds its worker 1 ms (1%) longer — the
bench's old `redis.rtt_ms = 1` — moves the estimate by about 4-5 SE and fails it. Sanity bounds keep the test
from passing vacuously: SE under 5% of the theory, every read answered, the error under 10%.
"""

from __future__ import annotations

import math
import statistics

from bench.sim_accuracy import SERVICE_MS, VARIANT, mmc_scenario_text
from sandbox.engine import run_scenario
from sandbox.model.scenario import parse_scenario_text
from sandbox.model.theory import erlang_c_wait_s
from sandbox.sim.engine import SimEngine

WORKERS = 4
RHO = 0.5
ARRIVALS_PER_S = RHO * WORKERS * 1000.0 / SERVICE_MS  # 20 reads/s
DURATION_S = 7_000  # 140,000 reads, inside the longest run (7,200 s) and the work budget: 3-8 s of wall time
WARMUP_S = 200
BATCHES = 40
K = 3.0
SEED = 1

SCENARIO = mmc_scenario_text(WORKERS, ARRIVALS_PER_S, DURATION_S)


def simulated_waits_ms() -> tuple[list[float], int, int]:
    """Per batch of seconds after the warm-up, the mean latency of the reads that finished in it minus the mean
    service time; and how many reads ended ok and not."""
    scenario = parse_scenario_text(SCENARIO, "<tests/unit/sim/test_erlang_c.py>")
    engine = SimEngine(scenario, seed=SEED)
    try:
        run_scenario(scenario, engine, SEED)
    finally:
        engine.close()
    measurements = engine.measurements(VARIANT)
    batch_s = (DURATION_S - WARMUP_S) / BATCHES
    waits = [statistics.fmean(measurements.latencies_ms("read", start, start + batch_s)) - SERVICE_MS
             for start in (WARMUP_S + i * batch_s for i in range(BATCHES))]
    totals = measurements.totals(0, DURATION_S)
    return waits, totals["read.ok"], totals["read.errors"]


def test_the_theory_is_erlang_c():
    # M/M/1: W_q = rho / (mu - lambda); M/M/2 at a = 1: C = 1/3, W_q = C / (2 mu - lambda)
    assert math.isclose(erlang_c_wait_s(1, 8.0, 0.1), 0.8 / (10.0 - 8.0))
    assert math.isclose(erlang_c_wait_s(2, 10.0, 0.1), (1 / 3) / (20.0 - 10.0))


def test_the_simulated_mean_wait_is_erlang_cs_within_three_batch_standard_errors():
    waits, ok, failed = simulated_waits_ms()
    theory_ms = erlang_c_wait_s(WORKERS, ARRIVALS_PER_S, SERVICE_MS / 1000.0) * 1000.0
    simulated_ms = statistics.fmean(waits)
    se_ms = statistics.stdev(waits) / math.sqrt(BATCHES)
    summary = (f"M/M/{WORKERS} rho {RHO}: Erlang C {theory_ms:.2f} ms, simulated {simulated_ms:.2f} ms "
               f"± {se_ms:.2f} ms (batch-means SE), {(simulated_ms - theory_ms) / se_ms:+.1f} SE")
    assert failed == 0 and abs(ok - ARRIVALS_PER_S * DURATION_S) < 5 * math.sqrt(ARRIVALS_PER_S * DURATION_S), \
        f"not an M/M/c set-up: {ok} reads answered, {failed} failed"
    assert se_ms < 0.05 * theory_ms, f"too noisy to test anything: {summary}"
    assert abs(simulated_ms - theory_ms) < 0.10 * theory_ms, summary
    assert abs(simulated_ms - theory_ms) < K * se_ms, summary
