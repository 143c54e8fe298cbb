"""The database (source of truth) and the Redis cache of the blog list, with exact staleness."""

from __future__ import annotations

import math
from collections.abc import Callable

from sandbox.sim.faults import Faults


class Database:
    """Posts as a version counter: version n means n writes committed; commit_times[i] made version i+1."""

    def __init__(self) -> None:
        self.commit_times: list[float] = []

    @property
    def version(self) -> int:
        return len(self.commit_times)

    def commit(self, now: float) -> int:
        self.commit_times.append(now)
        return len(self.commit_times)


class Cache(Faults):
    """The `blogs:*` keys in Redis: the version of the list they hold, and when they expire."""

    def __init__(self, db: Database, clock: Callable[[], float]) -> None:
        super().__init__()
        self.db = db
        self._clock = clock
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
        self.delete(self._clock())

    def peak_staleness_s(self, now: float) -> float:
        """Highest staleness since the last call (read once a second)."""
        self.get(now)
        peak = max(self._peak_s, self.staleness_s(now))
        self._peak_s = 0.0
        return peak
