"""author: the write API. `POST /blogs` commits the post, then invalidates the blog list cache.

sync variant: calls `POST {blog}/internal/cache/invalidate` and waits; when that fails it answers 500
(`sync.on_invalidate_error = "fail"`) or 201 anyway (`"ignore"`).
queue variant: publishes `{"action": "invalidateCache", "keys": ["blogs:*"]}` to `cache-invalidation`
and answers at once. When the publish fails (`publish.on_error`): `fail` answers 500, `drop` answers
201 and counts the message lost, `outbox` never publishes in the request at all: the message is an
outbox row in the post's own transaction, sent by the relay thread.

A 500 here never means "nothing happened": the post is committed before the invalidation is tried,
and the error body says so (a client that retries it writes the post twice).
"""

from __future__ import annotations

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from sandbox.live.rabbitmq.broker import INVALIDATE_BODY, Publisher, PublishError, PublishRefused
from sandbox.live.services.config import ServiceConfig
from sandbox.live.services.http import Caller, CallFailed, make_client
from sandbox.live.services.mailer import declare_mailer_queue, post_created_body
from sandbox.live.services.outbox import OutboxRelay
from sandbox.live.services.service import Counters, OwnWork, error, json_object, service_app
from sandbox.live.store import Database
from sandbox.model.effects import post_message_id

NAME = "author"


def publisher_for(config: ServiceConfig, confirms: bool, name: str) -> Publisher:
    """A publisher to the variant's invalidation queue; it declares the queue (unless it is the cache-worker's
    exclusive one) before its first publish."""
    k = config.knobs
    return Publisher(config.rabbitmq_urls, config.invalidation_queue, declare=config.topology.declare_for_producers,
                     confirms=confirms,
                     persistent=k.broker.persistent, timeout_s=k.publish.timeout_s,
                     reconnect_s=k.consumer.reconnect_s, name=f"{NAME}-{config.variant}-{name}")


class Author:
    def __init__(self, config: ServiceConfig):
        self.config = config
        k = config.knobs
        self.db = Database(config.database)
        self.work = OwnWork(k.services.author.service_ms, k.services)
        # published: every invalidation message once, as the simulation counts msg.published: it is either
        # in the broker (sent) or given up (lost), so published = consumed + queued + dead-lettered + lost
        flow = ("published", "publishing", "sent", "publish_failures", "nacked", "lost") if config.queue \
            else ("invalidate_failures",)
        self.counters = Counters("requests", "errors", "rejected", "events_failed", *flow)
        self.caller: Caller | None = None
        self.publisher: Publisher | None = None
        self.relay: OutboxRelay | None = None
        if not config.queue:
            self.caller = Caller(make_client(k.http, config.workers(NAME)), k.http, k.breaker)
        elif k.publish.on_error == "outbox":
            # the relay always waits for confirms: a row is marked sent only once the broker has it
            self.relay = OutboxRelay(self.db, publisher_for(config, True, "outbox"), k.outbox.poll_ms,
                                     self.counters)
        else:
            self.publisher = publisher_for(config, k.publish.confirms, "publisher")
        self.events: Publisher | None = None
        if config.mailer:  # post.created for the mailer: an event on its own exchange, confirmed
            self.events = Publisher(
                config.rabbitmq_urls, "", exchange=config.post_exchange, timeout_s=k.publish.timeout_s,
                declare=lambda channel: declare_mailer_queue(channel, config.post_exchange, config.mailer_queue),
                reconnect_s=k.consumer.reconnect_s, name=f"{NAME}-{config.variant}-events")

    def start(self) -> None:
        if self.relay is not None:
            self.relay.start()

    def close(self) -> None:
        if self.relay is not None:
            self.relay.stop()
            self.relay.publisher.close()
        for publisher in (self.publisher, self.events):
            if publisher is not None:
                publisher.close()
        if self.caller is not None:
            self.caller.client.close()
        self.db.close()

    def gauges(self) -> dict:
        if self.relay is None:
            return {}
        return {"outbox_pending": self.db.outbox_pending(), "outbox_connected": self.relay.publisher.connected,
                "outbox_error": self.relay.last_error}

    def create_post(self, author_id: int, title: str, body: str, request_id: str | None = None) -> JSONResponse:
        """Runs on a worker thread: commit, then invalidate the way this variant does.

        The author is not idempotent: a retried request is saved again (its `X-Request-Id` is kept with
        the post only so the lab can count such duplicates)."""
        self.counters.add("requests")
        self.work()
        outbox = self.relay is not None
        post, version = self.db.insert_post(author_id, title, body, request_id=request_id,
                                                 outbox_body=INVALIDATE_BODY if outbox else None)
        created = {"id": post.id, "version": version}
        if self.events is not None:
            self._announce(self.events, post.id)
        if outbox:
            return JSONResponse(created, status_code=201)
        if self.caller is not None:
            return self._invalidate_over_http(self.caller, created)
        if self.publisher is not None:
            return self._publish(self.publisher, created)
        raise RuntimeError("an author has a caller (sync), an outbox relay or a publisher")

    def _announce(self, events: Publisher, post_id: int) -> None:
        """post.created for the mailer; a failed publish is counted (`events_failed`) and the post has no e-mail."""
        try:
            events.publish(post_created_body(post_id), message_id=post_message_id(post_id))
        except PublishError:
            self.counters.add("events_failed")

    def _invalidate_over_http(self, caller: Caller, created: dict) -> JSONResponse:
        try:
            caller.call("blog", "POST", f"{self.config.blog_url}/internal/cache/invalidate")
        except CallFailed as exc:
            self.counters.add("invalidate_failures")
            if self.config.knobs.sync.on_invalidate_error == "fail":
                self.counters.add("errors")
                return error(500, f"the post was saved, but invalidating the blog cache failed: {exc}", **created)
        return JSONResponse(created, status_code=201)

    def _publish(self, publisher: Publisher, created: dict) -> JSONResponse:
        self.counters.add("published")
        # a gauge: committed posts whose message is on its way now; it drops only once the message is
        # in the broker or counted lost, so the lab's census never finds a message in neither place
        self.counters.add("publishing")
        try:
            publisher.publish(INVALIDATE_BODY, message_id=f"post-{created['id']}")
        except PublishError as exc:
            self.counters.add("publish_failures")
            if isinstance(exc, PublishRefused):
                self.counters.add("nacked")
            self.counters.add("lost")  # nobody will send this invalidation again
            if self.config.knobs.publish.on_error == "drop":
                return JSONResponse(created, status_code=201)
            self.counters.add("errors")
            return error(500, f"the post was saved, but publishing the cache invalidation failed: {exc}",
                         **created)
        finally:
            self.counters.add("publishing", -1)
        self.counters.add("sent")
        return JSONResponse(created, status_code=201)


def create_app(config: ServiceConfig) -> Starlette:
    author = Author(config)

    async def create(request: Request) -> JSONResponse:
        doc = await json_object(request)
        problem = _invalid_post(doc)
        if doc is None or problem:
            author.counters.add("rejected")
            return error(400, problem)
        return await run_in_threadpool(author.create_post, doc["author_id"], doc["title"], doc["body"],
                                       request.headers.get("x-request-id"))

    app = service_app(NAME, [Route("/blogs", create, methods=["POST"])], counters=author.counters,
                      workers=config.workers(NAME), start=author.start, stop=author.close, gauges=author.gauges)
    app.state.service = author
    return app


def _invalid_post(doc: dict | None) -> str:
    if doc is None:
        return 'the body must be a JSON object: {"title": ..., "body": ..., "author_id": ...}'
    author_id = doc.get("author_id")
    if isinstance(author_id, bool) or not isinstance(author_id, int) or author_id < 1:
        return "author_id must be a whole number of at least 1"
    for name in ("title", "body"):
        if not isinstance(doc.get(name), str):
            return f"{name} must be a string"
    return ""
