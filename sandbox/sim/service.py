"""An HTTP service: a finite worker pool shared by all its endpoints, behind a fault proxy."""

from __future__ import annotations

from collections.abc import Callable, Generator
from typing import Any

import simpy

from sandbox.sim.context import Context
from sandbox.sim.faults import DOWN, HUNG, Faults
from sandbox.sim.outcome import ERROR_500, OK, RESET, Outcome
from sandbox.sim.pool import Pool

Handler = Callable[[], Generator[Any, Any, Outcome]] | None
"""An endpoint's own work after the service's mean work; None for an endpoint that only does that."""


class Service(Faults):
    def __init__(self, ctx: Context, name: str):
        super().__init__()
        self.ctx = ctx
        self.name = name
        self.pool = Pool(ctx.env, ctx.knobs.services.pool(name).workers)
        self._inflight: set[simpy.Process] = set()
        self._hung: list[simpy.Event] = []

    def accept(self, handler: Handler) -> simpy.Event:
        """A connection arrived (the service is not down): the event of its response.

        Served by a process whose value is the Outcome; when hung, an event only a kill answers."""
        if self.state == HUNG:
            swallowed = self.ctx.env.event()
            self._hung.append(swallowed)
            return swallowed
        process = self.ctx.env.process(self._serve(handler))
        self._inflight.add(process)
        return process

    def _serve(self, handler: Handler) -> Generator[Any, Any, Outcome]:
        ctx = self.ctx
        env = ctx.env
        pool = self.pool
        result: Outcome
        try:
            # the round trip and any injected latency pass on the wire, before a worker is taken
            wire_s = self.wire_s(ctx.knobs.http.rtt_ms / 1000.0, ctx.rng)
            if wire_s:
                yield env.timeout(wire_s)
            if self.error_rate and self.fails(ctx.rng):
                result = ERROR_500
            else:
                ticket = pool.acquire()
                if ticket is not None:
                    try:
                        yield ticket
                    except simpy.Interrupt:
                        pool.cancel(ticket)
                        raise
                try:
                    yield env.timeout(ctx.work_s(ctx.knobs.services.pool(self.name).service_ms))
                    result = OK if handler is None else (yield from handler())
                finally:
                    pool.release()
        except simpy.Interrupt:
            result = RESET
        self._inflight.discard(env.active_process)
        return result

    def kill(self) -> None:
        """SIGKILL: refuse new connections; every request in flight or queued gets a reset."""
        self.state = DOWN
        for process in list(self._inflight):
            if process.is_alive:
                process.interrupt("killed")
        self._inflight.clear()
        for swallowed in self._hung:
            swallowed.succeed(RESET)
        self._hung.clear()

    @property
    def busy(self) -> int:
        return self.pool.busy

    @property
    def waiting(self) -> int:
        return self.pool.waiting
