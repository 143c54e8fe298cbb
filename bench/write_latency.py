"""What an author waits for: POST /blogs latency, sync vs queue, healthy and with the User Service slow.

The writer never calls the User Service. But in the sync variant the author's request waits for the blog's
cache-invalidation endpoint, and that needs a blog worker; with user answering in 2 s every cache miss holds
a blog worker for three such calls, the blog's pool fills with reads, and the invalidation waits in line behind
them (until the author's http.timeout_s, then the write answers 500). In the queue variant the author only
publishes to RabbitMQ, so nothing on its path changed.

Two cases, each a scenario written once below as TOML and run unchanged on the live lab (LiveEngine: real
processes, RabbitMQ, Redis, HTTP, on the wall clock) and on the simulation (SimEngine, seed SEED):

  healthy        20 reads/s, 5 writes/s, nothing fails; measured over [2, 20) s
  user +2000 ms  the same load; `latency user 2000` at 5 s; measured over [5, 22) s, from the fault onwards

Latency is what the load generator measures: from the moment each POST /blogs was due to its answer (so time
a request spent waiting for a free client thread counts), bucketed by the second it finished; p50/p99 are
nearest-rank over every write that finished in the window, answered or failed (sandbox/model/metrics.py, the
same code for both engines). "writes" is how many finished in the window; a write still open at the end of the
run is in neither engine's numbers. A lab p99 above the client's own timeout (client.timeout_s) means requests
waited for one of the load generator's client threads before they were sent: they are marked "*".

Then, on an idle lab (no load), what one request costs there, against what the simulation's default knobs make
it cost: PROBE_REQUESTS sequential requests per row, PROBE_GAP_S apart (so, as under a light Poisson load, each
finds the processes idle), through the fault proxies as the lab's own calls go; time.perf_counter() around each,
on one keep-alive httpx client. The sim column is the sum of the knob means on that request's path
(sandbox/sim/world.py): a hop is http.rtt_ms; a service adds services.<name>.service_ms; a read asks Redis
(redis.rtt_ms); a miss adds db.read_ms, the fill (redis.rtt_ms) and, in sync, three user calls; a write adds
db.write_ms and then the blog call, which empties the cache (sync), or broker.rtt_ms + broker.fsync_ms (queue,
persistent with confirms). GET /health answers on the event loop without a worker: it is
the bare hop.

The lab shares its RabbitMQ node with whatever else runs on the machine: an idle AMQP connection is held for
each live run, and if something restarts the node meanwhile (it closes every connection) the run is repeated
once when the wall budget allows, else its queue numbers are marked. Servers: RABBITMQ_URL,
RABBITMQ_MANAGEMENT_URL and REDIS_URL, as for the lab.

Run:  .venv/bin/python -m bench.write_latency    (about 75 s; at most ~3 min with a repeated run)
"""

from __future__ import annotations

import os
import sys
import time
from dataclasses import dataclass

import httpx
import pika
import pika.exceptions

from bench.live_runs import BROKER_WAIT_S, run_live, wait_for_broker
from sandbox.engine import run_scenario
from sandbox.live.engine import LiveEngine
from sandbox.live.errors import LabError
from sandbox.model.knobs import DEFAULTS
from sandbox.model.measurements import Measurements, percentile
from sandbox.model.scenario import Scenario, parse_scenario_text
from sandbox.sim.engine import SimEngine

SEED = 7
READS_PER_S = 20
WRITES_PER_S = 5
FAULT_AT_S = 5
USER_LATENCY_MS = 2000
CLIENT_WAIT_MARGIN_MS = 250.0  # a lab latency this far above client.timeout_s cannot be the request alone
PROBE_REQUESTS = 60
PROBE_GAP_S = 0.02
WALL_BUDGET_S = 170.0
CALIBRATION_S = 20.0  # the idle-lab timings after the scenarios

LOAD = f"""
seed = {SEED}

[load]
reads_per_s = {READS_PER_S}
writes_per_s = {WRITES_PER_S}
"""

HEALTHY = f"""
id = "bench-write-latency-healthy"
title = "write latency, healthy"
duration = 20
{LOAD}
"""

USER_SLOW = f"""
id = "bench-write-latency-user-slow"
title = "write latency, user answering in {USER_LATENCY_MS} ms"
duration = 22
{LOAD}
[[timeline]]
at = {FAULT_AT_S}
do = "latency"
target = "user"
ms = {USER_LATENCY_MS}
"""


IDLE = """
id = "bench-write-latency-idle"
title = "the lab with no load, for timing single requests"
duration = 60

[load]
reads_per_s = 0
writes_per_s = 0
"""


@dataclass(frozen=True)
class Case:
    name: str
    text: str
    window: tuple[float, float]

    @property
    def scenario(self) -> Scenario:
        return parse_scenario_text(self.text, f"{self.name}.toml")


CASES = (
    Case("healthy", HEALTHY, (2.0, 20.0)),
    Case(f"user +{USER_LATENCY_MS} ms", USER_SLOW, (float(FAULT_AT_S), 22.0)),
)


@dataclass(frozen=True)
class Numbers:
    writes: int
    p50_ms: float | None
    p99_ms: float | None
    error_rate: float | None
    read_p99_ms: float | None


def numbers(m: Measurements, window: tuple[float, float]) -> Numbers:
    start, end = window
    totals = m.totals(start, end)
    return Numbers(totals["write.ok"] + totals["write.errors"], m.observe("write.p50_ms", start, end),
                   m.observe("write.p99_ms", start, end), m.observe("write.error_rate", start, end),
                   m.observe("read.p99_ms", start, end))


def sim_cost_ms(path: str) -> float:
    """Mean time of one request in the simulation with the default knobs: the sum of the means on its path."""
    k = DEFAULTS
    hop = k["http.rtt_ms"]
    user = hop + k["services.user.service_ms"]
    redis = k["redis.rtt_ms"]
    blog = hop + k["services.blog.service_ms"] + redis
    miss = blog + k["db.read_ms"] + redis
    author = hop + k["services.author.service_ms"] + k["db.write_ms"]
    return {"hop": hop, "user": user, "hit": blog, "miss queue": miss,
            "miss sync": miss + k["blog.authors_per_page"] * user,
            "write sync": author + blog, "write queue": author + k["broker.rtt_ms"] + k["broker.fsync_ms"]}[path]


def time_requests(client: httpx.Client, method: str, url: str, before: tuple[str, str] | None = None,
                  **options) -> list[float]:
    """Milliseconds of PROBE_REQUESTS requests, each PROBE_GAP_S after the last; `before` (untimed) goes
    PROBE_GAP_S ahead of each, so every timed request finds the lab idle."""
    times_ms = []
    for _ in range(PROBE_REQUESTS):
        if before is not None:
            client.request(*before).raise_for_status()
        time.sleep(PROBE_GAP_S)
        started = time.perf_counter()
        response = client.request(method, url, **options)
        times_ms.append((time.perf_counter() - started) * 1000)
        response.raise_for_status()
        if before is not None and response.json().get("cached") is not False:
            raise RuntimeError(f"{url} was meant to miss the cache and did not")
    return times_ms


def calibrate() -> list[tuple[str, list[float], float]]:
    """(request, lab times ms, sim mean ms) for single requests on an idle lab."""
    scenario = parse_scenario_text(IDLE, "idle.toml")
    wait_for_broker(time.monotonic() + BROKER_WAIT_S)
    engine = LiveEngine(scenario)
    rows = []
    try:
        with httpx.Client(timeout=5.0) as client:
            for variant in ("sync", "queue"):
                config = engine.labs[variant].config
                user, blog, author = config.user_url, config.blog_url, config.author_url
                for n in range(25):  # a page of posts by three authors, as under the load generator
                    post = {"title": "t", "body": "…", "author_id": 1 + n % 3}
                    client.post(f"{author}/blogs", json=post).raise_for_status()
                client.get(f"{blog}/blogs").raise_for_status()  # fill the cache for the hits
                invalidate = ("POST", f"{blog}/internal/cache/invalidate")
                probes = [
                    (f"blog: GET /blogs, miss ({variant})", "GET", f"{blog}/blogs", invalidate, f"miss {variant}"),
                    (f"author: POST /blogs ({variant})", "POST", f"{author}/blogs", None, f"write {variant}"),
                ]
                if variant == "sync":
                    probes[:0] = [("HTTP hop: GET user /health", "GET", f"{user}/health", None, "hop"),
                                  ("user: GET /api/v1/user/1", "GET", f"{user}/api/v1/user/1", None, "user"),
                                  ("blog: GET /blogs, cache hit", "GET", f"{blog}/blogs", None, "hit")]
                for name, method, url, before, path in probes:
                    body = {"json": {"title": "probe", "body": "…", "author_id": 1}} if method == "POST" else {}
                    rows.append((name, time_requests(client, method, url, before, **body), sim_cost_ms(path)))
    finally:
        engine.close()
    return rows


def ms(value: float | None) -> str:
    if value is None:
        return "-"
    return f"{value:.1f}" if value < 100 else f"{value:,.0f}"


def rate(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}"


def main() -> int:
    started = time.monotonic()
    results: dict[tuple[str, str], tuple[Numbers, Numbers, bool, bool]] = {}
    notes = []
    for index, case in enumerate(CASES):
        scenario = case.scenario
        engine = SimEngine(scenario, SEED)
        run_scenario(scenario, engine, SEED)
        try:
            run = run_live(scenario, SEED, started, runs_left=len(CASES) - index - 1, budget_s=WALL_BUDGET_S,
                           reserve_s=CALIBRATION_S)
            live, restarted, attempts = run.measurements, run.broker_restarted, run.attempts
        except (LabError, pika.exceptions.AMQPError) as exc:
            print(f"the live lab cannot run: {exc!r}", file=sys.stderr)
            return 2
        if attempts > 1:
            notes.append(f"{case.name}: RabbitMQ was restarted by something else during a run, so it was run twice"
                         + (", and it happened again" if restarted else ""))
        elif restarted:
            notes.append(f"{case.name}: RabbitMQ was restarted by something else during the run (no time to repeat "
                         "it): its queue numbers are not the scenario's")
        timeout_ms = scenario.knobs_for(scenario.variants[0]).client.timeout_s * 1000
        for variant in scenario.variants:
            lab = numbers(live[variant.name], case.window)
            limit_ms = timeout_ms + CLIENT_WAIT_MARGIN_MS
            waited = any(v is not None and v > limit_ms for v in (lab.p99_ms, lab.read_p99_ms))
            tainted = restarted and variant.architecture == "queue"
            results[case.name, variant.name] = (lab, numbers(engine.measurements(variant.name), case.window),
                                                waited, tainted)

    print(f"author write latency: POST /blogs as the load generator measures it; {READS_PER_S} reads/s, "
          f"{WRITES_PER_S} writes/s; live lab vs the simulation (seed {SEED}) of the same scenario")
    print(f"{'case':<15} {'variant':<8} {'window s':<9} {'writes lab/sim':>14} {'p50 ms lab':>11} {'sim':>7} "
          f"{'p99 ms lab':>11} {'sim':>7} {'errors lab':>11} {'sim':>5}")
    for (case_name, variant_name), (lab, sim, waited, tainted) in results.items():
        window = next(c.window for c in CASES if c.name == case_name)
        mark = "*" if waited else ""
        window_text = f"{window[0]:g}-{window[1]:g}"
        print(f"{case_name:<15} {variant_name:<8} {window_text:<9} {f'{lab.writes}/{sim.writes}':>14} "
              f"{ms(lab.p50_ms) + mark:>11} {ms(sim.p50_ms):>7} {ms(lab.p99_ms) + mark:>11} {ms(sim.p99_ms):>7} "
              f"{rate(lab.error_rate):>11} {rate(sim.error_rate):>5}" + ("  [broker restarted]" if tainted else ""))
    if any(waited for _, _, waited, _ in results.values()):
        print("* above the client's timeout: requests waited for a free load-generator thread before they were sent "
              "(the lab's client has a fixed thread pool; the simulation's clients are unlimited)")
    for note in notes:
        print(f"note: {note}")
    try:
        probes = calibrate()
    except (LabError, pika.exceptions.AMQPError, httpx.HTTPError, RuntimeError) as exc:
        probes = []
        print(f"note: the idle-lab timings failed ({exc}); no table of single requests")
    if probes:
        print(f"one request on the idle lab ({PROBE_REQUESTS} each, {PROBE_GAP_S * 1000:g} ms apart, through the fault "
              "proxies) vs the simulation's default knobs")
        print(f"{'request':<34} {'lab mean ms':>11} {'p50':>6} {'p90':>6} {'sim mean ms':>12} {'sim / lab':>10}")
    for name, times_ms, sim_ms in probes:
        mean_ms = sum(times_ms) / len(times_ms)
        print(f"{name:<34} {mean_ms:>11.2f} {percentile(times_ms, 50):>6.2f} {percentile(times_ms, 90):>6.2f} "
              f"{sim_ms:>12.1f} {sim_ms / mean_ms:>9.1f}x")
    load1, load5, _ = os.getloadavg()
    print(f"machine load average {load1:.1f} (1 min) {load5:.1f} (5 min) on {os.cpu_count()} CPUs; "
          f"wall {time.monotonic() - started:.0f} s")
    slow = CASES[1].name
    (sync_lab, sync_sim, _, _), (queue_lab, queue_sim, _, _) = results[slow, "sync"], results[slow, "queue"]
    print(f"{slow}, write p50 lab (sim): sync {ms(sync_lab.p50_ms)} ms ({ms(sync_sim.p50_ms)}), "
          f"queue {ms(queue_lab.p50_ms)} ms ({ms(queue_sim.p50_ms)}); errors sync {rate(sync_lab.error_rate)} "
          f"({rate(sync_sim.error_rate)}), queue {rate(queue_lab.error_rate)} ({rate(queue_sim.error_rate)})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
