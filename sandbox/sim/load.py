"""The outside world: readers, authors and profile editors arriving as Poisson processes, and their clients."""

from __future__ import annotations

import random
from collections.abc import Callable, Generator
from functools import partial
from typing import Any, cast

import simpy

from sandbox.sim.author import Author
from sandbox.sim.blog import Blog
from sandbox.sim.context import Context
from sandbox.sim.faults import DOWN
from sandbox.sim.http import Http
from sandbox.sim.outcome import REFUSED, TIMEOUT, Outcome
from sandbox.sim.store import Database
from sandbox.sim.user import User


class Load:
    def __init__(self, ctx: Context, seed: int, http: Http, db: Database, blog: Blog, author: Author, user: User):
        self.ctx = ctx
        self.http = http
        self.db = db
        self.blog = blog
        self.author = author
        self.user = user
        self._arrivals = {
            "load.reads_per_s": self._start("reads", seed, lambda: ctx.knobs.load.reads_per_s, self._read),
            "load.writes_per_s": self._start("writes", seed, lambda: ctx.knobs.load.writes_per_s, self._write),
            "load.profile_updates_per_s": self._start(
                "profile_updates", seed, lambda: ctx.knobs.load.profile_updates_per_s, self._profile_update),
        }

    def _start(self, kind: str, seed: int, rate_per_s: Callable[[], float],
               arrive: Callable[[], None]) -> simpy.Process:
        return self.ctx.env.process(self._arrive(random.Random(f"{seed}:{kind}"), rate_per_s, arrive))

    def rate_changed(self, key: str) -> None:
        """A `load.*` knob changed: the arrival process draws its next gap at the new rate at once."""
        process = self._arrivals[key]
        if process.is_alive:
            process.interrupt("load changed")

    def _arrive(self, rng: random.Random, rate_per_s: Callable[[], float],
                arrive: Callable[[], None]) -> Generator[Any, Any, None]:
        env = self.ctx.env
        while True:
            rate = rate_per_s()
            try:
                yield env.timeout(rng.expovariate(rate)) if rate > 0 else env.event()
            except simpy.Interrupt:
                continue
            arrive()

    def _read(self) -> None:
        read = _Read(self.ctx, self.db.version)
        blog = self.http.services["blog"]
        if blog.state == DOWN:
            read.finish(REFUSED)
            return
        response = blog.accept(self.blog.read)
        response.callbacks.append(read.answered)
        self.ctx.deadlines.arm(response, self.ctx.knobs.client.timeout_s, read.timed_out)

    def _write(self) -> None:
        self.ctx.env.process(self._client_write())

    def _client_write(self) -> Generator[Any, Any, None]:
        ctx = self.ctx
        env = ctx.env
        started = env.now
        commits = [0]
        outcome: Outcome = REFUSED
        for attempt in range(ctx.knobs.client.retries + 1):
            if attempt:
                yield env.timeout(ctx.knobs.client.backoff_ms / 1000.0)
            outcome = yield from self.http.send("author", partial(self.author.write, commits),
                                                ctx.knobs.client.timeout_s)
            ctx.traffic.edge("client", "author", outcome)
            if outcome.ok:
                break
        ctx.measurements.write(env.now, (env.now - started) * 1000.0, outcome.ok)

    def _profile_update(self) -> None:
        self.ctx.env.process(self._client_profile_update())

    def _client_profile_update(self) -> Generator[Any, Any, None]:
        outcome = yield from self.http.send("user", self.user.update, self.ctx.knobs.client.timeout_s)
        self.ctx.traffic.edge("client", "user", outcome)


class _Read:
    """One GET /blogs from the outside client: finished by its response or by the client's timeout."""

    __slots__ = ("committed", "ctx", "done", "started")

    def __init__(self, ctx: Context, committed: int):
        self.ctx = ctx
        self.started = ctx.env.now
        self.committed = committed
        self.done = False

    def answered(self, response: simpy.Event) -> None:
        self.finish(cast(Outcome, response.value))

    def timed_out(self) -> None:
        self.finish(TIMEOUT)

    def finish(self, outcome: Outcome) -> None:
        if self.done:
            return
        self.done = True
        ctx = self.ctx
        now = ctx.env.now
        ctx.measurements.read(now, (now - self.started) * 1000.0, outcome.ok, outcome.version < self.committed)
        ctx.traffic.edge("client", "blog", outcome)
