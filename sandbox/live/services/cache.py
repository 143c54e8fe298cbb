"""The blog list cache in Redis: `<prefix>blogs:*` keys, a generation counter, and the guarded fill.

Invalidation (the blog's sync endpoint and the cache-worker alike) first bumps the generation, then
SCANs the matching keys and deletes them with one UNLINK. A reader that rebuilt the list from the
database fills the cache only if the generation it read before its database query is unchanged
(`cache.guarded_set`; WATCH + MULTI). Bumping *before* the delete closes the race both ways: a fill
that ran before the bump is found by the SCAN and deleted; a fill after it sees the new generation.
"""

from __future__ import annotations

import json
from collections.abc import Iterable

import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

SCAN_COUNT = 500


def redis_client(url: str, timeout_s: float) -> redis.Redis:
    """A client with a socket timeout (`redis.timeout_s`) and no silent retries: a failure is a failure."""
    return redis.Redis.from_url(url, socket_timeout=timeout_s, socket_connect_timeout=timeout_s,
                                retry=Retry(NoBackoff(), 0), health_check_interval=0)


class BlogCache:
    def __init__(self, client: redis.Redis, prefix: str = ""):
        self.client = client
        self.prefix = prefix
        self.key = f"{prefix}blogs:list"
        self.generation_key = f"{prefix}cache-generation:blogs"

    def get(self) -> dict | None:
        raw = self.client.get(self.key)
        return None if raw is None else json.loads(raw)

    def generation(self) -> int:
        return int(self.client.get(self.generation_key) or 0)

    def fill(self, page: dict, generation: int | None, ttl_s: float) -> bool:
        """Store the list; with a `generation`, only if no invalidation bumped it meanwhile. True if stored."""
        value = json.dumps(page, separators=(",", ":"))
        px = int(ttl_s * 1000) if ttl_s > 0 else None
        if generation is None:
            self.client.set(self.key, value, px=px)
            return True
        with self.client.pipeline(transaction=True) as pipe:
            try:
                pipe.watch(self.generation_key)
                if int(pipe.get(self.generation_key) or 0) != generation:
                    return False
                pipe.multi()
                pipe.set(self.key, value, px=px)
                pipe.execute()
            except redis.WatchError:
                return False
        return True

    def invalidate(self, patterns: Iterable[str] = ("blogs:*",)) -> int:
        """Bump the generation, then SCAN each prefixed pattern and UNLINK what matched; the keys deleted."""
        self.client.incr(self.generation_key)
        keys: set[bytes] = set()
        for pattern in patterns:
            keys.update(self.client.scan_iter(match=f"{self.prefix}{pattern}", count=SCAN_COUNT))
        keys.discard(self.generation_key.encode())  # whatever the pattern, the guard itself stays
        if not keys:
            return 0
        return self.client.unlink(*keys)
