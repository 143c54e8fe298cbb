"""The outside world: readers, authors and profile editors arriving as Poisson processes, and their clients."""

from __future__ import annotations

import random
from collections.abc import Callable, Generator
from functools import partial
from math import log
from typing import Any

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
            "load.reads_per_s": _Arrivals(ctx, seed, "reads", lambda: ctx.knobs.load.reads_per_s, self._read),
            "load.writes_per_s": _Arrivals(ctx, seed, "writes", lambda: ctx.knobs.load.writes_per_s, self._write),
            "load.profile_updates_per_s": _Arrivals(
                ctx, seed, "profile_updates", lambda: ctx.knobs.load.profile_updates_per_s, self._profile_update),
        }

    def rate_changed(self, key: str) -> None:
        """A `load.*` knob changed: the arrivals draw their next gap at the new rate at once."""
        self._arrivals[key].restart()

    def _read(self) -> None:
        read = _Read(self.ctx, self.db.version)
        blog = self.http.services["blog"]
        if blog.state == DOWN:
            read.finish(REFUSED)
            return
        response = blog.accept_answered(self.blog.read, read.finish)
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


class _Arrivals:
    """One kind of arrival as a Poisson process: a callback at each arrival draws the gap to the next.

    It starts, and starts over at a rate change, the moment a process would (the gap drawn before is dropped).
    Its random numbers are drawn BATCH at a time, as unit exponentials divided by the rate when used: the same
    numbers, in the same order, as one `expovariate(rate)` per gap."""

    BATCH = 256

    __slots__ = ("_arrive", "_call_in", "_rate_per_s", "_rng", "_round", "_soon", "_units")

    def __init__(self, ctx: Context, seed: int, kind: str, rate_per_s: Callable[[], float],
                 arrive: Callable[[], None]):
        self._call_in = ctx.env.call_in
        self._soon = ctx.env.call_soon
        self._rng = random.Random(f"{seed}:{kind}")
        self._units: list[float] = []
        """Unit exponentials drawn ahead, the next one last."""
        self._rate_per_s = rate_per_s
        self._arrive = arrive
        self._round = 0
        self.restart()

    def restart(self) -> None:
        self._soon(self._begin)

    def _begin(self, _: object) -> None:
        self._round += 1
        self._next()

    def _next(self) -> None:
        rate = self._rate_per_s()
        if rate > 0:
            units = self._units
            if not units:
                draw = self._rng.random
                units += [-log(1.0 - draw()) for _ in range(self.BATCH)]  # random.expovariate's formula
                units.reverse()
            self._call_in(units.pop() / rate, partial(self._arrived, self._round))

    def _arrived(self, round_: int, _: object) -> None:
        if round_ == self._round:
            self._arrive()
            self._next()


class _Read:
    """One GET /blogs from the outside client: finished by its response or by the client's timeout."""

    __slots__ = ("committed", "ctx", "done", "started")

    def __init__(self, ctx: Context, committed: int):
        self.ctx = ctx
        self.started = ctx.env.now
        self.committed = committed
        self.done = False

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
