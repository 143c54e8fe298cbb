"""What the fault proxy costs small HTTP requests: direct to an upstream vs through a FaultProxy, in the same run.

Upstream: a trivial Starlette app (GET / answers "ok") under uvicorn, in its own process, as the lab's services
run. Client: one httpx.Client per path (keep-alive, so one connection), in this process, sending sequential GETs.
The proxy runs in a thread of this process, as in the lab, with no fault set. The two paths alternate in ROUNDS
so that drift in the machine's speed hits both alike; WARMUP requests per path are sent first and not counted.

Round trip: time.perf_counter() around each request, p50 and p99 over all REQUESTS of a path.
Requests/s: REQUESTS / the wall time of that path's requests. The last line is proxied / direct.

Run:  .venv/bin/python -m bench.proxy_overhead   (about 5 s; stops measuring after MAX_WALL_S)
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import time
from pathlib import Path

import httpx

from sandbox.live.processes.ports import free_port
from sandbox.live.processes.supervisor import ServiceSpec, Supervisor
from sandbox.live.proxy import FaultProxy

REQUESTS = 2000  # per path
ROUNDS = 4
WARMUP = 100
MAX_WALL_S = 25.0

UPSTREAM_APP = """
import sys
import uvicorn
from starlette.applications import Starlette
from starlette.responses import PlainTextResponse
from starlette.routing import Route

async def ok(request):
    return PlainTextResponse("ok")

uvicorn.run(Starlette(routes=[Route("/", ok)]), host="127.0.0.1", port=int(sys.argv[1]), log_level="warning")
"""


def time_requests(client: httpx.Client, count: int) -> list[float]:
    """Round-trip times in ms of `count` sequential GET / on one keep-alive client."""
    times_ms = []
    for _ in range(count):
        started = time.perf_counter()
        response = client.get("/")
        times_ms.append((time.perf_counter() - started) * 1000)
        response.raise_for_status()
    return times_ms


def percentile(times_ms: list[float], p: int) -> float:
    return statistics.quantiles(times_ms, n=100, method="inclusive")[p - 1]


def main() -> None:
    port = free_port()
    with tempfile.TemporaryDirectory() as log_dir, Supervisor(Path(log_dir)) as supervisor:
        supervisor.start(ServiceSpec("upstream", (sys.executable, "-c", UPSTREAM_APP, str(port)), port=port,
                                     health_path="/"))
        with FaultProxy(("127.0.0.1", port), name="bench") as proxy, \
                httpx.Client(base_url=f"http://127.0.0.1:{port}") as direct, \
                httpx.Client(base_url=f"http://127.0.0.1:{proxy.port}") as proxied:
            paths = {"direct": direct, "proxied": proxied}
            times_ms: dict[str, list[float]] = {name: [] for name in paths}
            for client in paths.values():
                time_requests(client, WARMUP)
            deadline = time.monotonic() + MAX_WALL_S
            for _ in range(ROUNDS):
                if time.monotonic() > deadline:
                    break
                for name, client in paths.items():
                    times_ms[name] += time_requests(client, REQUESTS // ROUNDS)
            connections = proxy.stats().accepted

    print(f"fault proxy overhead: sequential GET / on one keep-alive connection (Python {sys.version.split()[0]}, "
          f"httpx {httpx.__version__}); proxied requests used {connections} proxy connection(s)")
    print(f"{'path':<8} {'requests':>9} {'p50 ms':>8} {'p99 ms':>8} {'requests/s':>11}")
    summary = {}
    for name, samples in times_ms.items():
        p50, p99, rate = percentile(samples, 50), percentile(samples, 99), len(samples) / (sum(samples) / 1000)
        summary[name] = (p50, p99, rate)
        print(f"{name:<8} {len(samples):>9,} {p50:>8.3f} {p99:>8.3f} {rate:>11,.0f}")
    (d50, d99, drate), (p50, p99, prate) = summary["direct"], summary["proxied"]
    print(f"proxied/direct: p50 x{p50 / d50:.2f}, p99 x{p99 / d99:.2f}, requests/s x{prate / drate:.2f}")


if __name__ == "__main__":
    main()
