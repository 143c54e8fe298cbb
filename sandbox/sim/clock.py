"""SimPy's environment with a tighter event loop, and callbacks scheduled without a Timeout each.

The order of events is SimPy's own: (time, priority, scheduling number). `run_to(t)` processes exactly the events
`run(until=t)` processes (those before t, and URGENT ones at t scheduled before the call); `call_in` is a Timeout
whose only callback is known when it is made, and `call_soon` a process's first step. It reads SimPy 4's queue
and counter (`_queue`, `_eid`, `_now`); tests/unit/sim/test_clock.py checks both against SimPy's own.
"""

from __future__ import annotations

from collections.abc import Callable
from heapq import heappop, heappush
from typing import Any

import simpy
from simpy.events import NORMAL, URGENT


class Call:
    """A callback due at a moment: what env.step() needs of an event, and nothing more."""

    __slots__ = ("_ok", "_value", "callbacks")

    def __init__(self, callback: Callable[[Any], None]):
        self.callbacks: list[Callable[[Any], None]] | None = [callback]
        self._ok = True
        self._value = None


class Clock(simpy.Environment):
    _queue: list[Any]  # SimPy's heap of (time, priority, number, event); a Call stands in for an event
    def call_in(self, delay_s: float, callback: Callable[[Any], None]) -> None:
        """Call `callback(event)` after `delay_s`, in the order a Timeout made now would fire."""
        heappush(self._queue, (self._now + delay_s, NORMAL, next(self._eid), Call(callback)))

    def call_soon(self, callback: Callable[[Any], None]) -> None:
        """Call `callback(event)` at this moment, before the moment's other events: when a process made now
        would take its first step (or an interrupt made now would land)."""
        heappush(self._queue, (self._now, URGENT, next(self._eid), Call(callback)))

    def run_to(self, at: float) -> None:
        """What `run(until=at)` does, without its stop event's callbacks and one method call per event."""
        if at <= self._now:
            raise ValueError(f"until ({at}) must be greater than the current simulation time")
        stop = (at, URGENT, next(self._eid))
        queue = self._queue
        while queue and queue[0] < stop:
            self._now, _, _, event = heappop(queue)
            callbacks, event.callbacks = event.callbacks, None
            for callback in callbacks:
                callback(event)
            if not event._ok and not hasattr(event, "_defused"):
                exc = type(event._value)(*event._value.args)
                exc.__cause__ = event._value
                raise exc
        self._now = at
