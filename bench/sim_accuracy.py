"""Accuracy of the simulation engine: its blog service set up as an M/M/c queue, against Erlang C.

With http.rtt_ms = 0, redis.rtt_ms = 0, db.read_ms = 0, blog.authors_per_page = 0, cache.ttl_s = 0, no
writes or profile updates, client.timeout_s = 0 (wait forever) and one `sync` variant, a read is: Poisson
arrival, wait for one of the blog's c workers, hold it for an exponential service time
(services.blog.service_ms), answer. Every other knob that could add to a read's hold time is zero: the
cache lookup is an instant Redis command, and only the first read misses the cache (never invalidated,
never expiring), and a miss then costs no time. That is an exact M/M/c queue, whose mean wait in queue is
Erlang C (sandbox.model.theory.erlang_c_wait_s):  W_q = C(c, a) / (c*mu - lambda),  a = lambda / mu.

Estimator, per seed: mean latency of every read that finished after the warm-up, minus the known
mean service time (100 ms); latency = wait + own service time, so this is unbiased for W_q and the
service-time draws add only about 100 ms / sqrt(reads) of noise (~0.1 ms). The run's uncertainty
is shown as a batch-means standard error (20 batches per seed) and, over the 14 seeds, the standard
error of their mean and a 95% t-interval.

Seeds run in parallel worker processes (up to 2). Wall time is time.perf_counter(); peak memory is
the largest peak resident set size of a worker process (resource.getrusage RUSAGE_CHILDREN).

Run:  .venv/bin/python -m bench.sim_accuracy    (from the repository's root; about 5 CPU-minutes in 2 processes)
"""

from __future__ import annotations

import math
import os
import resource
import statistics
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass

from sandbox.engine import run_scenario
from sandbox.model.scenario import parse_scenario_text
from sandbox.model.theory import erlang_c, erlang_c_wait_s
from sandbox.sim.engine import SimEngine

SERVICE_MS = 100.0
DURATION_S = 7_000  # the longest run a scenario may have is 7,200 s: more seeds instead of longer runs
WARMUP_S = 200
SEEDS = tuple(range(1, 15))
BATCHES = 20
TARGET_REL_ERROR = 0.03
T95_13DF = 2.160  # two-sided 95% quantile of Student's t with 13 degrees of freedom (14 seeds)
VARIANT = "mmc"


@dataclass(frozen=True)
class Config:
    workers: int
    rho: float

    @property
    def mu_per_s(self) -> float:
        return 1000.0 / SERVICE_MS

    @property
    def lambda_per_s(self) -> float:
        return self.rho * self.workers * self.mu_per_s

    @property
    def label(self) -> str:
        return f"M/M/{self.workers} rho {self.rho:.2f}"


CONFIGS = (Config(workers=4, rho=0.8), Config(workers=8, rho=0.9))


@dataclass(frozen=True)
class SeedResult:
    seed: int
    reads: int
    mean_latency_ms: float
    batch_se_ms: float
    wall_s: float

    @property
    def mean_wait_ms(self) -> float:
        return self.mean_latency_ms - SERVICE_MS


def erlang_c_wait_ms(config: Config) -> float:
    """Mean wait in queue W_q, in milliseconds."""
    return erlang_c_wait_s(config.workers, config.lambda_per_s, SERVICE_MS / 1000.0) * 1000.0


def mmc_scenario_text(workers: int, arrivals_per_s: float, duration_s: int = DURATION_S) -> str:
    """The blog service alone as an M/M/c queue: Poisson reads, exponential service SERVICE_MS on `workers`,
    every round trip, query and cache at 0 (tests/unit/sim/test_erlang_c.py runs the same model)."""
    return f"""
title = "blog as an M/M/{workers} queue"
duration = {duration_s}

[load]
reads_per_s = {arrivals_per_s!r}
writes_per_s = 0

[knobs]
http.rtt_ms = 0
redis.rtt_ms = 0
db.read_ms = 0
cache.ttl_s = 0
load.profile_updates_per_s = 0
blog.authors_per_page = 0
client.timeout_s = 0
services.distribution = "exponential"
services.blog.workers = {workers}
services.blog.service_ms = {SERVICE_MS!r}

[variants.{VARIANT}]
architecture = "sync"
"""


def run_seed(job: tuple[Config, int]) -> SeedResult:
    """One engine run; the mean latency of reads finished in [WARMUP_S, DURATION_S) and its batch-means SE."""
    config, seed = job
    # a benchmark's long runs are its own: no work budget (model/budget.py guards what learners type)
    text = mmc_scenario_text(config.workers, config.lambda_per_s)
    scenario = parse_scenario_text(text, "<bench/sim_accuracy.py>", max_requests=None)
    started = time.perf_counter()
    engine = SimEngine(scenario, seed=seed)
    run_scenario(scenario, engine, seed)
    wall_s = time.perf_counter() - started
    measurements = engine.measurements(VARIANT)
    errors = measurements.totals(0, DURATION_S)["read.errors"]
    if errors:
        raise RuntimeError(f"{config.label} seed {seed}: {errors} failed reads; the set-up is not an M/M/c queue")
    per_batch = (DURATION_S - WARMUP_S) // BATCHES
    batch_means = []
    total_ms = 0.0
    reads = 0
    for i in range(BATCHES):
        start_s = WARMUP_S + i * per_batch
        latencies = measurements.latencies_ms("read", start_s, start_s + per_batch)
        batch_means.append(statistics.fmean(latencies))
        total_ms += math.fsum(latencies)
        reads += len(latencies)
    batch_se_ms = statistics.stdev(batch_means) / math.sqrt(BATCHES)
    return SeedResult(seed, reads, total_ms / reads, batch_se_ms, wall_s)


def main() -> None:
    started = time.perf_counter()
    jobs = [(config, seed) for config in CONFIGS for seed in SEEDS]
    with ProcessPoolExecutor(max_workers=min(2, os.cpu_count() or 1)) as pool:
        results = list(pool.map(run_seed, jobs))
    wall_s = time.perf_counter() - started
    peak_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024

    print(f"engine as an M/M/c queue: exponential service {SERVICE_MS:g} ms, {DURATION_S} s per seed, "
          f"first {WARMUP_S} s dropped")
    print("mean wait = mean latency - 100 ms; batch SE = batch-means standard error within the seed")
    print(f"{'config':<16} {'seed':>4} {'reads':>10} {'latency ms':>11} {'wait ms':>8} {'batch SE':>9} {'wall s':>7}")
    summaries = []
    for i, config in enumerate(CONFIGS):
        rows = results[i * len(SEEDS):(i + 1) * len(SEEDS)]
        for r in rows:
            print(f"{config.label:<16} {r.seed:>4} {r.reads:>10,} {r.mean_latency_ms:>11.2f} "
                  f"{r.mean_wait_ms:>8.2f} {r.batch_se_ms:>9.2f} {r.wall_s:>7.1f}")
        waits = [r.mean_wait_ms for r in rows]
        mean_ms = statistics.fmean(waits)
        se_ms = statistics.stdev(waits) / math.sqrt(len(waits))
        theory_ms = erlang_c_wait_ms(config)
        summaries.append((config, theory_ms, mean_ms, se_ms))
        print(f"{config.label:<16} {'mean':>4} {sum(r.reads for r in rows):>10,} {'':>11} {mean_ms:>8.2f} "
              f"{se_ms:>9.2f} {'':>7}")
    print()
    print(f"{'config':<16} {'lambda/s':>8} {'C(c,a)':>7} {'theory ms':>10} {'sim ms':>8} {'SE ms':>6} "
          f"{'95% CI ms':>15} {'rel err':>8}")
    for config, theory_ms, mean_ms, se_ms in summaries:
        a = config.lambda_per_s / config.mu_per_s
        low, high = mean_ms - T95_13DF * se_ms, mean_ms + T95_13DF * se_ms
        rel = (mean_ms - theory_ms) / theory_ms
        print(f"{config.label:<16} {config.lambda_per_s:>8g} {erlang_c(config.workers, a):>7.4f} {theory_ms:>10.2f} "
              f"{mean_ms:>8.2f} {se_ms:>6.2f} {f'[{low:.1f}, {high:.1f}]':>15} {rel:>+8.1%}")
    print(f"wall time {wall_s:.1f} s for {len(jobs)} runs; peak RSS of a worker process (ru_maxrss) {peak_mb:.0f} MB")
    for config, theory_ms, mean_ms, _ in reversed(summaries):
        rel = abs(mean_ms - theory_ms) / theory_ms
        print(f"Erlang-C mean wait ({config.label}): theory {theory_ms:.1f} ms, simulated {mean_ms:.1f} ms "
              f"({len(SEEDS)}-seed mean), relative error {rel:.1%} (target <= {TARGET_REL_ERROR:.0%})")


if __name__ == "__main__":
    main()
