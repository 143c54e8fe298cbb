"""Does the simulation tell the same story as the live lab? The same scenario text on both engines, side by side.

Two scenarios, each written once below as TOML and run unchanged on SimEngine (seed SEED) and on LiveEngine
(real processes, RabbitMQ, Redis, HTTP, on the wall clock):

  user-down          sync and queue; kill user at 16 s, revive it at 30 s; 20 reads/s, 2 writes/s
  cache-worker-down  queue and queue with a 5 s cache TTL; kill the cache-worker at 16 s, revive it at 31 s;
                     20 reads/s, 5 writes/s, so a backlog builds while it is away
  mailer-killed      the mailer (mailer.enabled) killed while it handles 3 messages in 10, before or after its
                     e-mail, with consumer.dedup none, redis-before and inbox; 2 writes/s for 40 s. Compared:
                     effect.applied, effect.duplicates and effect.missing over the run (a count of kills is
                     binomial: at about 12 kills of a kind, one seed to the next moves it by about 30%)
  queue-full         a queue limited to 20 messages (drop-head, reject-publish); kill the cache-worker at 16 s,
                     revive it at 31 s; 10 reads/s, 4 writes/s
  redis-blip         a quorum queue with a delivery limit of 20, requeue at once or delayed retry; kill redis at
                     16 s, revive it at 21 s; 10 reads/s, 4 writes/s

Compared per variant (window metrics of sandbox/model/metrics.py, the same code for both engines):
read.error_rate, write.error_rate, queue.depth_max and staleness.max_s over the fault window, which starts
after the fault has taken hold and ends a second before the revive, so neither transition is in it; and
msg.lost, msg.dead_lettered, msg.dropped_by_limit, msg.rejected_by_limit and msg.retried over the whole run;
and, from 2 s until the fault, while everything is healthy (14 s: at 2 writes/s,
a median of fewer writes moves by ±15% from one seed to the next), read.p50_ms and
write.p50_ms: what the calibration of the simulation's per-request costs (http.rtt_ms, db.*_ms, broker.*_ms,
against the lab's measured costs; the lab's services spend services.<name>.service_ms as the sim does) must
get right. (With user down, sync reads fail only once a write has emptied the cache: the
window starts 4 s after the kill, as a gap of 2-3 s between writes at 2 writes/s is not rare.)
"sim 10 seeds" is the range of the simulation over seeds 1-10: how much of a difference the arrival noise
alone makes (the lab's Poisson arrivals come from another random stream).

Agreement: |sim - lab| / max(|lab|, floor) <= TOLERANCE. The floor is what the number is resolved to, so that
0 vs 0.001 is not "infinitely" different: an error rate to 0.02, a queue depth to 2 messages, staleness to
0.5 s (the lab reads it once a second; the sim keeps each second's peak), a loss count to 1 message, an e-mail
count to 1, a latency to 1 ms. A row
where both are exactly 0 agrees trivially; the headline says how many of the agreements are such rows.

The lab shares its RabbitMQ node with whatever else runs on the machine: an idle AMQP connection is held for
each live run, and if something restarts the node meanwhile (it closes every connection) the run is repeated
once when the wall budget allows, else its queue-variant numbers are marked. Servers: RABBITMQ_URL,
RABBITMQ_MANAGEMENT_URL and REDIS_URL, as for the lab.

Then the cluster numbers (bench/cluster_pause.py): a quorum queue's pause when its leader's node dies, on three
nodes the lab starts itself, against the sim's `broker.election_ms`, and how long a revived node takes to answer;
and the cluster's recovery window: the majority-loss story (cluster_pause.MAJORITY_LOSS) on both engines, the
seconds from the revive of broker-2 and broker-3 until the quorum variant's writes all succeed again (agreement
as above, with a floor of 1 s; about 4 min more on the lab).

Run:  .venv/bin/python -m bench.sim_vs_lab    (about 8 min; at most ~10 min with a repeated run)
      .venv/bin/python -m bench.sim_vs_lab queue-full redis-blip    (only the cases named; no cluster numbers)
"""

from __future__ import annotations

import os
import sys
import time
from dataclasses import dataclass

import pika
import pika.exceptions

from bench import cluster_pause
from bench.live_runs import run_live
from sandbox.engine import run_scenario
from sandbox.live.errors import LabError
from sandbox.model.measurements import Measurements
from sandbox.model.metrics import MetricName
from sandbox.model.scenario import Scenario, parse_scenario_text
from sandbox.sim.engine import SimEngine

SEED = 7
SIM_SEEDS = range(1, 11)
TOLERANCE = 0.25
FLOORS = {"read.error_rate": 0.02, "write.error_rate": 0.02, "queue.depth_max": 2.0, "staleness.max_s": 0.5,
          "msg.lost": 1.0, "read.p50_ms": 1.0, "write.p50_ms": 1.0, "effect.applied": 1.0,
          "effect.duplicates": 1.0, "effect.missing": 1.0, "msg.dead_lettered": 2.0,
          "msg.dropped_by_limit": 2.0, "msg.rejected_by_limit": 2.0, "msg.retried": 2.0}
HEALTHY_METRICS: tuple[MetricName, ...] = ("read.p50_ms", "write.p50_ms")
FAULT_METRICS: tuple[MetricName, ...] = ("read.error_rate", "write.error_rate", "queue.depth_max", "staleness.max_s")
RUN_METRICS: tuple[MetricName, ...] = ("msg.lost", "msg.dead_lettered", "msg.dropped_by_limit",
                                       "msg.rejected_by_limit", "msg.retried")
EFFECT_METRICS: tuple[MetricName, ...] = ("effect.applied", "effect.duplicates", "effect.missing")
WALL_BUDGET_S = 450.0

USER_DOWN = """
id = "bench-user-down"
title = "user down, sim vs lab"
duration = 38
seed = 7

[load]
reads_per_s = 20
writes_per_s = 2

[[timeline]]
at = 16
do = "kill"
target = "user"

[[timeline]]
at = 30
do = "revive"
target = "user"
"""

CACHE_WORKER_DOWN = """
id = "bench-cache-worker-down"
title = "cache-worker down, sim vs lab"
duration = 38
seed = 7

[load]
reads_per_s = 20
writes_per_s = 5

[variants.queue]
architecture = "queue"

[variants.queue-ttl]
architecture = "queue"
cache.ttl_s = 5

[[timeline]]
at = 16
do = "kill"
target = "cache-worker"

[[timeline]]
at = 31
do = "revive"
target = "cache-worker"
"""

MAILER_KILLED = """
id = "bench-mailer-killed"
title = "the mailer killed before or after its e-mail, sim vs lab"
duration = 40
seed = 7

[load]
reads_per_s = 5
writes_per_s = 2

[knobs]
mailer.enabled = true
mailer.crash_rate = 0.3
mailer.restart_s = 0.5

[variants.none]
architecture = "queue"

[variants.redis-before]
architecture = "queue"
consumer.dedup = "redis-before"

[variants.inbox]
architecture = "queue"
consumer.dedup = "inbox"
"""

QUEUE_FULL = """
id = "bench-queue-full"
title = "a full queue, sim vs lab"
duration = 38
seed = 7

[load]
reads_per_s = 10
writes_per_s = 4

[knobs]
broker.max_length = 20

[variants.drop-head]
architecture = "queue"
broker.overflow = "drop-head"

[variants.reject]
architecture = "queue"
broker.overflow = "reject-publish"

[[timeline]]
at = 16
do = "kill"
target = "cache-worker"

[[timeline]]
at = 31
do = "revive"
target = "cache-worker"
"""

REDIS_BLIP = """
id = "bench-redis-blip"
title = "a Redis blip with a delivery limit, sim vs lab"
duration = 38
seed = 7

[load]
reads_per_s = 10
writes_per_s = 4

[knobs]
broker.queue_type = "quorum"
consumer.delivery_limit = 20

[variants.hot-loop]
architecture = "queue"

[variants.delayed]
architecture = "queue"
consumer.retry = "delayed"

[[timeline]]
at = 16
do = "kill"
target = "redis"

[[timeline]]
at = 21
do = "revive"
target = "redis"
"""


@dataclass(frozen=True)
class Case:
    name: str
    text: str
    fault_window: tuple[float, float]  # [start, end): after the fault took hold, a second before the revive
    healthy_window: tuple[float, float]  # [start, end): warmed up, before the fault
    fault_metrics: tuple[MetricName, ...] = FAULT_METRICS
    run_metrics: tuple[MetricName, ...] = RUN_METRICS
    healthy_metrics: tuple[MetricName, ...] = HEALTHY_METRICS

    @property
    def metrics(self) -> tuple[MetricName, ...]:
        return (*self.fault_metrics, *self.run_metrics, *self.healthy_metrics)

    @property
    def scenario(self) -> Scenario:
        return parse_scenario_text(self.text, f"{self.name}.toml")


CASES = (
    Case("user-down", USER_DOWN, (20.0, 29.0), (2.0, 16.0)),
    Case("cache-worker-down", CACHE_WORKER_DOWN, (17.0, 30.0), (2.0, 16.0)),
    Case("mailer-killed", MAILER_KILLED, (0.0, 40.0), (0.0, 40.0), (), EFFECT_METRICS, ()),
    Case("queue-full", QUEUE_FULL, (17.0, 30.0), (2.0, 16.0)),
    Case("redis-blip", REDIS_BLIP, (17.0, 20.0), (2.0, 16.0)),
)


def window_values(m: Measurements, case: Case, duration_s: float) -> dict[str, float | None]:
    start, end = case.fault_window
    values: dict[str, float | None] = {name: m.observe(name, start, end) for name in case.fault_metrics}
    values |= {name: m.observe(name, 0, duration_s) for name in case.run_metrics}
    values |= {name: m.observe(name, *case.healthy_window) for name in case.healthy_metrics}
    return values


def sim_values(case: Case, seed: int) -> dict[str, dict[str, float | None]]:
    scenario = case.scenario
    engine = SimEngine(scenario, seed)
    run_scenario(scenario, engine, seed)
    return {v.name: window_values(engine.measurements(v.name), case, scenario.duration_s) for v in scenario.variants}


def relative_difference(metric: str, sim: float, lab: float) -> float:
    return abs(sim - lab) / max(abs(lab), FLOORS[metric])


def fmt(metric: str, value: float | None) -> str:
    if value is None:
        return "-"
    if metric.endswith("error_rate"):
        return f"{value:.3f}"
    if metric.endswith("_s"):
        return f"{value:.2f}"
    if metric.endswith("_ms"):
        return f"{value:.1f}"
    return f"{value:.0f}"


def recovery_row() -> str:
    """The cluster's recovery window after a majority loss, lab against sim (seed SEED and seeds 1-10)."""
    scenario = cluster_pause.majority_loss()
    live = run_live(scenario, SEED, time.monotonic(), runs_left=0, budget_s=0.0)
    lab = cluster_pause.recovery_window_s(live.measurements["quorum"], scenario.duration_s)
    sims = []
    for seed in (SEED, *SIM_SEEDS):
        engine = SimEngine(scenario, seed)
        run_scenario(scenario, engine, seed)
        sims.append(cluster_pause.recovery_window_s(engine.measurements("quorum"), scenario.duration_s))
    rel = abs(sims[0] - lab) / max(lab, 1.0)
    return (f"cluster: recovery window after the majority's revive: lab {lab:.0f} s, sim {sims[0]:.0f} s "
            f"(10 seeds {min(sims[1:]):.0f}-{max(sims[1:]):.0f} s), rel diff {rel:.0%}  "
            f"{'yes' if rel <= TOLERANCE else 'NO'}")


def main(names: list[str]) -> int:
    started = time.monotonic()
    rows = []
    notes = []
    unknown = sorted(set(names) - {case.name for case in CASES})
    if unknown:
        print(f"no case {', '.join(unknown)}; the cases: {', '.join(case.name for case in CASES)}", file=sys.stderr)
        return 2
    cases = [case for case in CASES if not names or case.name in names]
    for index, case in enumerate(cases):
        scenario = case.scenario
        sim_run = sim_values(case, SEED)
        seed_runs = [sim_values(case, seed) for seed in SIM_SEEDS]
        try:
            live = run_live(scenario, SEED, started, runs_left=len(cases) - index - 1, budget_s=WALL_BUDGET_S)
        except (LabError, pika.exceptions.AMQPError) as exc:
            print(f"the live lab cannot run: {exc!r}", file=sys.stderr)
            return 2
        if live.attempts > 1:
            notes.append(f"{case.name}: RabbitMQ was restarted by something else during a run, so it was run "
                         "twice" + (", and it happened again" if live.broker_restarted else ""))
        elif live.broker_restarted:
            notes.append(f"{case.name}: RabbitMQ was restarted by something else during the run (no time to repeat "
                         "it): its queue-variant numbers are not the scenario's")
        for variant in scenario.variants:
            lab_run = window_values(live.measurements[variant.name], case, scenario.duration_s)
            for metric in case.metrics:
                seeds = [value for s in seed_runs if (value := s[variant.name][metric]) is not None]
                rows.append((case, variant, metric, lab_run[metric], sim_run[variant.name][metric], seeds,
                             live.broker_restarted and variant.architecture == "queue"))

    print(f"sim vs lab: the same scenario text on SimEngine (seed {SEED}) and LiveEngine; agreement = "
          f"|sim - lab| / max(lab, floor) <= {TOLERANCE:.0%}")
    print(f"{'scenario':<18} {'variant':<10} {'metric':<21} {'window s':<9} {'lab':>7} {'sim':>7} "
          f"{'sim 10 seeds':>13} {'rel diff':>9}  agree")
    agree = trivial = compared = 0
    for case, variant, metric, lab, sim, seeds, tainted in rows:
        window = case.fault_window if metric in case.fault_metrics else \
            case.healthy_window if metric in case.healthy_metrics else (0, case.scenario.duration_s)
        spread = f"{fmt(metric, min(seeds))}-{fmt(metric, max(seeds))}" if seeds else "-"
        if lab is None or sim is None:
            verdict, rel_text = "n/a", "-"
        else:
            compared += 1
            rel = relative_difference(metric, sim, lab)
            ok = rel <= TOLERANCE
            agree += ok
            trivial += ok and lab == 0 and sim == 0
            verdict = ("yes" if ok else "NO") + (" (both 0)" if lab == 0 and sim == 0 else "")
            rel_text = f"{rel:.0%}"
        if tainted:
            verdict += " [broker restarted]"
        window_text = f"{window[0]:g}-{window[1]:g}"
        print(f"{case.name:<18} {variant.name:<10} {metric:<21} {window_text:<9} "
              f"{fmt(metric, lab):>7} {fmt(metric, sim):>7} {spread:>13} {rel_text:>9}  {verdict}")
    for note in notes:
        print(f"note: {note}")
    if not names:
        try:
            print(cluster_pause.report(cluster_pause.measure()))
            print(recovery_row())
        except LabError as exc:
            print(f"cluster: not measured, the lab cannot start its own nodes: {exc}")
    load1, load5, _ = os.getloadavg()
    print(f"machine load average {load1:.1f} (1 min) {load5:.1f} (5 min) on {os.cpu_count()} CPUs; "
          f"wall {time.monotonic() - started:.0f} s")
    print(f"sim vs lab: {agree} of {compared} numbers agree within {TOLERANCE:.0%} "
          f"({agree - trivial} of {compared - trivial} that are not 0 on both engines)")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
