"""The Author Service's POST /blogs: commit the post, then invalidate the cache by a call or a message."""

from __future__ import annotations

from collections.abc import Generator
from typing import Any

from sandbox.model import losses
from sandbox.sim.blog import Blog
from sandbox.sim.broker import Broker
from sandbox.sim.context import Context
from sandbox.sim.http import Http
from sandbox.sim.mailer import Mailer
from sandbox.sim.outbox import OutboxRelay
from sandbox.sim.outcome import DEPENDENCY_FAILED, OK, Outcome
from sandbox.sim.store import Database

PUBLISH_FAILED = Outcome(False, "500: publish failed")


class Author:
    def __init__(self, ctx: Context, db: Database, http: Http, blog: Blog, broker: Broker | None,
                 outbox: OutboxRelay | None, mailer: Mailer | None = None):
        self.ctx = ctx
        self.db = db
        self.http = http
        self.blog = blog
        self.broker = broker
        self.outbox = outbox
        self.mailer = mailer

    def write(self, commits: list[int]) -> Generator[Any, Any, Outcome]:
        """POST /blogs. `commits` counts the commits of one client request across its retries."""
        ctx = self.ctx
        env = ctx.env
        yield env.timeout(ctx.work_s(ctx.knobs.db.write_ms))
        post_id = self.db.commit(env.now)
        if self.mailer is not None:
            self.mailer.publish(post_id)
        commits[0] += 1
        if commits[0] > 1:
            ctx.measurements.count(env.now, "write.duplicates")
        if self.broker is None:
            outcome = yield from self.http.call("author", "blog", self.blog.invalidate)
            if outcome.ok or ctx.knobs.sync.on_invalidate_error == "ignore":
                return OK
            return DEPENDENCY_FAILED
        msg = self.broker.new_message(persistent=ctx.knobs.broker.persistent)
        on_error = ctx.knobs.publish.on_error
        if on_error == "outbox":
            assert self.outbox is not None
            self.outbox.add(msg)
            return OK
        sent = yield from self.broker.publish(msg, confirm=ctx.knobs.publish.confirms)
        ctx.traffic.edge("author", "broker", OK if sent else PUBLISH_FAILED)
        if sent:
            return OK
        if on_error == "drop":
            self.broker.lose(msg, losses.DROPPED)
            return OK
        self.broker.lose(msg, losses.WRITE_FAILED)
        return PUBLISH_FAILED
