"""A generator stepped by its events' callbacks: a SimPy process without the events that start and end one.

A process costs an Initialize event to start and its own event to end; a task takes its first step at once, in its
caller, and hands its return value to a callback. While it steps it is the environment's active process, and it is
interrupted as a process is (the Interrupt lands at this moment, before the moment's other events), so the code
it runs (Http.send's timeout) cannot tell the difference.
"""

from __future__ import annotations

from collections.abc import Callable, Generator
from functools import partial
from typing import Any, Protocol

import simpy

from sandbox.sim.clock import Clock


class Interruptible(Protocol):
    """What a caller waiting on an event is, to whoever interrupts it: a simpy.Process or a Task."""

    @property
    def is_alive(self) -> bool: ...

    @property
    def target(self) -> simpy.Event | None: ...

    def interrupt(self, cause: Any = None) -> None: ...


class Task:
    """`steps` run as a process would; `done` gets what they return, or `on_interrupt` when an Interrupt escapes.

    With `first`, the generator has taken its first step already (in a callback, not as the active process) and
    waits on that event."""

    __slots__ = ("_done", "_env", "_on_interrupt", "_steps", "is_alive", "target")

    def __init__(self, env: Clock, steps: Generator[Any, Any, Any], done: Callable[[Any], None],
                 on_interrupt: Any = None, first: simpy.Event | None = None):
        self._env = env
        self._steps = steps
        self._done = done
        self._on_interrupt = on_interrupt
        self.is_alive = True
        self.target: simpy.Event | None = None
        if first is None:
            self._advance(None, None)
        else:
            self._wait(first)

    def interrupt(self, cause: Any = None) -> None:
        self._env.call_soon(partial(self._interrupted, cause))

    def _interrupted(self, cause: Any, _: object) -> None:
        if not self.is_alive:
            return
        target = self.target
        if target is not None and target.callbacks is not None:
            target.callbacks.remove(self._on_event)
        self._advance(None, simpy.Interrupt(cause))

    def _on_event(self, event: simpy.Event) -> None:
        if event._ok:
            self._advance(event._value, None)
        else:
            event._defused = True
            self._advance(None, event._value)

    def _wait(self, event: simpy.Event) -> None:
        if event.callbacks is not None:
            event.callbacks.append(self._on_event)
            self.target = event
        else:
            self._on_event(event)

    def _advance(self, value: Any, error: BaseException | None) -> None:
        """Send `value` (or throw `error`) in, and on until the generator waits on an event not yet processed."""
        env = self._env
        outer = env._active_proc
        env._active_proc = self  # type: ignore[assignment]  # Http.send asks env.active_process who waits
        try:
            while True:
                try:
                    event = self._steps.send(value) if error is None else self._steps.throw(error)
                except StopIteration as returned:
                    self._end(returned.value)
                    return
                except simpy.Interrupt:
                    self._end(self._on_interrupt)
                    return
                if event.callbacks is not None:
                    event.callbacks.append(self._on_event)
                    self.target = event
                    return
                if event._ok:
                    value, error = event._value, None
                else:
                    event._defused = True
                    value, error = None, event._value
        finally:
            env._active_proc = outer

    def _end(self, value: Any) -> None:
        self.is_alive = False
        self.target = None
        self._done(value)
