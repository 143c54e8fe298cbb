"""Redis's `blogs:*` keys as the blog sees them: the version of the list they hold, with exact staleness."""

from __future__ import annotations

import math
from collections.abc import Callable, Generator
from enum import Enum
from typing import Any, Literal, TypeVar

from sandbox.sim.context import Context
from sandbox.sim.faults import DOWN, HUNG, Faults
from sandbox.sim.store import Database

T = TypeVar("T")


class Failed(Enum):
    """A Redis command that got no answer (down, timed out) or an error."""

    FAILED = "failed"


FAILED: Literal[Failed.FAILED] = Failed.FAILED


class Cache(Faults):
    """The `blogs:*` keys in Redis: the version of the list they hold, and when they expire."""

    def __init__(self, ctx: Context, db: Database) -> None:
        super().__init__()
        self.ctx = ctx
        self.db = db
        self.version: int | None = None
        self.expires_at = math.inf
        self.generation = 0
        self._peak_s = 0.0

    def staleness_s(self, now: float) -> float:
        """Age of the oldest committed write the cached list does not show (0 when fresh or empty)."""
        if self.version is None or now > self.expires_at or self.version >= self.db.version:
            return 0.0
        return now - self.db.commit_times[self.version]

    def _note(self, now: float) -> None:
        staleness = self.staleness_s(now)
        if staleness > self._peak_s:
            self._peak_s = staleness

    def get(self, now: float) -> int | None:
        if self.version is not None and now >= self.expires_at:
            self._note(self.expires_at)
            self.version = None
        return self.version

    def set(self, now: float, version: int, ttl_s: float, generation: int | None = None) -> None:
        """Fill the list; with `generation`, only if no invalidation happened since it was read."""
        if generation is not None and generation != self.generation:
            return
        self._note(now)
        self.version = version
        self.expires_at = now + ttl_s if ttl_s > 0 else math.inf
        self._note(now)

    def delete(self, now: float) -> None:
        """SCAN blogs:* + UNLINK: the next read rebuilds the list from the database."""
        self._note(now)
        self.version = None
        self.expires_at = math.inf
        self.generation += 1

    def kill(self) -> None:
        """Redis dies and comes back empty (no persistence for a cache)."""
        super().kill()
        self.delete(self.ctx.env.now)

    def peak_staleness_s(self, now: float) -> float:
        """Highest staleness since the last call (read once a second)."""
        self.get(now)
        peak = max(self._peak_s, self.staleness_s(now))
        self._peak_s = 0.0
        return peak

    def command(self, run: Callable[[float], T]) -> Generator[Any, Any, T | Failed]:
        """One Redis command as a client sends it: FAILED when Redis is down, hung (after the client's
        timeout) or erroring, else `run` at the moment the command lands."""
        ctx = self.ctx
        env = ctx.env
        if self.state == DOWN:
            return FAILED
        if self.state == HUNG:
            yield env.timeout(ctx.knobs.redis.timeout_s)
            return FAILED
        wire_s = self.wire_s(ctx.knobs.redis.rtt_ms / 1000.0, ctx.rng)
        if wire_s:
            yield env.timeout(wire_s)
        return self.landed(run)

    def landed(self, run: Callable[[float], T]) -> T | Failed:
        """A command that reached Redis: FAILED when it errs, else `run` now."""
        if self.error_rate and self.fails(self.ctx.rng):
            return FAILED
        return run(self.ctx.env.now)
