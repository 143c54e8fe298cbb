"""blog: the read API. `GET /blogs` serves the post list from Redis, or rebuilds it on a miss.

On a miss it reads the newest posts and the database version from one SQLite snapshot, then needs
each distinct author's name:
- sync variant: it calls `GET {user}/api/v1/user/{id}` once per distinct author, over HTTP, and
  waits; if any call fails the read answers 500 and the cache is not filled;
- queue variant: it looks the names up in its local author directory, which a consumer of its own
  queue keeps current from `user.updated` events; a read never waits on the user service.
Then it fills the cache (guarded by the generation counter when `cache.guarded_set`). A Redis that
fails or times out counts as a miss; a failed fill is skipped.

`POST /internal/cache/invalidate` (the sync author's call) deletes `blogs:*` and answers 204.
"""

from __future__ import annotations

import json
from functools import partial

import redis
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from sandbox.live.rabbitmq.broker import declare_directory_queue
from sandbox.live.rabbitmq.consumer import Consumer
from sandbox.live.services.cache import BlogCache, redis_client
from sandbox.live.services.config import ServiceConfig
from sandbox.live.services.http import Caller, CallFailed, make_client
from sandbox.live.services.service import Counters, OwnWork, error, service_app
from sandbox.live.store import Database

NAME = "blog"


class Blog:
    def __init__(self, config: ServiceConfig):
        self.config = config
        k = config.knobs
        self.db = Database(config.database)
        self.work = OwnWork(k.services.blog.service_ms, k.services)
        self.cache = BlogCache(redis_client(config.redis_url, k.redis.timeout_s), config.redis_prefix)
        self.counters = Counters("requests", "errors", "cache_hits", "cache_misses", "cache_fills",
                                 "fills_refused", "redis_errors", "invalidations", "user_failures")
        self.caller: Caller | None = None
        self.directory: Consumer | None = None
        if config.queue:
            self.counters.add("directory_updates", 0)
            declare = partial(declare_directory_queue, queue_name=config.directory_queue,
                              exchange=config.user_exchange, durable=k.broker.durable)
            self.directory = Consumer(config.rabbitmq_urls, config.directory_queue, self.apply_user_event,
                                      declare=declare, prefetch=k.consumer.prefetch, requeue_failed=False,
                                      reconnect_s=k.consumer.reconnect_s, name=f"{NAME}-{config.variant}-directory")
        else:
            self.caller = Caller(make_client(k.http, config.workers(NAME)), k.http, k.breaker)

    def start(self) -> None:
        if self.directory is not None:
            self.directory.start()

    def close(self) -> None:
        if self.directory is not None:
            self.directory.stop()
        if self.caller is not None:
            self.caller.client.close()
        self.cache.client.close()
        self.db.close()

    def gauges(self) -> dict:
        if self.caller is not None:
            return {"user_calls": self.caller.calls, "user_call_failures": self.caller.failures,
                    "breaker": {callee: b.state for callee, b in self.caller.breakers.items()}}
        if self.directory is not None:
            return {"directory_connected": self.directory.connected}
        return {}

    # GET /blogs --------------------------------------------------------------------------------

    def list_blogs(self, request: Request) -> JSONResponse:
        """Runs on a worker thread."""
        self.counters.add("requests")
        self.work()
        cached = self._redis(self.cache.get)
        if cached:
            self.counters.add("cache_hits")
            return JSONResponse(cached | {"cached": True})
        self.counters.add("cache_misses")
        guarded = self.config.knobs.cache.guarded_set
        generation = self._redis(self.cache.generation) if guarded else None
        posts, version = self.db.page()
        author_ids = list(dict.fromkeys(post.author_id for post in posts))
        if self.caller is not None:
            names = {}
            for author_id in author_ids:
                try:
                    response = self.caller.call("user", "GET", f"{self.config.user_url}/api/v1/user/{author_id}")
                    names[author_id] = response.json()["name"]
                except (CallFailed, ValueError, KeyError, TypeError) as exc:
                    self.counters.add("user_failures")
                    self.counters.add("errors")
                    return error(500, f"the user service failed for author {author_id}: {exc}")
        else:
            names = self.db.directory_names(author_ids)
        page = {"posts": [post.to_dict() | {"author": names[post.author_id]} for post in posts], "version": version}
        if not guarded or generation is not None:  # an unreadable generation cannot guard a fill: skip it
            filled = self._redis(partial(self.cache.fill, page, generation, self.config.knobs.cache.ttl_s))
            if filled is not None:
                self.counters.add("cache_fills" if filled else "fills_refused")
        return JSONResponse(page | {"cached": False})

    def _redis(self, command):
        """Run a cache command; None when Redis fails (the read goes on without the cache)."""
        try:
            return command()
        except (redis.RedisError, OSError, ValueError):
            self.counters.add("redis_errors")
            return None

    # POST /internal/cache/invalidate ---------------------------------------------------------

    def invalidate(self, request: Request) -> Response:
        self.work()
        try:
            self.cache.invalidate()
        except (redis.RedisError, OSError) as exc:
            self.counters.add("redis_errors")
            return error(500, f"Redis failed: {exc}")
        self.counters.add("invalidations")
        return Response(status_code=204)

    # user.updated events (queue variant) -----------------------------------------------------

    def apply_user_event(self, body: bytes, _properties: object) -> None:
        """`{"id": 1, "name": "Ada"}` from the user.updated exchange; anything else is dropped."""
        event = json.loads(body)
        if not isinstance(event, dict) or isinstance(event.get("id"), bool) or not isinstance(event.get("id"), int) \
                or not isinstance(event.get("name"), str):
            raise ValueError(f"not a user.updated event: {body[:200]!r}")
        self.db.set_directory_name(event["id"], event["name"])
        self.counters.add("directory_updates")


def create_app(config: ServiceConfig) -> Starlette:
    blog = Blog(config)
    routes = [Route("/blogs", blog.list_blogs, methods=["GET"]),
              Route("/internal/cache/invalidate", blog.invalidate, methods=["POST"])]
    app = service_app(NAME, routes, counters=blog.counters, workers=config.workers(NAME), start=blog.start,
                      stop=blog.close, gauges=blog.gauges)
    app.state.service = blog
    return app
