"""The simulation a handler is graded in: one case played on a virtual clock, in this process.

A RabbitMQ queue with classic-queue semantics (a requeued message goes back to the head, flagged redelivered),
its retry queues (TTL, then back to the work queue's tail) and dead-letter queue; one or two competing consumers
with prefetch 1, each a fresh load of the handler module (a crash loses its memory) restarted RESTART_S after a
crash; fakeredis for Redis and an in-memory SQLite for the database; the faults of the case at their moments.
Each delivery's handler runs at once when its service time is up, inside one transaction. The result is a
History: every delivery, operation, effect, settlement and fault, and what the run left behind.
"""

from __future__ import annotations

import heapq
import itertools
import sqlite3
import types
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import fakeredis

from sandbox.grade import workloads
from sandbox.grade.api import RETRIES_HEADER, Message
from sandbox.grade.cases import Case, Outage, Publish, draw
from sandbox.grade.context import MailRelay
from sandbox.grade.delivery import AFTER_COMMIT, Killed, Store, handle_delivery, settle_words
from sandbox.grade.handler import CALL_LIMIT_S, Loaded, Outcome, load
from sandbox.grade.history import History, StaleRead, copy_name

RESTART_S = 1.0
"""A killed consumer is back this long after (its supervisor starts it again)."""
RECONNECT_S = 0.5
"""A consumer whose connection dropped (its node failed, the broker restarted) consumes again this long after."""
DUPLICATE_AFTER_S = 0.05
SLOW_S = 2.0
SERVICE_S = (0.05, 0.15)
"""A delivery's handling takes this long, drawn per message and delivery."""
READ_EVERY_S = 0.5
"""Invalidation tasks: how often the blog reads each cache key (filling it from the database on a miss)."""
DELIVERY_CAP = 40
"""Past this many deliveries of one copy the world stops delivering it: it would loop for ever."""


@dataclass
class _Copy:
    """One published copy of a message, as the queue holds it."""

    publish: Publish
    number: int
    retries: int = 0
    redelivered: bool = False
    deliveries: int = 0
    end: str = "in flight"
    holder: int = 0

    @property
    def name(self) -> str:
        return copy_name(self.publish.id, self.number)


@dataclass
class _Consumer:
    number: int
    loaded: Loaded
    up: bool = True
    connected: bool = True
    busy: bool = False
    incarnation: int = 0


@dataclass(order=True)
class _Due:
    at_s: float
    order: int
    action: Callable[..., None] = field(compare=False)
    args: tuple[Any, ...] = field(compare=False, default=())


class World:
    def __init__(self, case: Case, code: types.CodeType, tail_s: float, relay: MailRelay | None = None,
                 call_limit_s: float = CALL_LIMIT_S, after_call: Callable[[], None] = lambda: None):
        self.case = case
        self.code = code
        self.call_limit_s = call_limit_s
        self.after_call = after_call
        self.history = History()
        self.now = 0.0
        self.end_s = max((m.at_s for m in case.messages), default=0.0) + tail_s
        self._due: list[_Due] = []
        self._order = itertools.count()
        self._ready: deque[_Copy] = deque()
        self._held_back: list[_Copy] = []  # published or returning while the broker is down
        self._copies: list[_Copy] = []
        self._deliveries_of: dict[str, int] = {}
        self.broker_up = True
        self.redis_server = fakeredis.FakeServer()
        self.redis = fakeredis.FakeRedis(server=self.redis_server, decode_responses=True)
        self.db = sqlite3.connect(":memory:", isolation_level=None)
        self.db.executescript(workloads.SCHEMA)
        for statement, values in workloads.rows():
            self.db.execute(statement, values)
        self.relay = relay or MailRelay()
        self.version = 0
        self.consumers = [_Consumer(n, load(code, call_limit_s)) for n in range(1, case.consumers + 1)]

    # the clock ---------------------------------------------------------------

    def _at(self, at_s: float, action: Callable[..., None], *args: Any) -> None:
        heapq.heappush(self._due, _Due(at_s, next(self._order), action, args))

    def run(self) -> History:
        for message in self.case.messages:
            self._at(message.at_s, self._publish, message, 1)
            if self.case.duplicated(message.id):
                self._at(message.at_s + DUPLICATE_AFTER_S, self._publish, message, 2)
        for outage in self.case.faults:
            if isinstance(outage, Outage):
                self._at(outage.at_s, self._outage, outage.part, True, outage.down_s)
                self._at(outage.at_s + outage.down_s, self._outage, outage.part, False, outage.down_s)
        if self.case.kind == "invalidation":
            self._at(0.0, self._read)
        while self._due and self._due[0].at_s <= self.end_s:
            due = heapq.heappop(self._due)
            self.now = due.at_s
            due.action(*due.args)
            self._dispatch()
        return self._finish()

    # the producer and the broker ---------------------------------------------

    def _publish(self, message: Publish, number: int) -> None:
        copy = _Copy(message, number)
        self._copies.append(copy)
        if self.case.kind == "invalidation" and not message.poison and number == 1:
            self.version += 1
            self.history.writes_s.append(self.now)
        self._add("publish", copy, 0, None, ("again (a duplicate publish): " if number > 1 else "") + message.words())
        self._enqueue(copy)

    def _enqueue(self, copy: _Copy) -> None:
        copy.end = "ready"
        (self._ready if self.broker_up else self._held_back).append(copy)

    def _requeue(self, copy: _Copy) -> None:
        copy.redelivered, copy.end, copy.holder = True, "ready", 0
        self._ready.appendleft(copy)

    def _outage(self, part: str, down: bool, down_s: float) -> None:
        words = {"broker": "the broker", "redis": "Redis", "mail": "the mail relay"}[part]
        self.history.add(self.now, "down" if down else "up", words=f"{words} {'down' if down else 'up again'}"
                         + (f" for {down_s:g} s" if down else ""))
        if part == "redis":
            self.redis_server.connected = not down
        elif part == "mail":
            return
        elif down:
            self.broker_up = False
            for copy in self._copies:
                if copy.end == "unacked":
                    self._requeue(copy)  # the connection is gone: the broker takes back what was unacked
            for consumer in self.consumers:
                consumer.connected = False
        else:
            self.broker_up = True
            self._ready.extend(self._held_back)
            self._held_back.clear()
            for consumer in self.consumers:
                self._at(self.now + RECONNECT_S, self._reconnect, consumer, consumer.incarnation)

    def _dispatch(self) -> None:
        for consumer in self.consumers:
            while self._ready and self.broker_up and consumer.up and consumer.connected and not consumer.busy:
                self._deliver(consumer, self._ready.popleft())

    def _deliver(self, consumer: _Consumer, copy: _Copy) -> None:
        copy.deliveries += 1
        if copy.deliveries > DELIVERY_CAP:
            copy.end = "still being redelivered"
            self._add("looping", copy, copy.deliveries, consumer,
                      f"{copy.name} has been delivered {DELIVERY_CAP} times; the grader stops here")
            return
        n = self._deliveries_of[copy.publish.id] = self._deliveries_of.get(copy.publish.id, 0) + 1
        copy.end, copy.holder = "unacked", consumer.number
        consumer.busy = True
        flag = "redelivered=True" if copy.redelivered else "redelivered=False"
        retried = f", {RETRIES_HEADER}={copy.retries}" if copy.retries else ""
        self._add("deliver", copy, n, consumer, f"{copy.name} → consumer {consumer.number} ({flag}{retried})")
        if consumer.loaded.auto_ack:
            copy.end = "acked"
            self._add("ack", copy, n, consumer, "acked on delivery (auto_ack=True), before the handler runs")
        low, high = SERVICE_S
        service_s = SLOW_S if self.case.is_slow(copy.publish.id, n) else \
            low + (high - low) * draw(self.case.seed, copy.publish.id, copy.number, copy.deliveries)
        self._at(self.now + service_s, self._handle, consumer, consumer.incarnation, copy, n)

    # a consumer --------------------------------------------------------------

    def _handle(self, consumer: _Consumer, incarnation: int, copy: _Copy, n: int) -> None:
        if consumer.incarnation != incarnation:
            return
        message = Message(copy.publish.body, copy.publish.id, copy.redelivered,
                          {RETRIES_HEADER: copy.retries} if copy.retries else {})

        def record(kind: str, words: str) -> None:
            self._add(kind, copy, n, consumer, words)

        def kill(_where: str) -> None:
            raise Killed()

        store = Store(self.db, self.redis, "", self.relay, lambda: self.now)
        handled = handle_delivery(consumer.loaded, message, store, self.case.crash_at(copy.publish.id, n), record,
                                  kill, self.call_limit_s, self.after_call)
        consumer.busy = False
        outcome = handled.outcome
        if consumer.loaded.auto_ack:
            self._after_auto_ack(consumer, copy, n, outcome, handled.killed)
        elif handled.killed:
            rolled_back = "" if handled.killed == AFTER_COMMIT else ": the transaction rolls back"
            self._crash(consumer, copy, n, f"killed {handled.killed}{rolled_back}")
        elif outcome is None:
            raise AssertionError("a delivery that was not killed has an outcome")
        elif copy.end != "unacked" or copy.holder != consumer.number:
            self._add("lost-ack", copy, n, consumer,
                      f"{outcome.words} cannot reach the broker: the connection closed meanwhile")
        elif self.case.loses_ack(copy.publish.id, n):
            self._requeue(copy)
            consumer.connected = False
            self._at(self.now + RECONNECT_S, self._reconnect, consumer, consumer.incarnation)
            self._add("lost-ack", copy, n, consumer,
                      f"its node fails (the queue's leader moves): the connection drops, the {outcome.words} with it")
        else:
            self._settle(consumer, copy, n, outcome)

    def _add(self, kind: str, copy: _Copy, n: int, consumer: _Consumer | None, words: str) -> None:
        self.history.add(self.now, kind, copy.publish.id, n, consumer.number if consumer else 0, words, copy.number)

    def _after_auto_ack(self, consumer: _Consumer, copy: _Copy, n: int, outcome: Outcome | None,
                        killed: str) -> None:
        """auto_ack: the broker forgot the message on delivery, so a failure or a crash mid-handler loses it."""
        if outcome is None or outcome.kind not in ("ack", "retry"):
            copy.end = "lost"
            why = f"its consumer was killed {killed}" if outcome is None else f"the handler failed ({outcome.words})"
            self._add("lost", copy, n, consumer, f"{copy.name} is gone: {why}, and it was acked on delivery")
        elif outcome.kind == "retry":
            self._settle(consumer, copy, n, outcome)
        if killed:
            self._crash(consumer, copy, n, f"killed {killed}")

    def _settle(self, consumer: _Consumer, copy: _Copy, n: int, outcome: Outcome) -> None:
        if outcome.kind == "ack":
            copy.end = "acked"
        elif outcome.kind == "retry":
            copy.end, copy.holder = "in the retry queue", 0
            self._at(self.now + outcome.delay_s, self._retry, copy)
        elif outcome.requeue:
            self._requeue(copy)
        else:
            copy.end, copy.holder = "dead-lettered", 0
        kind, words = settle_words(outcome)
        self._add(kind, copy, n, consumer, words)

    def _retry(self, copy: _Copy) -> None:
        copy.retries += 1
        copy.redelivered = False
        self._add("publish", copy, 0, None, f"{copy.name} back from the retry queue ({RETRIES_HEADER}={copy.retries})")
        self._enqueue(copy)

    def _crash(self, consumer: _Consumer, copy: _Copy, n: int, words: str) -> None:
        consumer.up, consumer.busy = False, False
        consumer.incarnation += 1
        self._add("crash", copy, n, consumer, f"consumer {consumer.number} {words}")
        if copy.end == "unacked" and copy.holder == consumer.number:
            self._requeue(copy)
        self._at(self.now + RESTART_S, self._restart, consumer, consumer.incarnation)

    def _restart(self, consumer: _Consumer, incarnation: int) -> None:
        if consumer.incarnation == incarnation:
            consumer.loaded = load(self.code, self.call_limit_s)
            consumer.up, consumer.connected = True, self.broker_up
            self.history.add(self.now, "restart", consumer=consumer.number,
                             words=f"consumer {consumer.number} starts again (a fresh process: its memory is gone)")

    def _reconnect(self, consumer: _Consumer, incarnation: int) -> None:
        if consumer.incarnation == incarnation and self.broker_up:
            consumer.connected = True

    # the blog's reads (invalidation tasks) -----------------------------------

    def _read(self) -> None:
        if self.redis_server.connected:
            cached = self.redis.mget(workloads.CACHE_KEYS)
            for key, value in zip(workloads.CACHE_KEYS, cached, strict=True):
                if value is None:
                    self.redis.set(key, self.version)
                elif int(value) < self.version:
                    self._stale(key, int(value))
        if self.now + READ_EVERY_S <= self.end_s:
            self._at(self.now + READ_EVERY_S, self._read)

    def _stale(self, key: str, cached: int) -> None:
        first = not any(r.key == key and r.cached == cached for r in self.history.stale_reads)
        self.history.stale_reads.append(StaleRead(self.now, key, cached, self.version))
        if first:
            self.history.add(self.now, "stale", words=f"the blog reads {key}: version {cached} from the cache, "
                                                      f"the database has {self.version}")

    # the end -----------------------------------------------------------------

    def _finish(self) -> History:
        history = self.history
        history.end_s = self.end_s
        history.settle_books()
        history.mailbox = [(m, r) for m, r in self.db.execute("SELECT message_id, recipient FROM mailbox")]
        history.authors = {u: (n, v) for u, n, v in self.db.execute("SELECT user_id, name, version FROM authors")}
        self.db.close()
        return history
