"""An HTTP service: a finite worker pool shared by all its endpoints, behind a fault proxy."""

from __future__ import annotations

from collections.abc import Callable, Generator
from typing import TYPE_CHECKING

import simpy

from sandbox.sim.faults import DOWN, HUNG, Faults
from sandbox.sim.outcome import ERROR_500, OK, RESET, Outcome
from sandbox.sim.pool import Pool

if TYPE_CHECKING:
    from sandbox.sim.world import World

Handler = Callable[[], Generator] | None


class Service(Faults):
    def __init__(self, world: World, name: str):
        super().__init__()
        self.world = world
        self.name = name
        self.pool = Pool(world.env, world.knobs[f"services.{name}.workers"])
        self._service_key = f"services.{name}.service_ms"
        self._inflight: set[simpy.Process] = set()
        self._hung: list[simpy.Event] = []

    def accept(self, handler: Handler) -> simpy.Event:
        """A connection arrived (the service is not down): the event of its response.

        Served by a process whose value is the Outcome; when hung, an event only a kill answers."""
        if self.state == HUNG:
            swallowed = self.world.env.event()
            self._hung.append(swallowed)
            return swallowed
        process = self.world.env.process(self._serve(handler))
        self._inflight.add(process)
        return process

    def _serve(self, handler: Handler):
        world = self.world
        env = world.env
        pool = self.pool
        result: Outcome
        try:
            # the round trip and any injected latency pass on the wire, before a worker is taken
            wire_s = self.wire_s(world.rtt_s, world.rng)
            if wire_s:
                yield env.timeout(wire_s)
            if self.error_rate and self.fails(world.rng):
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
                    yield env.timeout(world.work_s(world.knobs[self._service_key]))
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
