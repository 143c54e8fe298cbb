"""An HTTP service: a finite worker pool shared by all its endpoints, behind a fault proxy."""

from __future__ import annotations

from collections.abc import Callable, Generator
from typing import TYPE_CHECKING

import simpy

from sandbox.sim.faults import DOWN, HUNG, Faults
from sandbox.sim.outcome import ERROR_500, OK, RESET, Outcome

if TYPE_CHECKING:
    from sandbox.sim.world import World

Handler = Callable[[], Generator] | None


class Pool(simpy.Resource):
    """A worker pool whose size a knob may change while it runs."""

    def resize(self, workers: int) -> None:
        self._capacity = workers
        self._trigger_put(None)


class Service(Faults):
    def __init__(self, world: World, name: str):
        super().__init__()
        self.world = world
        self.name = name
        self.pool = Pool(world.env, capacity=world.knobs[f"services.{name}.workers"])
        self._service_key = f"services.{name}.service_ms"
        self._inflight: set[simpy.Process] = set()
        self._hung: list[simpy.Event] = []

    def accept(self, handler: Handler, reply: simpy.Event) -> None:
        """A connection arrived (the service is not down): serve it, or swallow it when hung."""
        if self.state == HUNG:
            self._hung.append(reply)
        else:
            self._inflight.add(self.world.env.process(self._serve(handler, reply)))

    def _serve(self, handler: Handler, reply: simpy.Event):
        world = self.world
        env = world.env
        result: Outcome
        try:
            if self.latency_ms or self.jitter_ms:
                yield env.timeout(self.delay_s(world.rng))
            if self.error_rate and self.fails(world.rng):
                result = ERROR_500
            else:
                with self.pool.request() as slot:
                    yield slot
                    yield env.timeout(world.rtt_s + world.work_s(world.knobs[self._service_key]))
                    result = OK if handler is None else (yield from handler())
        except simpy.Interrupt:
            result = RESET
        self._inflight.discard(env.active_process)
        if not reply.triggered:
            reply.succeed(result)

    def kill(self) -> None:
        """SIGKILL: refuse new connections; every request in flight or queued gets a reset."""
        self.state = DOWN
        for process in list(self._inflight):
            if process.is_alive:
                process.interrupt("killed")
        self._inflight.clear()
        for reply in self._hung:
            if not reply.triggered:
                reply.succeed(RESET)
        self._hung.clear()

    @property
    def busy(self) -> int:
        return self.pool.count

    @property
    def waiting(self) -> int:
        return len(self.pool.queue)
