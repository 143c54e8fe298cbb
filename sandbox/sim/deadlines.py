"""Caller timeouts without a timer per call.

Calls with the same timeout expire in the order they started, so one watcher
per timeout value sleeps until the oldest unanswered call's deadline and skips
every call answered meanwhile: a handful of events instead of one per call.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from typing import Protocol

import simpy


class Pending(Protocol):
    """What a deadline watches: an event, or anything else that knows when it is answered."""

    @property
    def triggered(self) -> bool: ...


class Deadlines:
    def __init__(self, env: simpy.Environment):
        self.env = env
        self._lines: dict[float, deque[tuple[float, Pending, Callable[[], None]]]] = {}
        self._idle: dict[float, simpy.Event] = {}

    def arm(self, response: Pending, timeout_s: float, expire: Callable[[], None]) -> None:
        """Call `expire` after `timeout_s` unless `response` came first; 0 waits forever."""
        if timeout_s <= 0:
            return
        line = self._lines.get(timeout_s)
        if line is None:
            line = self._lines[timeout_s] = deque()
            self.env.process(self._watch(timeout_s, line))
        line.append((self.env.now + timeout_s, response, expire))
        idle = self._idle.pop(timeout_s, None)
        if idle is not None:
            idle.succeed()

    def _watch(self, timeout_s: float, line: deque[tuple[float, Pending, Callable[[], None]]]):
        env = self.env
        while True:
            while line and line[0][1].triggered:
                line.popleft()
            if not line:
                self._idle[timeout_s] = idle = env.event()
                yield idle
                continue
            deadline, _, expire = line[0]
            if deadline > env.now:
                yield env.timeout(deadline - env.now)
                continue
            line.popleft()
            expire()
