"""The Blog Service's endpoints: GET /blogs from the cache or the database, and the sync invalidation."""

from __future__ import annotations

from collections.abc import Generator
from typing import Any

from sandbox.sim.cache import FAILED, Cache
from sandbox.sim.context import Context
from sandbox.sim.faults import UP
from sandbox.sim.http import Http
from sandbox.sim.outcome import DEPENDENCY_FAILED, ERROR_500, OK, Outcome
from sandbox.sim.store import Database


class Blog:
    def __init__(self, ctx: Context, cache: Cache, db: Database, http: Http, queue: bool):
        self.ctx = ctx
        self.cache = cache
        self.db = db
        self.http = http
        self.queue = queue
        """The queue variant keeps a local directory of author names: a read never calls the User Service."""

    def read(self) -> Generator[Any, Any, Outcome]:
        """GET /blogs: the cached list, else the database plus author names."""
        ctx = self.ctx
        env = ctx.env
        cache = self.cache
        if cache.state == UP and not cache.degraded:  # the hot path: what cache.command does, without a generator
            rtt_s = ctx.knobs.redis.rtt_ms / 1000.0
            if rtt_s:
                yield env.timeout(rtt_s)
            cached: int | Any | None = cache.landed(cache.get)
        else:
            cached = yield from cache.command(cache.get)
        if cached is not None and cached is not FAILED:
            ctx.measurements.count(env.now, "cache.hits")
            return Outcome(True, "200 OK (cache)", cached)
        ctx.measurements.count(env.now, "cache.misses")
        generation = cache.generation if ctx.knobs.cache.guarded_set else None
        yield env.timeout(ctx.work_s(ctx.knobs.db.read_ms))
        version = self.db.version
        if not self.queue:
            for _ in range(ctx.knobs.blog.authors_per_page):
                outcome = yield from self.http.call("blog", "user")
                if not outcome.ok:
                    return DEPENDENCY_FAILED
        ttl_s = ctx.knobs.cache.ttl_s
        yield from cache.command(lambda now: cache.set(now, version, ttl_s, generation))
        return Outcome(True, "200 OK", version)

    def invalidate(self) -> Generator[Any, Any, Outcome]:
        """POST /internal/cache/invalidate (sync variant)."""
        deleted = yield from self.cache.command(self.cache.delete)
        return ERROR_500 if deleted is FAILED else OK
