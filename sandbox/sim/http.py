"""Service-to-service HTTP calls: timeout, retries with backoff and full jitter, circuit breaker."""

from __future__ import annotations

from typing import TYPE_CHECKING

import simpy

from sandbox.sim.breaker import CircuitBreaker
from sandbox.sim.faults import DOWN
from sandbox.sim.outcome import BREAKER_OPEN, REFUSED, TIMEOUT, Outcome
from sandbox.sim.service import Handler

if TYPE_CHECKING:
    from sandbox.sim.world import World


def _time_out(caller: simpy.Process, response: simpy.Event) -> None:
    """The caller stops waiting for `response` (if it still is)."""
    if caller.is_alive and caller.target is response:
        caller.interrupt(TIMEOUT)


class Http:
    def __init__(self, world: World):
        self.world = world
        self.breakers: dict[tuple[str, str], CircuitBreaker] = {}

    def send(self, callee: str, handler: Handler, timeout_s: float):
        """One request and its wait: refused at once by a dead service, TIMEOUT past `timeout_s` (0 = never)."""
        world = self.world
        service = world.services[callee]
        if service.state == DOWN:
            return REFUSED
        response = service.accept(handler)
        if timeout_s > 0:
            caller = world.env.active_process
            world.deadlines.arm(response, timeout_s, lambda: _time_out(caller, response))
        try:
            outcome = yield response
        except simpy.Interrupt as interrupt:
            if interrupt.cause is not TIMEOUT:
                raise
            return TIMEOUT
        return outcome

    def breaker(self, caller: str, callee: str) -> CircuitBreaker:
        key = (caller, callee)
        breaker = self.breakers.get(key)
        if breaker is None:
            k = self.world.knobs
            breaker = self.breakers[key] = CircuitBreaker(
                k["breaker.min_calls"], k["breaker.error_rate"], k["breaker.open_s"], k["breaker.window_s"])
        return breaker

    def call(self, caller: str, callee: str, handler: Handler = None):
        """A call as the caller's code makes it, with the http.* and breaker.* knobs applied."""
        world = self.world
        env = world.env
        k = world.knobs
        retries = k["http.retries"]
        attempt = 0
        while True:
            breaker = self.breaker(caller, callee) if k["http.breaker"] else None
            if breaker is not None and not breaker.allow(env.now):
                outcome: Outcome = BREAKER_OPEN
            else:
                before = breaker.state if breaker is not None else None
                outcome = yield from self.send(callee, handler, k["http.timeout_s"])
                if breaker is not None:
                    breaker.record(env.now, outcome.ok)
                    if breaker.state != before:
                        world.log(f"{caller} → {callee}: circuit breaker {breaker.state}")
                world.edge(caller, callee, outcome)
            if outcome.ok or outcome is BREAKER_OPEN or attempt >= retries:
                return outcome
            attempt += 1
            backoff_s = k["http.backoff_ms"] / 1000.0 * 2 ** (attempt - 1)
            if k["http.jitter"]:
                backoff_s = world.rng.uniform(0.0, backoff_s)
            yield env.timeout(backoff_s)
