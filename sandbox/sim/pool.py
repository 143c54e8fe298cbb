"""A FIFO worker pool: like simpy.Resource, but free workers cost no event and the size can change."""

from __future__ import annotations

from collections import deque

import simpy


class Pool:
    def __init__(self, env: simpy.Environment, workers: int):
        self.env = env
        self.workers = workers
        self.busy = 0
        self._waiting: deque[simpy.Event] = deque()

    def acquire(self) -> simpy.Event | None:
        """Take a worker: None when one is free now, else an event that fires when it is yours."""
        if self.busy < self.workers and not self._waiting:
            self.busy += 1
            return None
        ticket = self.env.event()
        self._waiting.append(ticket)
        return ticket

    def release(self) -> None:
        self.busy -= 1
        self._grant()

    def cancel(self, ticket: simpy.Event) -> None:
        """The waiter behind `ticket` is gone: hand its worker back, or leave the line."""
        if ticket.triggered:
            self.release()
        else:
            self._waiting.remove(ticket)

    def resize(self, workers: int) -> None:
        self.workers = workers
        self._grant()

    @property
    def waiting(self) -> int:
        return len(self._waiting)

    def _grant(self) -> None:
        while self._waiting and self.busy < self.workers:
            self.busy += 1
            self._waiting.popleft().succeed()
