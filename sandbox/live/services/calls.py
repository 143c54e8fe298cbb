"""Service-to-service HTTP as the caller's code makes it: one reused client, a timeout, retries with
exponential backoff and full jitter, and an optional circuit breaker (the `http.*` and `breaker.*` knobs).

The same rules as the simulation's `sandbox/sim/http.py`: every attempt counts in the breaker; an open
breaker fails fast without retrying; a failed attempt (no answer, or a 5xx) is retried after
`backoff_ms · 2^(attempt-1)` ms, or a uniform random part of it with jitter.
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable, Mapping
from typing import Any

import httpx

from sandbox.model.backoff import retry_backoff_s
from sandbox.model.breaker import CircuitBreaker


class CallFailed(RuntimeError):
    """A call gave no usable answer: refused, timed out, a 5xx or 4xx, or the breaker is open."""


def http_timeout(timeout_s: float) -> httpx.Timeout:
    """`http.timeout_s` for connect, read, write and pool alike; 0 waits forever."""
    return httpx.Timeout(timeout_s if timeout_s > 0 else None)


def make_client(knobs: Mapping[str, Any], connections: int) -> httpx.Client:
    """The one client a service reuses for every call (a new one per call costs a connection each time).

    `connections` should be the service's worker count: each worker thread has at most one call out."""
    return httpx.Client(timeout=http_timeout(knobs["http.timeout_s"]),
                        limits=httpx.Limits(max_connections=connections, max_keepalive_connections=connections))


class Caller:
    """Calls other services from one service, with the http.* knobs and one breaker per callee."""

    def __init__(self, client: httpx.Client, knobs: Mapping[str, Any], *, rng: random.Random | None = None,
                 clock: Callable[[], float] = time.monotonic, sleep: Callable[[float], None] = time.sleep):
        self.client = client
        self.knobs = knobs
        self.rng = rng or random.Random()
        self.clock = clock
        self.sleep = sleep
        self.breakers: dict[str, CircuitBreaker] = {}
        self._lock = threading.Lock()  # CircuitBreaker is not thread-safe; worker threads share it
        self.calls = 0  # attempts sent
        self.failures = 0  # attempts that failed
        self.short_circuited = 0  # calls the open breaker refused

    def breaker(self, callee: str) -> CircuitBreaker | None:
        k = self.knobs
        if not k["http.breaker"]:
            return None
        with self._lock:
            breaker = self.breakers.get(callee)
            if breaker is None:
                breaker = self.breakers[callee] = CircuitBreaker(
                    k["breaker.min_calls"], k["breaker.error_rate"], k["breaker.open_s"], k["breaker.window_s"])
            return breaker

    def call(self, callee: str, method: str, url: str, **options: Any) -> httpx.Response:
        """One logical call (with its retries); the 2xx response, or CallFailed saying why."""
        k = self.knobs
        retries = k["http.retries"]
        attempt = 0
        while True:
            breaker = self.breaker(callee)
            if breaker is not None:
                with self._lock:
                    allowed = breaker.allow(self.clock())
                if not allowed:
                    self._count("short_circuited")
                    raise CallFailed(f"{callee}: circuit breaker open")
            error, retryable, response = self._attempt(method, url, options)
            if breaker is not None:
                with self._lock:
                    breaker.record(self.clock(), error is None)
            if error is None and response is not None:  # no error: _attempt answered with a 2xx
                return response
            if not retryable or attempt >= retries:
                raise CallFailed(f"{callee}: {error}" + (f" (after {attempt} retries)" if attempt else ""))
            attempt += 1
            self.sleep(retry_backoff_s(attempt, k["http.backoff_ms"], k["http.jitter"], self.rng))

    def _count(self, name: str) -> None:
        with self._lock:
            setattr(self, name, getattr(self, name) + 1)

    def _attempt(self, method: str, url: str, options: dict) -> tuple[str | None, bool, httpx.Response | None]:
        self._count("calls")
        try:
            response = self.client.request(method, url, **options)
        except httpx.TimeoutException as exc:
            self._count("failures")
            return f"timed out ({type(exc).__name__})", True, None
        except httpx.TransportError as exc:
            self._count("failures")
            return f"no answer ({type(exc).__name__}: {exc})", True, None
        if response.is_success:
            return None, False, response
        self._count("failures")
        return f"answered {response.status_code}", response.status_code >= 500, response
