"""What every lab service's Starlette app shares: a finite worker pool, /health, /metrics, counters.

Handlers are plain `def` functions, which Starlette runs on anyio's worker threads. The app's lifespan
sets that pool to `services.<name>.workers` threads, shared by all the service's endpoints: when
slow downstream calls hold every thread, new requests wait in line — the mechanism of a cascade, as
the simulation models it. /health and /metrics are `async` and answer from the event loop, so probes
can read a saturated service.
"""

from __future__ import annotations

import contextlib
import random
import threading
import time
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from typing import Any

import anyio.to_thread
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.base import BaseHTTPMiddleware
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import BaseRoute, Route

from sandbox.model.service_time import service_time_s


class Counters:
    """Named event counts, safe to bump from any thread."""

    def __init__(self, *names: str):
        self._values = dict.fromkeys(names, 0)
        self._lock = threading.Lock()

    def add(self, name: str, n: int = 1) -> None:
        with self._lock:
            self._values[name] = self._values.get(name, 0) + n

    def __getitem__(self, name: str) -> int:
        return self._values.get(name, 0)

    def snapshot(self) -> dict[str, int]:
        with self._lock:
            return dict(self._values)


FAULT_FIELDS = ("error_rate", "latency_ms", "jitter_ms")


class InjectedFaults:
    """Faults a service applies to itself, set on /internal/faults.

    `error_rate`: this fraction of requests (or, in the worker, of messages) fails on purpose.
    `latency_ms` ± `jitter_ms`: each message takes that much longer (the worker; an HTTP service gets
    its latency from the fault proxy in front of it)."""

    def __init__(self) -> None:
        self.error_rate = 0.0
        self.latency_ms = 0.0
        self.jitter_ms = 0.0
        self._rng = random.Random()
        self._lock = threading.Lock()

    def strike(self) -> bool:
        if self.error_rate <= 0:
            return False
        with self._lock:
            return self._rng.random() < self.error_rate

    def delay_s(self) -> float:
        if self.latency_ms <= 0:
            return 0.0
        with self._lock:
            jitter_ms = self._rng.uniform(-self.jitter_ms, self.jitter_ms)
        return max(0.0, self.latency_ms + jitter_ms) / 1000.0

    def update(self, doc: dict | None) -> str | None:
        """Apply the fields of `doc`; what is wrong with it, or None."""
        if not doc or not set(doc) <= set(FAULT_FIELDS):
            return f"send a JSON object with any of {', '.join(FAULT_FIELDS)}"
        for name, value in doc.items():
            if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0 \
                    or (name == "error_rate" and value > 1):
                return f"{name}: {value!r} is not allowed; error_rate is a fraction from 0 to 1, the others ms >= 0"
        for name, value in doc.items():
            setattr(self, name, float(value))
        return None

    def snapshot(self) -> dict[str, float]:
        return {name: getattr(self, name) for name in FAULT_FIELDS}


class OwnWork:
    """A service's own work on each request (`services.<name>.service_ms`; the worker's `consumer.work_ms`
    per message), drawn as the simulation draws it (`services.distribution`): the handler sleeps that long
    on its worker thread, holding the worker as real work would, so the pool fills where the simulation's does."""

    def __init__(self, mean_ms: float, knobs: Mapping[str, Any]):
        self.mean_ms = mean_ms
        self.shape = knobs["services.distribution"]
        self.lognormal_sigma = knobs["services.lognormal_sigma"]
        self._rng = random.Random()

    def __call__(self, extra_s: float = 0.0) -> None:
        """Work one draw, plus `extra_s` (injected latency)."""
        work_s = service_time_s(self.mean_ms, self.shape, self.lognormal_sigma, self._rng) + extra_s
        if work_s > 0:
            time.sleep(work_s)


_NOT_FAULTED = ("/health", "/metrics", "/internal/faults")


def error(status: int, message: str, **fields: Any) -> JSONResponse:
    return JSONResponse({"error": message, **fields}, status_code=status)


async def json_object(request: Request) -> dict | None:
    """The request's JSON object, or None when the body is not one."""
    try:
        doc = await request.json()
    except ValueError:
        return None
    return doc if isinstance(doc, dict) else None


def service_app(name: str, routes: Sequence[BaseRoute], *, counters: Counters, workers: int,
                start: Callable[[], None] | None = None, stop: Callable[[], None] | None = None,
                gauges: Callable[[], dict[str, Any]] | None = None,
                health: Callable[[], dict[str, Any]] | None = None,
                faults: InjectedFaults | None = None) -> Starlette:
    """A Starlette app with `routes` plus /health, /metrics and /internal/faults, its worker pool limited
    to `workers`. An injected error answers 500 before the request takes a worker, as a proxy would."""
    faults = faults or InjectedFaults()

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        limiter = anyio.to_thread.current_default_thread_limiter()
        limiter.total_tokens = workers
        app.state.limiter = limiter
        if start is not None:
            start()
        try:
            yield
        finally:
            if stop is not None:
                await anyio.to_thread.run_sync(stop)

    async def health_endpoint(request: Request) -> JSONResponse:
        return JSONResponse({"status": "ok", "service": name, **(health() if health else {})})

    async def metrics_endpoint(request: Request) -> JSONResponse:
        doc: dict[str, Any] = {"service": name, **counters.snapshot()}
        limiter = getattr(request.app.state, "limiter", None)
        if limiter is not None:
            doc |= {"workers": int(limiter.total_tokens), "busy": int(limiter.borrowed_tokens),
                    "waiting": limiter.statistics().tasks_waiting}
        if gauges is not None:
            doc |= gauges()
        return JSONResponse(doc)

    async def faults_endpoint(request: Request) -> JSONResponse:
        problem = faults.update(await json_object(request))
        if problem:
            return error(400, problem)
        return JSONResponse(faults.snapshot())

    async def inject(request: Request, call_next):
        if request.url.path not in _NOT_FAULTED and faults.strike():
            counters.add("errors")
            return error(500, "injected fault")
        return await call_next(request)

    routes = [*routes, Route("/health", health_endpoint), Route("/metrics", metrics_endpoint),
              Route("/internal/faults", faults_endpoint, methods=["POST"])]
    return Starlette(routes=routes, lifespan=lifespan, middleware=[Middleware(BaseHTTPMiddleware, dispatch=inject)])
