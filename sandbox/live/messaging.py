"""RabbitMQ for the lab, written the way the official pika tutorials write it.

One connection per process (per thread, really: a pika BlockingConnection is not thread-safe), a channel
on it, the durable queue `cache-invalidation`, persistent messages, publisher confirms,
`basic_qos(prefetch_count=...)` and a manual `basic_ack` after the work. On top of the tutorials: a
dead-letter queue past the delivery limit, reconnecting after a fixed wait, and the work done off the I/O
thread so heartbeats keep flowing while a slow handler runs (pika's basic_consumer_threaded example).

The message is exactly `{"action": "invalidateCache", "keys": ["blogs:*"]}`, so a producer in any
language drives the cache-worker unchanged.
"""

from __future__ import annotations

import contextlib
import json
import logging
import queue
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

from sandbox.live.errors import LabError

log = logging.getLogger(__name__)

INVALIDATE_CACHE = {"action": "invalidateCache", "keys": ["blogs:*"]}
INVALIDATE_BODY = json.dumps(INVALIDATE_CACHE).encode()  # b'{"action": "invalidateCache", "keys": ["blogs:*"]}'
HEARTBEAT_S = 10  # AMQP heartbeat timeout we ask for; pika declares the peer dead after ~timeout + 5 s of silence
POLL_S = 0.1  # how often a consumer's I/O loop looks at its stop flag

# Everything that means "the connection or channel is gone or unusable".
BROKER_ERRORS = (pika.exceptions.AMQPError, OSError)


class PublishError(RuntimeError):
    """The broker did not take the message: unreachable, refused (nack), unroutable, or no answer in time."""


class TopologyError(LabError):
    """A queue or exchange exists with other settings than this variant asks for."""


# connecting and declaring -------------------------------------------------------------------------


def connection_parameters(url: str, *, heartbeat_s: int = HEARTBEAT_S, connection_attempts: int = 1,
                          retry_delay_s: float = 1.0, timeout_s: float = 5.0,
                          name: str = "post-office-lab") -> pika.URLParameters:
    params = pika.URLParameters(url)
    params.heartbeat = heartbeat_s
    params.connection_attempts = connection_attempts
    params.retry_delay = retry_delay_s
    params.socket_timeout = timeout_s
    params.stack_timeout = timeout_s * 2
    params.blocked_connection_timeout = timeout_s  # a broker under a resource alarm does not stall us forever
    params.client_properties = {"connection_name": name}
    return params


def connect(url: str, **options: Any) -> pika.BlockingConnection:
    """One blocking connection with heartbeats (options: see `connection_parameters`)."""
    return pika.BlockingConnection(connection_parameters(url, **options))


def dead_letter_names(queue_name: str) -> tuple[str, str]:
    """The dead-letter exchange and queue of `queue_name`."""
    return f"{queue_name}.dlx", f"{queue_name}.dlq"


def declare_topology(channel: BlockingChannel, queue_name: str, durable: bool = True, delivery_limit: int = 0,
                     user_exchange: str | None = "user.updated") -> None:
    """The invalidation queue, its dead-letter exchange and queue `<queue>.dlq`, and the user.updated exchange.

    With `delivery_limit` > 0 the queue is a quorum queue with `x-delivery-limit`: RabbitMQ dead-letters
    a message returned more than that many times. Quorum queues are always durable, so the limit wins
    over `durable=False`. Otherwise it is a classic queue, durable or not.
    """
    dlx, dlq = dead_letter_names(queue_name)
    arguments: dict[str, Any] = {"x-dead-letter-exchange": dlx}
    if delivery_limit > 0:
        arguments |= {"x-queue-type": "quorum", "x-delivery-limit": delivery_limit}
        durable = True
    try:
        channel.exchange_declare(dlx, exchange_type="fanout", durable=True)
        channel.queue_declare(dlq, durable=True)
        channel.queue_bind(dlq, dlx)
        channel.queue_declare(queue_name, durable=durable, arguments=arguments)
        if user_exchange:
            channel.exchange_declare(user_exchange, exchange_type="fanout", durable=True)
    except pika.exceptions.ChannelClosedByBroker as exc:
        raise _topology_error(exc, queue_name) from None


def declare_directory_queue(channel: BlockingChannel, queue_name: str, exchange: str, durable: bool = True) -> None:
    """The blog's own queue bound to the user.updated fanout exchange (publish/subscribe)."""
    try:
        channel.exchange_declare(exchange, exchange_type="fanout", durable=True)
        channel.queue_declare(queue_name, durable=durable)
        channel.queue_bind(queue_name, exchange)
    except pika.exceptions.ChannelClosedByBroker as exc:
        raise _topology_error(exc, queue_name) from None


def _topology_error(exc: pika.exceptions.ChannelClosedByBroker, name: str) -> TopologyError:
    if exc.reply_code == 406:
        return TopologyError(
            f"RabbitMQ already has {name!r} with other settings ({exc.reply_text}); delete it "
            f"(rabbitmqctl delete_queue {name}) or give this variant another queue suffix")
    return TopologyError(f"RabbitMQ refused to declare {name!r}: {exc.reply_code} {exc.reply_text}")


def delete_topology(channel: BlockingChannel, queue_name: str, user_exchange: str | None = None,
                    extra_queues: tuple[str, ...] = ()) -> None:
    """Delete what `declare_topology` (and the blog's directory queue) made; missing parts are fine."""
    dlx, dlq = dead_letter_names(queue_name)
    for name in (queue_name, dlq, *extra_queues):
        channel.queue_delete(name)
    channel.exchange_delete(dlx)
    if user_exchange:
        channel.exchange_delete(user_exchange)


# publishing ---------------------------------------------------------------------------------------

_STOP = object()


class Publisher:
    """Publishes to one destination through one connection owned by one thread.

    `publish` hands the message to that thread and waits up to `timeout_s` for the outcome (with
    confirms: the broker's ack). While idle the thread keeps the connection's heartbeats going. After a
    failure it reconnects lazily: the next publish tries again once `reconnect_s` has passed, and until
    then fails at once instead of making every request wait on a dead broker.
    """

    def __init__(self, url: str, routing_key: str, *, exchange: str = "",
                 declare: Callable[[BlockingChannel], None] | None = None, confirms: bool = True,
                 persistent: bool = True, mandatory: bool | None = None, timeout_s: float = 5.0,
                 reconnect_s: float = 1.0, heartbeat_s: int = HEARTBEAT_S, name: str = "publisher"):
        self.url = url
        self.exchange = exchange
        self.routing_key = routing_key
        self.declare = declare
        self.confirms = confirms
        self.persistent = persistent
        # mandatory: an unroutable message comes back as an error instead of vanishing (needs confirms)
        self.mandatory = confirms if mandatory is None else mandatory and confirms
        self.timeout_s = timeout_s
        self.reconnect_s = reconnect_s
        self.heartbeat_s = heartbeat_s
        self.name = name
        self._jobs: queue.SimpleQueue = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._thread_lock = threading.Lock()
        self._connection: pika.BlockingConnection | None = None
        self._channel: BlockingChannel | None = None
        self._retry_at = 0.0
        self._last_error = ""
        self.published = 0
        self.failures = 0

    @property
    def connected(self) -> bool:
        channel = self._channel
        return channel is not None and channel.is_open

    def publish(self, body: bytes, message_id: str | None = None) -> None:
        """Publish `body`; return once the broker has it, or raise PublishError."""
        future: Future = Future()
        self._jobs.put((body, message_id, future))
        self._ensure_thread()
        try:
            future.result(timeout=self.timeout_s)
        except TimeoutError:
            # still queued: withdrawn; already on the wire: it may yet arrive (a timeout cannot know)
            future.cancel()
            raise PublishError(f"no answer from RabbitMQ within {self.timeout_s:g} s") from None

    def close(self) -> None:
        with self._thread_lock:
            thread = self._thread
            if thread is None:
                return
            self._jobs.put(_STOP)
        thread.join(timeout=self.timeout_s + 1)

    def _ensure_thread(self) -> None:
        with self._thread_lock:
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._run, name=f"{self.name}-amqp", daemon=True)
                self._thread.start()

    # the publisher thread ------------------------------------------------------

    def _run(self) -> None:
        while True:
            try:
                job = self._jobs.get(timeout=POLL_S * 2)
            except queue.Empty:
                job = None
            if job is _STOP:
                break
            self._keep_alive()
            if job is None:
                continue
            body, message_id, future = job
            if not future.set_running_or_notify_cancel():
                continue  # the caller stopped waiting before we got to it
            try:
                self._send(body, message_id)
            except PublishError as exc:
                self.failures += 1
                future.set_exception(exc)
            except Exception as exc:  # never leave a caller waiting on a bug
                self.failures += 1
                self._disconnect()
                future.set_exception(PublishError(f"publish failed: {exc!r}"))
            else:
                self.published += 1
                future.set_result(None)
        self._disconnect()
        with self._thread_lock:
            self._thread = None

    def _keep_alive(self) -> None:
        """Let pika send heartbeats and read what the broker sent while we were idle."""
        if self._connection is not None and self._connection.is_open:
            try:
                self._connection.process_data_events(time_limit=0)
            except Exception as exc:  # pika also raises plain ValueErrors from a connection that died
                self._lost(exc, backoff=False)

    def _send(self, body: bytes, message_id: str | None) -> None:
        channel = self._open_channel()
        properties = pika.BasicProperties(
            content_type="application/json",
            delivery_mode=pika.DeliveryMode.Persistent if self.persistent else pika.DeliveryMode.Transient,
            message_id=message_id)
        try:
            channel.basic_publish(self.exchange, self.routing_key, body, properties, mandatory=self.mandatory)
        except pika.exceptions.UnroutableError:
            raise PublishError(f"RabbitMQ could not route the message: no queue {self.routing_key!r}") from None
        except pika.exceptions.NackError:
            raise PublishError("RabbitMQ refused the message (nack)") from None
        except BROKER_ERRORS as exc:
            self._lost(exc, backoff=False)
            raise PublishError(f"the connection to RabbitMQ was lost: {_describe(exc)}") from None

    def _open_channel(self) -> BlockingChannel:
        if self._channel is not None and self._channel.is_open:
            return self._channel
        self._disconnect()
        wait_s = self._retry_at - time.monotonic()
        if wait_s > 0:
            raise PublishError(f"RabbitMQ is unreachable ({self._last_error}); next attempt in {wait_s:.1f} s")
        try:
            connection = connect(self.url, heartbeat_s=self.heartbeat_s, timeout_s=self.timeout_s, name=self.name)
        except BROKER_ERRORS as exc:
            self._lost(exc)
            raise PublishError(f"RabbitMQ is unreachable: {_describe(exc)}") from None
        try:
            channel = connection.channel()
            if self.declare is not None:
                self.declare(channel)
            if self.confirms:
                channel.confirm_delivery()
        except (TopologyError, *BROKER_ERRORS) as exc:
            with contextlib.suppress(*BROKER_ERRORS):
                connection.close()
            self._lost(exc)
            raise PublishError(str(exc) if isinstance(exc, TopologyError) else _describe(exc)) from None
        self._connection, self._channel = connection, channel
        return channel

    def _lost(self, exc: BaseException, backoff: bool = True) -> None:
        """Forget the connection. A connection that broke is reopened at the next publish; after a failed
        attempt to open one, the next attempt waits `reconnect_s`."""
        self._last_error = _describe(exc)
        if backoff:
            self._retry_at = time.monotonic() + self.reconnect_s
        self._disconnect()

    def _disconnect(self) -> None:
        connection, self._connection, self._channel = self._connection, None, None
        if connection is not None and connection.is_open:
            with contextlib.suppress(*BROKER_ERRORS):
                connection.close()


# consuming ----------------------------------------------------------------------------------------

Handler = Callable[[bytes, pika.BasicProperties], None]


@dataclass
class ConsumerStats:
    consumed: int = 0  # handled successfully (and acked, with manual ack)
    redelivered: int = 0  # deliveries flagged redelivered by the broker
    failed: int = 0  # handler failures (nacked, or lost with auto ack)
    dead_lettered: int = 0  # failures past the delivery limit: RabbitMQ moves these to the DLQ
    lost: int = 0  # auto ack: failed or abandoned messages the broker had already forgotten
    reconnects: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def add(self, name: str, n: int = 1) -> None:
        with self._lock:
            setattr(self, name, getattr(self, name) + n)

    def snapshot(self) -> dict[str, int]:
        with self._lock:
            return {name: getattr(self, name) for name in
                    ("consumed", "redelivered", "failed", "dead_lettered", "lost", "reconnects")}


class _Lane:
    """One channel's consumer: its messages are handled one at a time, in order, on its own thread."""

    def __init__(self, name: str):
        self.executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix=name)
        self.busy = False


class Consumer:
    """`basic_consume` on one queue with `channels` competing consumers on one connection.

    The I/O thread only talks to the broker; each message's handler runs on the consumer's own worker
    thread, and its ack (or nack) goes back to the I/O thread through `add_callback_threadsafe`. With
    manual ack a message is acked only after the handler succeeded; a failure is nacked with requeue
    (past the queue's delivery limit RabbitMQ dead-letters it). With auto ack the broker forgets a
    message as soon as it is sent: a failure, or a crash, loses it. A dropped connection is retried with
    backoff; the broker gives the unacked messages to whoever consumes next.
    """

    def __init__(self, url: str, queue_name: str, handler: Handler, *,
                 declare: Callable[[BlockingChannel], None] | None = None, prefetch: int = 10,
                 auto_ack: bool = False, requeue_failed: bool = True, channels: int = 1, delivery_limit: int = 0,
                 heartbeat_s: int = HEARTBEAT_S, reconnect_s: float = 1.0, timeout_s: float = 5.0,
                 name: str = "consumer"):
        self.url = url
        self.queue_name = queue_name
        self.handler = handler
        self.declare = declare
        self.prefetch = prefetch
        self.auto_ack = auto_ack
        self.requeue_failed = requeue_failed
        self.delivery_limit = delivery_limit
        self.heartbeat_s = heartbeat_s
        self.reconnect_s = reconnect_s
        self.timeout_s = timeout_s
        self.name = name
        self.stats = ConsumerStats()
        self.lanes = [_Lane(f"{name}-work-{i}") for i in range(max(1, channels))]
        self._stopping = threading.Event()
        self._grace_s = 5.0
        self._cancelled = False
        self._epoch = 0
        self._inflight = 0
        self._inflight_lock = threading.Lock()
        self._connection: pika.BlockingConnection | None = None
        self._thread: threading.Thread | None = None
        self.connected = False
        self.last_error = ""

    @property
    def busy(self) -> int:
        return sum(lane.busy for lane in self.lanes)

    @property
    def holding(self) -> int:
        """Messages delivered to this process and not yet settled."""
        return self._inflight

    def start(self) -> threading.Thread:
        self._thread = threading.Thread(target=self.run, name=f"{self.name}-amqp", daemon=True)
        self._thread.start()
        return self._thread

    def stop(self, grace_s: float = 5.0) -> None:
        """Stop consuming; let work in flight finish (up to `grace_s`), ack it, close the connection."""
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
                self.last_error = _describe(exc)
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
        with self._inflight_lock:
            self._epoch += 1
            if not self.auto_ack:
                self._inflight = 0  # what the old connection held unacked, the broker has taken back
        self._cancelled = False
        channels: list[tuple[BlockingChannel, str]] = []
        try:
            for index, lane in enumerate(self.lanes):
                channel = connection.channel()
                if index == 0 and self.declare is not None:
                    self.declare(channel)
                channel.basic_qos(prefetch_count=self.prefetch)
                channel.add_on_cancel_callback(self._on_cancel)
                tag = channel.basic_consume(self.queue_name,
                                            partial(self._on_message, lane, self._epoch, connection),
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
            if connection.is_open:
                with contextlib.suppress(*BROKER_ERRORS):
                    connection.close()

    def _finish_in_flight(self, connection: pika.BlockingConnection,
                          channels: list[tuple[BlockingChannel, str]]) -> None:
        """On stop: no new deliveries; keep the I/O loop running while the handlers finish and ack."""
        for channel, tag in channels:
            if channel.is_open:
                channel.basic_cancel(tag)
        deadline = time.monotonic() + self._grace_s
        while self._inflight > 0 and time.monotonic() < deadline:
            connection.process_data_events(time_limit=POLL_S)
        if self.auto_ack and self._inflight > 0:
            self.stats.add("lost", self._inflight)  # auto-acked and never handled: the broker forgot them

    def _on_cancel(self, _frame: Any) -> None:
        self._cancelled = True  # the queue was deleted: reconnect and declare it again

    # on the I/O thread ---------------------------------------------------------

    def _on_message(self, lane: _Lane, epoch: int, connection: pika.BlockingConnection, channel: BlockingChannel,
                    method: Any, properties: pika.BasicProperties, body: bytes) -> None:
        if method.redelivered:
            self.stats.add("redelivered")
        delivery_count = (properties.headers or {}).get("x-delivery-count")  # RabbitMQ sends an integer, if any
        returns = delivery_count if isinstance(delivery_count, int) else 0
        with self._inflight_lock:
            self._inflight += 1
        lane.executor.submit(self._work, lane, epoch, connection, channel, method.delivery_tag, returns,
                             properties, body)

    def _settle(self, epoch: int, channel: BlockingChannel, delivery_tag: int, ok: bool, returns: int) -> None:
        if epoch != self._epoch or not channel.is_open:
            return  # that channel closed: the broker has already taken the message back
        self._done(epoch)
        if ok:
            channel.basic_ack(delivery_tag)
            self.stats.add("consumed")
            return
        channel.basic_nack(delivery_tag, requeue=self.requeue_failed)
        self.stats.add("failed")
        if not self.requeue_failed or (self.delivery_limit and returns >= self.delivery_limit):
            self.stats.add("dead_lettered")

    # on the worker thread ------------------------------------------------------

    def _work(self, lane: _Lane, epoch: int, connection: pika.BlockingConnection, channel: BlockingChannel,
              delivery_tag: int, returns: int, properties: pika.BasicProperties, body: bytes) -> None:
        if not self.auto_ack and epoch != self._epoch:
            return  # delivered on a connection that is gone: the broker redelivers it
        lane.busy = True
        try:
            self.handler(body, properties)
            ok = True
        except Exception as exc:
            ok = False
            log.warning("%s: handling a message failed: %s", self.name, _describe(exc))
        finally:
            lane.busy = False
        if self.auto_ack:
            self._done(epoch)
            self.stats.add("consumed" if ok else "failed")
            if not ok:
                self.stats.add("lost")
            return
        # pika is not thread-safe: the ack is sent by the I/O thread
        with contextlib.suppress(*BROKER_ERRORS):  # closed meanwhile: the broker redelivers the message
            connection.add_callback_threadsafe(partial(self._settle, epoch, channel, delivery_tag, ok, returns))

    def _done(self, epoch: int) -> None:
        with self._inflight_lock:
            if self.auto_ack or epoch == self._epoch:
                self._inflight -= 1


def _describe(exc: BaseException) -> str:
    text = str(exc) or repr(exc)
    return f"{type(exc).__name__}: {text}" if not text.startswith(type(exc).__name__) else text
