"""The blog's directory of author names, fed by user.updated events: where their order can break.

Each profile change gives one author a new name, version n+1 of that author's name, and publishes `user.updated`
to the blog's queue. `directory.consumers` competing consumers take the queue's messages round-robin, each holding
up to `directory.prefetch` unacked ones and applying them one by one (`directory.work_ms` each). Two changes of one
author held by two consumers are applied in whichever order their consumers reach them, so an older name can land
last and stay: the directory shows it for good. `directory.order`:

- `last-write`: apply whatever arrives;
- `version`: apply an event only if its version is newer than the one shown (an older one is acked and ignored);
- `single-active`: the queue's `x-single-active-consumer`: RabbitMQ delivers to one consumer at a time, in queue
  order; the others stand by and take over only when it goes.

The gauge `names.wrong` (and `names.wrong_last`, its reading at a window's end) counts authors whose shown
name is not their latest.
"""

from __future__ import annotations

import random
from collections import deque
from collections.abc import Generator
from dataclasses import dataclass
from typing import Any

import simpy

from sandbox.model.service_time import service_time_s
from sandbox.sim.context import Context


@dataclass(frozen=True)
class NameChange:
    """One user.updated: the author's id and the version of the name it carries."""

    author: int
    version: int


class _Consumer:
    """One channel consuming the directory's queue with its prefetch."""

    def __init__(self, directory: Directory):
        self.directory = directory
        self.buffer: deque[NameChange] = deque()
        self._wake: simpy.Event | None = None
        directory.ctx.env.process(self._run())

    def deliver(self, change: NameChange) -> None:
        self.buffer.append(change)
        if self._wake is not None and not self._wake.triggered:
            self._wake.succeed()

    def _run(self) -> Generator[Any, Any, None]:
        directory = self.directory
        env = directory.ctx.env
        while True:
            if not self.buffer:
                self._wake = env.event()
                yield self._wake
                continue
            yield env.timeout(directory.work_s())
            directory.apply(self.buffer.popleft())
            directory.dispatch()  # the ack frees a prefetch slot


class Directory:
    """The directory's queue, its consumers, the latest version of each author's name and the version shown."""

    def __init__(self, ctx: Context, seed: int):
        self.ctx = ctx
        self.rng = random.Random(f"{seed}:directory")
        knobs = ctx.knobs.directory
        self.order = knobs.order
        self.prefetch = knobs.prefetch
        self.ready: deque[NameChange] = deque()
        self.latest: dict[int, int] = {}
        self.shown: dict[int, int] = {}
        self.consumers = [_Consumer(self) for _ in range(1 if self.order == "single-active" else knobs.consumers)]
        self.standing_by = knobs.consumers - len(self.consumers)
        """single-active: the consumers RabbitMQ keeps waiting while the active one lives."""
        self._next = 0

    def work_s(self) -> float:
        """One consumer's work on one event, drawn from the directory's own draws (the rest of the world's stay
        as they were without it)."""
        services = self.ctx.knobs.services
        return service_time_s(self.ctx.knobs.directory.work_ms, services.distribution, services.lognormal_sigma,
                              self.rng)

    def publish(self) -> None:
        """A profile change of a random author: its name's next version, published as user.updated."""
        author = self.rng.randrange(self.ctx.knobs.directory.authors)
        version = self.latest.get(author, 0) + 1
        self.latest[author] = version
        self.ready.append(NameChange(author, version))
        self.dispatch()

    def dispatch(self) -> None:
        """Hand ready messages round-robin to consumers with a free prefetch slot."""
        consumers = self.consumers
        while self.ready:
            for step in range(len(consumers)):
                consumer = consumers[(self._next + step) % len(consumers)]
                if len(consumer.buffer) < self.prefetch:
                    self._next = (self._next + step + 1) % len(consumers)
                    consumer.deliver(self.ready.popleft())
                    break
            else:
                return

    def apply(self, change: NameChange) -> None:
        if self.order == "version" and change.version <= self.shown.get(change.author, 0):
            return  # older than the name shown: acked and ignored
        self.shown[change.author] = change.version

    @property
    def wrong(self) -> int:
        """Authors whose shown name is not their latest (in flight or for good)."""
        return sum(1 for author, version in self.latest.items() if self.shown.get(author, 0) != version)
