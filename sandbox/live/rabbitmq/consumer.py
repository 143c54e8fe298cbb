"""Consuming from RabbitMQ the way the official pika tutorials do, plus what a long-lived worker needs.

`basic_qos(prefetch_count=...)`, `basic_consume` and a manual `basic_ack` after the work, as in the tutorials;
on top: competing consumers (a channel each) on one connection, reconnecting after a fixed wait, and the work
done off the I/O thread so heartbeats keep flowing while a slow handler runs (pika's basic_consumer_threaded
example). A failed message is rejected with requeue (`basic_reject`), which counts toward a quorum queue's
delivery limit; `basic_nack` gives back messages that were never processed (on shutdown). With a delayed retry
(`retry_queues`) a failed message is instead published to the next retry queue, which holds it for its TTL and
dead-letters it back to the queue, and then acked; past the last retry queue it is rejected without requeue, so
the queue's dead-letter exchange takes it to the DLQ.
"""

from __future__ import annotations

import contextlib
import itertools
import logging
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import partial
from typing import Any

import pika
import pika.exceptions
from pika.adapters.blocking_connection import BlockingChannel

from sandbox.live.rabbitmq.broker import BROKER_ERRORS, HEARTBEAT_S, POLL_S, Urls, connect, describe

log = logging.getLogger(__name__)


Handler = Callable[[bytes, pika.BasicProperties], None]
ACKED, FAILED, NOT_PROCESSED = "acked", "failed", "not processed"
RETRIES_HEADER = "x-retries"
"""How many retry queues a message has waited in: the consumer's own count (RabbitMQ's x-death says it too)."""


@dataclass
class ConsumerStats:
    consumed: int = 0  # handled successfully (and acked, with manual ack)
    redelivered: int = 0  # deliveries flagged redelivered by the broker
    failed: int = 0  # handler failures (rejected, or lost with auto ack)
    dead_lettered: int = 0  # failures past the delivery limit: RabbitMQ moves these to the DLQ
    retried: int = 0  # failures sent to a retry queue to wait (delayed retry)
    lost: int = 0  # auto ack: failed or abandoned messages the broker had already forgotten
    reconnects: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def add(self, name: str, n: int = 1) -> None:
        with self._lock:
            setattr(self, name, getattr(self, name) + n)

    def snapshot(self) -> dict[str, int]:
        with self._lock:
            return {name: getattr(self, name) for name in
                    ("consumed", "redelivered", "failed", "dead_lettered", "retried", "lost", "reconnects")}


@dataclass(frozen=True)
class Held:
    """A message delivered to this consumer and not yet settled."""

    id: str  # the producer's message_id, or "tag <n>" when it gave none
    deliveries: int  # this one included; a classic queue only says "redelivered", so there it is at least this
    lane: int  # the competing consumer (channel) holding it, from 1
    published_at: float | None  # the producer's timestamp (seconds since the epoch), when it set one

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "deliveries": self.deliveries, "lane": self.lane, "published_at": self.published_at}


def deliveries(method: Any, properties: pika.BasicProperties) -> int:
    """How often this message has been delivered, this time included.

    A quorum queue counts in headers (`x-delivery-count`; since 4.3 also `x-acquired-count`, which a nack
    raises too); a classic queue only flags a redelivery."""
    headers = properties.headers or {}
    counted = max(_count(headers.get("x-delivery-count")), _count(headers.get("x-acquired-count")))
    if counted:
        return counted + 1
    return 2 if method.redelivered else 1


def _count(header: object) -> int:
    """A count from a message header: RabbitMQ sends a number; anything else counts as 0."""
    return int(header) if isinstance(header, (int, float, str)) and str(header).isdigit() else 0


class _Lane:
    """One channel's consumer: its messages are handled one at a time, in order, on its own thread."""

    def __init__(self, number: int, name: str):
        self.number = number
        self.executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix=f"{name}-work-{number}")
        self.busy = False


class Consumer:
    """`basic_consume` on one queue with `channels` competing consumers on one connection.

    The I/O thread only talks to the broker; each message's handler runs on the consumer's own worker
    thread, and its ack goes back to the I/O thread through `add_callback_threadsafe`. With manual ack a
    message is acked only after the handler succeeded; a failure is rejected with requeue (`basic_reject`:
    it counts toward a quorum queue's delivery limit, past which RabbitMQ dead-letters it). On stop, the
    messages delivered but not yet started go back with `basic_nack` (never processed, so not a failure). With
    auto ack the broker forgets a message as soon as it is sent: a failure, or a crash, loses it. A dropped
    connection is retried every `reconnect_s`; the broker gives the unacked messages to whoever consumes next.
    """

    def __init__(self, url: Urls, queue_name: str, handler: Handler, *,
                 declare: Callable[[BlockingChannel], None] | None = None, prefetch: int = 10,
                 auto_ack: bool = False, requeue_failed: bool = True, channels: int = 1, delivery_limit: int = 0,
                 heartbeat_s: int = HEARTBEAT_S, reconnect_s: float = 1.0, timeout_s: float = 5.0,
                 retry_queues: tuple[str, ...] = (), name: str = "consumer"):
        self.url = url
        self.queue_name = queue_name
        self.handler = handler
        self.declare = declare
        self.prefetch = prefetch
        self.auto_ack = auto_ack
        self.requeue_failed = requeue_failed
        self.delivery_limit = delivery_limit
        self.retry_queues = retry_queues
        self.heartbeat_s = heartbeat_s
        self.reconnect_s = reconnect_s
        self.timeout_s = timeout_s
        self.name = name
        self.stats = ConsumerStats()
        self.lanes = [_Lane(number, name) for number in range(1, max(1, channels) + 1)]
        self._stopping = threading.Event()
        self._grace_s = 5.0
        self._cancelled = False
        self._epoch = 0
        self._held: dict[int, Held] = {}  # by a key of our own: delivery tags start again on every channel
        self._keys = itertools.count()
        self._held_lock = threading.Lock()
        self._connection: pika.BlockingConnection | None = None
        self._probe: BlockingChannel | None = None
        self._thread: threading.Thread | None = None
        self.connected = False
        self.last_error = ""

    @property
    def busy(self) -> int:
        return sum(lane.busy for lane in self.lanes)

    @property
    def holding(self) -> int:
        """Messages delivered to this process and not yet settled."""
        return len(self._held)

    def held(self, limit: int) -> list[Held]:
        """The first `limit` messages this process holds, in the order they were delivered."""
        with self._held_lock:
            return list(itertools.islice(self._held.values(), limit))

    def ready(self, timeout_s: float = 1.0) -> int | None:
        """Messages ready in the queue, asked on this consumer's own connection — the only one RabbitMQ answers
        about an exclusive queue; None while not connected, or without an answer in time."""
        connection = self._connection
        if connection is None or not self.connected:
            return None
        answer: Future[int] = Future()

        def ask() -> None:  # on the I/O thread
            try:
                if self._probe is None or not self._probe.is_open:
                    self._probe = connection.channel()
                answer.set_result(self._probe.queue_declare(self.queue_name, passive=True).method.message_count)
            except Exception as exc:
                answer.set_exception(exc)

        try:
            connection.add_callback_threadsafe(ask)
            return answer.result(timeout_s)
        except Exception:
            return None

    def start(self) -> threading.Thread:
        self._thread = threading.Thread(target=self.run, name=f"{self.name}-amqp", daemon=True)
        self._thread.start()
        return self._thread

    def stop(self, grace_s: float = 5.0) -> None:
        """Stop consuming; let the work in progress finish (up to `grace_s`) and ack it, give back the messages
        not started, close the connection."""
        self._grace_s = grace_s
        self._stopping.set()
        if self._thread is not None:
            self._thread.join(timeout=grace_s + 2)
        for lane in self.lanes:
            lane.executor.shutdown(wait=False, cancel_futures=True)

    def run(self) -> None:
        """Consume until `stop()`; whenever the connection drops, wait `reconnect_s` and connect again."""
        while not self._stopping.is_set():
            try:
                self._consume()
            except Exception as exc:  # whatever broke the connection, the consumer must come back
                self.last_error = describe(exc)
            finally:
                self.connected = False
            if self._stopping.is_set():
                break
            self.stats.add("reconnects")
            log.warning("%s: no RabbitMQ connection (%s); reconnecting in %.1f s", self.name, self.last_error,
                        self.reconnect_s)
            self._stopping.wait(self.reconnect_s)

    def _consume(self) -> None:
        connection = connect(self.url, heartbeat_s=self.heartbeat_s, retry_delay_s=self.reconnect_s,
                             timeout_s=self.timeout_s, name=self.name)
        self._connection = connection
        self._probe = None
        self._cancelled = False
        channels: list[tuple[BlockingChannel, str]] = []
        try:
            for lane in self.lanes:
                channel = connection.channel()
                if lane.number == 1 and self.declare is not None:
                    self.declare(channel)
                channel.basic_qos(prefetch_count=self.prefetch)
                channel.add_on_cancel_callback(self._on_cancel)
                tag = channel.basic_consume(self.queue_name, partial(self._on_message, lane, self._epoch),
                                            auto_ack=self.auto_ack)
                channels.append((channel, tag))
            self.connected = True
            self.last_error = ""
            while not self._stopping.is_set() and not self._cancelled:
                connection.process_data_events(time_limit=POLL_S)
            if self._cancelled:
                raise pika.exceptions.ConsumerCancelled(f"RabbitMQ cancelled the consumer on {self.queue_name!r}")
            self._finish_in_flight(connection, channels)
        finally:
            self._connection = None
            with self._held_lock:
                self._epoch += 1  # what this connection delivered is settled through it or not at all
                if not self.auto_ack:
                    self._held.clear()  # unacked: the broker takes it back (or loses it with the queue)
            if connection.is_open:
                with contextlib.suppress(*BROKER_ERRORS):
                    connection.close()

    def _finish_in_flight(self, connection: pika.BlockingConnection,
                          channels: list[tuple[BlockingChannel, str]]) -> None:
        """On stop: no new deliveries; keep the I/O loop running while the handler at work finishes and acks
        and the lanes give back what they had not started."""
        for channel, tag in channels:
            if channel.is_open:
                channel.basic_cancel(tag)
        deadline = time.monotonic() + self._grace_s
        while self._held and time.monotonic() < deadline:
            connection.process_data_events(time_limit=POLL_S)
        if self.auto_ack and self._held:
            self.stats.add("lost", len(self._held))  # auto-acked and never handled: the broker forgot them

    def _on_cancel(self, _frame: Any) -> None:
        self._cancelled = True  # the queue was deleted: reconnect and declare it again

    # on the I/O thread ---------------------------------------------------------

    def _on_message(self, lane: _Lane, epoch: int, channel: BlockingChannel, method: Any,
                    properties: pika.BasicProperties, body: bytes) -> None:
        if method.redelivered:
            self.stats.add("redelivered")
        returns = _count((properties.headers or {}).get("x-delivery-count"))
        key = next(self._keys)
        held = Held(properties.message_id or f"tag {method.delivery_tag}", deliveries(method, properties),
                    lane.number, properties.timestamp)
        with self._held_lock:
            self._held[key] = held
        connection = self._connection
        assert connection is not None, "a delivery arrives on an open connection"
        lane.executor.submit(self._work, lane, epoch, key, connection, channel, method.delivery_tag, returns,
                             properties, body)

    def _settle(self, epoch: int, key: int, channel: BlockingChannel, delivery_tag: int, outcome: str,
                returns: int, message: tuple[pika.BasicProperties, bytes] | None = None) -> None:
        if epoch != self._epoch or not channel.is_open:
            return  # that channel closed: the broker has already taken the message back
        self._done(epoch, key)
        if outcome == ACKED:
            channel.basic_ack(delivery_tag)
            self.stats.add("consumed")
        elif outcome == NOT_PROCESSED:
            channel.basic_nack(delivery_tag, requeue=True)
        elif self.retry_queues and message is not None:
            self._retry_later(channel, delivery_tag, *message)
        else:
            channel.basic_reject(delivery_tag, requeue=self.requeue_failed)
            self.stats.add("failed")
            if not self.requeue_failed or (self.delivery_limit and returns >= self.delivery_limit):
                self.stats.add("dead_lettered")

    def _retry_later(self, channel: BlockingChannel, delivery_tag: int, properties: pika.BasicProperties,
                     body: bytes) -> None:
        """Delayed retry: publish the failed message to its next retry queue, then ack it (on one channel, in that
        order); past the last retry queue, reject it without requeue: the dead-letter exchange takes it."""
        headers = dict(properties.headers or {})
        tier = _count(headers.get(RETRIES_HEADER))
        self.stats.add("failed")
        if tier >= len(self.retry_queues):
            channel.basic_reject(delivery_tag, requeue=False)
            self.stats.add("dead_lettered")
            return
        headers[RETRIES_HEADER] = tier + 1
        retried = pika.BasicProperties(
            content_type=properties.content_type, delivery_mode=properties.delivery_mode,
            message_id=properties.message_id, timestamp=properties.timestamp, headers=headers)
        channel.basic_publish("", self.retry_queues[tier], body, retried)
        channel.basic_ack(delivery_tag)
        self.stats.add("retried")

    # on the worker thread ------------------------------------------------------

    def _work(self, lane: _Lane, epoch: int, key: int, connection: pika.BlockingConnection,
              channel: BlockingChannel, delivery_tag: int, returns: int, properties: pika.BasicProperties,
              body: bytes) -> None:
        if not self.auto_ack and epoch != self._epoch:
            return  # delivered on a connection that is gone: the broker redelivers it
        if not self.auto_ack and self._stopping.is_set():
            self._send(connection, partial(self._settle, epoch, key, channel, delivery_tag, NOT_PROCESSED, returns))
            return
        lane.busy = True
        try:
            self.handler(body, properties)
            ok = True
        except Exception as exc:
            ok = False
            log.warning("%s: handling a message failed: %s", self.name, describe(exc))
        finally:
            lane.busy = False
        if self.auto_ack:
            self._done(epoch, key)
            self.stats.add("consumed" if ok else "failed")
            if not ok:
                self.stats.add("lost")
            return
        self._send(connection, partial(self._settle, epoch, key, channel, delivery_tag, ACKED if ok else FAILED,
                                       returns, (properties, body)))

    @staticmethod
    def _send(connection: pika.BlockingConnection, settle: Callable[[], None]) -> None:
        """pika is not thread-safe: the I/O thread sends the ack, reject or nack."""
        with contextlib.suppress(*BROKER_ERRORS):  # closed meanwhile: the broker redelivers the message
            connection.add_callback_threadsafe(settle)

    def _done(self, epoch: int, key: int) -> None:
        with self._held_lock:
            if self.auto_ack or epoch == self._epoch:
                self._held.pop(key, None)
