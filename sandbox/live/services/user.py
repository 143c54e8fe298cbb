"""user: profiles. `GET /api/v1/user/{id}` -> {id, name}; `PUT /api/v1/user/{id}` {name} renames.

Every id has a profile: one nobody renamed is called "Author {id}". In the queue variant a rename
also publishes `{"id": ..., "name": ...}` to the fanout exchange `user.updated`, which feeds the
blog's author directory. A rename whose event cannot be published still succeeds (the directory
misses it, as in the simulation); `events_failed` counts those.
"""

from __future__ import annotations

import json
from functools import partial

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from sandbox.live.rabbitmq.broker import Publisher, PublishError
from sandbox.live.services.config import ServiceConfig
from sandbox.live.services.service import Counters, OwnWork, error, json_object, service_app
from sandbox.live.store import Database

NAME = "user"


def _declare_exchange(channel, exchange: str) -> None:
    channel.exchange_declare(exchange, exchange_type="fanout", durable=True)


class User:
    def __init__(self, config: ServiceConfig):
        self.config = config
        k = config.knobs
        self.db = Database(config.database)
        self.work = OwnWork(k.services.user.service_ms, k.services)
        self.counters = Counters("requests", "errors", "renames")
        self.publisher: Publisher | None = None
        if config.queue:
            self.counters.add("events_published", 0)
            self.counters.add("events_failed", 0)
            # publish/subscribe: no queue bound yet is not an error, so no mandatory flag
            self.publisher = Publisher(config.rabbitmq_urls, "", exchange=config.user_exchange,
                                       declare=partial(_declare_exchange, exchange=config.user_exchange),
                                       confirms=k.publish.confirms, persistent=k.broker.persistent,
                                       mandatory=False, timeout_s=k.publish.timeout_s,
                                       reconnect_s=k.consumer.reconnect_s, name=f"{NAME}-{config.variant}-events")

    def close(self) -> None:
        if self.publisher is not None:
            self.publisher.close()
        self.db.close()

    def get_user(self, request: Request) -> JSONResponse:
        """Runs on a worker thread."""
        self.counters.add("requests")
        self.work()
        user_id = request.path_params["user_id"]
        return JSONResponse({"id": user_id, "name": self.db.user_name(user_id)})

    def rename(self, user_id: int, name: str) -> JSONResponse:
        """Runs on a worker thread."""
        self.counters.add("requests")
        self.work()
        self.db.set_user_name(user_id, name)
        self.counters.add("renames")
        if self.publisher is not None:
            try:
                self.publisher.publish(json.dumps({"id": user_id, "name": name}).encode())
                self.counters.add("events_published")
            except PublishError:
                self.counters.add("events_failed")
        return JSONResponse({"id": user_id, "name": name})


def create_app(config: ServiceConfig) -> Starlette:
    user = User(config)

    async def put_user(request: Request) -> JSONResponse:
        doc = await json_object(request)
        if doc is None or not isinstance(doc.get("name"), str) or not doc["name"].strip():
            return error(400, 'the body must be a JSON object with a non-empty "name"')
        return await run_in_threadpool(user.rename, request.path_params["user_id"], doc["name"])

    routes = [Route("/api/v1/user/{user_id:int}", user.get_user, methods=["GET"]),
              Route("/api/v1/user/{user_id:int}", put_user, methods=["PUT"])]
    app = service_app(NAME, routes, counters=user.counters, workers=config.workers(NAME), stop=user.close)
    app.state.service = user
    return app
