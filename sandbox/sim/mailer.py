"""The mailer: a consumer of post.created events that e-mails the author's followers, once per post (or not).

The author publishes `post.created` (the post's id, message id `post-<id>`) on an exchange of its own; the
mailer's durable queue is bound to it and the mailer consumes with manual ack, one message at a time. With
`mailer.crash_rate` the mailer is killed while handling a message, half the time just before its e-mail and half
just after it, before the ack; the broker then gives the unacked message to the mailer that comes back
`mailer.restart_s` later, flagged redelivered. `consumer.dedup` decides what that redelivery does:

- `none`: e-mails again (a duplicate when the kill came after the e-mail);
- `inbox`: the message id is written with the e-mail in one database transaction, so a redelivery finds it and
  skips, and a kill before the commit left neither;
- `redis-before`: SETNX of the id in Redis first; a kill between the SETNX and the e-mail leaves the id marked
  and no e-mail, and the redelivery skips it: the e-mail is lost for good.

Counts (model/metrics.py): `effect.applied` per e-mail, `effect.duplicates` per e-mail beyond a post's first,
`effect.missing` per message acked while its post has no e-mail.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Generator
from dataclasses import dataclass
from typing import Any

import simpy

from sandbox.model.effects import BEFORE, kill_point, post_message_id
from sandbox.sim.broker import Broker
from sandbox.sim.cache import FAILED, Cache
from sandbox.sim.context import Context
from sandbox.sim.faults import DOWN


@dataclass
class PostCreated:
    """One post.created event in the mailer's queue."""

    post_id: int
    deliveries: int = 0

    @property
    def message_id(self) -> str:
        return post_message_id(self.post_id)


class Mailer:
    """The mailer's queue, its one consumer, the mailbox table, the inbox table and the ids marked in Redis."""

    def __init__(self, ctx: Context, broker: Broker, cache: Cache):
        self.ctx = ctx
        self.broker = broker
        self.cache = cache
        self.queue: deque[PostCreated] = deque()
        self.mailbox: dict[int, int] = {}
        """E-mails sent per post id."""
        self.inbox: set[str] = set()
        self.marked: set[str] = set()
        """Message ids SETNX marked in Redis (redis-before)."""
        self.crashes = 0
        self._wake: simpy.Event | None = None
        ctx.env.process(self._run())

    def publish(self, post_id: int) -> None:
        """The author's post.created for a committed post: routed to the mailer's queue (a broker that is down
        refuses it, and the post never has an e-mail: not counted missing, as no message was ever taken)."""
        if self.broker.state == DOWN:
            return
        self.queue.append(PostCreated(post_id))
        if self._wake is not None and not self._wake.triggered:
            self._wake.succeed()

    def _run(self) -> Generator[Any, Any, None]:
        env = self.ctx.env
        while True:
            if not self.queue:
                self._wake = env.event()
                yield self._wake
                continue
            event = self.queue.popleft()
            event.deliveries += 1
            done = yield from self._handle(event)
            if done is None:  # killed holding it: the broker requeues it at the head, flagged redelivered
                self.queue.appendleft(event)
                self.crashes += 1
                self.ctx.log(f"the mailer was killed holding {event.message_id}; it comes back in "
                             f"{self.ctx.knobs.mailer.restart_s:g} s")
                yield env.timeout(self.ctx.knobs.mailer.restart_s)
            elif not done:  # Redis failed: nack with requeue, and a pause before the next message
                self.queue.append(event)
                yield env.timeout(self.ctx.knobs.redis.timeout_s)
            else:
                self._acked(event)

    def _handle(self, event: PostCreated) -> Generator[Any, Any, bool | None]:
        """True when the message is to be acked, False to requeue it, None when the mailer was killed."""
        ctx = self.ctx
        knobs = ctx.knobs
        yield ctx.env.timeout(ctx.work_s(knobs.mailer.work_ms))
        kill = self.kill_point()
        dedup = knobs.consumer.dedup
        if dedup == "redis-before":
            first = yield from self.cache.command(lambda _now: self._setnx(event.message_id))
            if first is FAILED:
                return False
            if not first:
                return True  # marked already: skipped, whether or not its e-mail was ever sent
        if kill == BEFORE:
            return None
        if dedup != "inbox" or event.message_id not in self.inbox:
            self._send(event.post_id)
            if dedup == "inbox":
                self.inbox.add(event.message_id)  # the same transaction as the e-mail
        return kill is None

    def kill_point(self) -> str | None:
        """Where this handling is killed (model/effects.py)."""
        return kill_point(self.ctx.rng, self.ctx.knobs.mailer.crash_rate)

    def _setnx(self, message_id: str) -> bool:
        if message_id in self.marked:
            return False
        self.marked.add(message_id)
        return True

    def _send(self, post_id: int) -> None:
        now = self.ctx.env.now
        sent = self.mailbox.get(post_id, 0) + 1
        self.mailbox[post_id] = sent
        self.ctx.measurements.count(now, "effect.applied")
        if sent > 1:
            self.ctx.measurements.count(now, "effect.duplicates")

    def _acked(self, event: PostCreated) -> None:
        if not self.mailbox.get(event.post_id):
            self.ctx.measurements.count(self.ctx.env.now, "effect.missing")
            self.ctx.log(f"{event.message_id} acked without its e-mail: the followers never get it")
