"""An HTTP service: a finite worker pool shared by all its endpoints, behind a fault proxy."""

from __future__ import annotations

from collections.abc import Callable, Generator
from operator import attrgetter
from typing import Any

import simpy

from sandbox.sim.context import Context
from sandbox.sim.deadlines import Pending
from sandbox.sim.faults import DOWN, HUNG, Faults
from sandbox.sim.outcome import ERROR_500, OK, RESET, Outcome
from sandbox.sim.pool import Pool
from sandbox.sim.task import Task

Handler = Callable[[], Generator[Any, Any, Outcome]] | None
"""An endpoint's own work after the service's mean work; None for an endpoint that only does that.

Its first step runs in a callback (a cache hit ends there); from its first wait on, it runs as a Task. So it waits
on something before it sends a call of its own (Http.send needs the process or Task that waits)."""


class Service(Faults):
    def __init__(self, ctx: Context, name: str):
        super().__init__()
        self.ctx = ctx
        self.name = name
        self.pool = Pool(ctx.env, ctx.knobs.services.pool(name).workers)
        self._own_knobs = attrgetter(name)
        """This service's PoolKnobs out of ctx.knobs.services, read at each request (a `set` acts at once)."""
        self._inflight: dict[_Request, None] = {}
        self._hung: list[simpy.Event] = []

    def accept(self, handler: Handler) -> simpy.Event:
        """A connection arrived (the service is not down): the event of its response, whose value is the Outcome.

        When hung, an event only a kill answers."""
        if self.state == HUNG:
            return self._swallow()
        response = self.ctx.env.event()
        self._start(_Request(self, handler, response, None))
        return response

    def accept_answered(self, handler: Handler, answer: Callable[[Outcome], None]) -> Pending:
        """As `accept`, for a caller that is not a process: `answer` gets the Outcome the moment it is known (no
        event in between); returns what a deadline watches."""
        if self.state == HUNG:
            swallowed = self._swallow()
            swallowed.callbacks.append(lambda event: answer(event.value))
            return swallowed
        request = _Request(self, handler, None, answer)
        self._start(request)
        return request

    def _swallow(self) -> simpy.Event:
        swallowed = self.ctx.env.event()
        self._hung.append(swallowed)
        return swallowed

    def _start(self, request: _Request) -> None:
        self._inflight[request] = None
        request.start()

    def kill(self) -> None:
        """SIGKILL: refuse new connections; every request in flight or queued gets a reset."""
        self.state = DOWN
        for request in list(self._inflight):
            request.reset()
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


class _Request:
    """One request inside a service, step by step as callbacks: the wire, a worker, the work, the handler (a Task).

    A request costs no process: only the events it waits for, and its response."""

    __slots__ = ("_answer", "_handling", "_holds", "_response", "_ticket", "handler", "service", "triggered")

    def __init__(self, service: Service, handler: Handler, response: simpy.Event | None,
                 answer: Callable[[Outcome], None] | None):
        self.service = service
        self.handler = handler
        self._response = response
        self._answer = answer
        self.triggered = False
        """Answered (or reset): every step still due does nothing."""
        self._ticket: simpy.Event | None = None
        self._holds = False
        self._handling: Task | None = None

    def start(self) -> None:
        service = self.service
        ctx = service.ctx
        # the round trip and any injected latency pass on the wire, before a worker is taken
        wire_s = service.wire_s(ctx.knobs.http.rtt_ms / 1000.0, ctx.rng)
        if wire_s:
            ctx.env.call_in(wire_s, self._arrived)
        else:
            self._arrived(None)

    def _arrived(self, _: object) -> None:
        if self.triggered:
            return
        service = self.service
        if service.error_rate and service.fails(service.ctx.rng):
            self._finish(ERROR_500)
            return
        ticket = service.pool.acquire()
        if ticket is None:
            self._work()
        else:
            self._ticket = ticket
            ticket.callbacks.append(self._granted)

    def _granted(self, _: object) -> None:
        if not self.triggered:
            self._ticket = None
            self._work()

    def _work(self) -> None:
        self._holds = True
        service = self.service
        ctx = service.ctx
        ctx.env.call_in(ctx.work_s(service._own_knobs(ctx.knobs.services).service_ms), self._worked)

    def _worked(self, _: object) -> None:
        if self.triggered:
            return
        if self.handler is None:
            self._handled(OK)
            return
        steps = self.handler()
        try:
            first = steps.send(None)  # most reads end here (a cache hit): no Task
        except StopIteration as returned:
            self._handled(returned.value)
            return
        self._handling = Task(self.service.ctx.env, steps, self._handled, on_interrupt=RESET, first=first)

    def _handled(self, outcome: Outcome) -> None:
        self._handling = None  # no cycle left for the collector (it is paused while the clock runs)
        self._release()
        self._finish(outcome)

    def _release(self) -> None:
        if self._holds:
            self._holds = False
            self.service.pool.release()

    def _finish(self, outcome: Outcome) -> None:
        self.triggered = True
        self.service._inflight.pop(self, None)
        if self._answer is not None:
            self._answer(outcome)
        else:
            assert self._response is not None
            self._response.succeed(outcome)

    def reset(self) -> None:
        """The service died: the request ends with a connection reset, wherever it was."""
        if self.triggered:
            return
        if self._handling is not None:
            if self._handling.is_alive:
                self._handling.interrupt("killed")
            return
        if self._ticket is not None:
            self.service.pool.cancel(self._ticket)
            self._ticket = None
        self._release()
        self._finish(RESET)

