"""Service-to-service HTTP calls: timeout, retries with backoff and full jitter, circuit breaker."""

from __future__ import annotations

from collections.abc import Generator
from typing import Any

import simpy

from sandbox.model.backoff import retry_backoff_s
from sandbox.model.breaker import CircuitBreaker
from sandbox.sim.context import Context
from sandbox.sim.faults import DOWN
from sandbox.sim.outcome import BREAKER_OPEN, REFUSED, TIMEOUT, Outcome
from sandbox.sim.service import Handler, Service
from sandbox.sim.task import Interruptible


def _time_out(caller: Interruptible, response: simpy.Event) -> None:
    """The caller stops waiting for `response` (if it still is)."""
    if caller.is_alive and caller.target is response:
        caller.interrupt(TIMEOUT)


class Http:
    def __init__(self, ctx: Context, services: dict[str, Service]):
        self.ctx = ctx
        self.services = services
        self.breakers: dict[tuple[str, str], CircuitBreaker] = {}

    def send(self, callee: str, handler: Handler, timeout_s: float) -> Generator[Any, Any, Outcome]:
        """One request and its wait: refused at once by a dead service, TIMEOUT past `timeout_s` (0 = never)."""
        ctx = self.ctx
        service = self.services[callee]
        if service.state == DOWN:
            return REFUSED
        response = service.accept(handler)
        if timeout_s > 0:
            caller: Interruptible | None = ctx.env.active_process
            assert caller is not None, "a request is sent from a process or a Task"
            ctx.deadlines.arm(response, timeout_s, lambda: _time_out(caller, response))
        try:
            outcome: Outcome = yield response
        except simpy.Interrupt as interrupt:
            if interrupt.cause is not TIMEOUT:
                raise
            return TIMEOUT
        return outcome

    def breaker(self, caller: str, callee: str) -> CircuitBreaker:
        key = (caller, callee)
        breaker = self.breakers.get(key)
        if breaker is None:
            k = self.ctx.knobs.breaker
            breaker = self.breakers[key] = CircuitBreaker(k.min_calls, k.error_rate, k.open_s, k.window_s)
        return breaker

    def call(self, caller: str, callee: str, handler: Handler = None) -> Generator[Any, Any, Outcome]:
        """A call as the caller's code makes it, with the http.* and breaker.* knobs applied."""
        ctx = self.ctx
        env = ctx.env
        retries = ctx.knobs.http.retries
        attempt = 0
        while True:
            breaker = self.breaker(caller, callee) if ctx.knobs.http.breaker else None
            if breaker is not None and not breaker.allow(env.now):
                outcome: Outcome = BREAKER_OPEN
            else:
                before = breaker.state if breaker is not None else None
                if callee == "user":
                    ctx.measurements.count(env.now, "user.calls")
                outcome = yield from self.send(callee, handler, ctx.knobs.http.timeout_s)
                if breaker is not None:
                    breaker.record(env.now, outcome.ok)
                    if breaker.state != before:
                        ctx.log(f"{caller} → {callee}: circuit breaker {breaker.state}")
                ctx.traffic.edge(caller, callee, outcome)
            if outcome.ok or outcome is BREAKER_OPEN or attempt >= retries:
                return outcome
            attempt += 1
            k = ctx.knobs.http  # read now: a `set` during the call takes effect at once
            yield env.timeout(retry_backoff_s(attempt, k.backoff_ms, k.jitter, ctx.rng))
