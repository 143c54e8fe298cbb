"""RabbitMQ for the lab, written the way the official pika tutorials write it: connecting, declaring, publishing.

One connection per process (per thread, really: a pika BlockingConnection is not thread-safe), a channel on
it, the queue `cache-invalidation` declared with `durable=True` and nothing else, persistent messages and
publisher confirms. What can be set from outside the clients — the dead-letter exchange and a quorum queue's
delivery limit — the queue gets from a policy (sandbox/live/rabbitmq/policies.py), so a plain durable declare from any
client is accepted. The one argument left is `x-queue-type: quorum`: a queue's type is fixed when it is
declared. With `broker.durable = false` the queue is exclusive to the cache-worker's connection, gone with that
connection and with a broker restart (RabbitMQ 4 deprecates transient queues that are not exclusive).
Consuming is in consumer.py.

A client is given the broker's nodes in order (one URL, or a cluster's three): pika tries them in turn, so a client
connects to the first node that answers and, once its connection drops, to the next one that does.

The message is exactly `{"action": "invalidateCache", "keys": ["blogs:*"]}`, so a producer in any
language drives the cache-worker unchanged.
"""

from __future__ import annotations

import contextlib
import json
import queue
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from dataclasses import dataclass
from typing import Any

import pika
import pika.exceptions
from pika.adapters.blocking_connection import BlockingChannel
from pika.adapters.utils.connection_workflow import AMQPConnectorException

from sandbox.live.errors import LabError

INVALIDATE_CACHE = {"action": "invalidateCache", "keys": ["blogs:*"]}
INVALIDATE_BODY = json.dumps(INVALIDATE_CACHE).encode()  # b'{"action": "invalidateCache", "keys": ["blogs:*"]}'
HEARTBEAT_S = 10  # AMQP heartbeat timeout we ask for; pika declares the peer dead after ~timeout + 5 s of silence
POLL_S = 0.1  # how often a consumer's I/O loop looks at its stop flag
QUEUE_TYPES = ("classic", "quorum")

# Everything that means "the connection or channel is gone or unusable".
# A broker that accepts the connection but never answers (hung) fails the handshake with pika's
# AMQPConnectorException (a stack timeout), which is not an AMQPError.
BROKER_ERRORS = (pika.exceptions.AMQPError, AMQPConnectorException, OSError)

Urls = str | Sequence[str]
"""One broker URL, or a cluster's nodes in the order a client tries them."""


def each_url(urls: Urls) -> tuple[str, ...]:
    return (urls,) if isinstance(urls, str) else tuple(urls)


class PublishError(RuntimeError):
    """The broker did not take the message: unreachable, refused (nack), unroutable, or no answer in time."""


class PublishRefused(PublishError):
    """The broker answered with a nack: with overflow reject-publish, a full queue refused the message."""


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


def connect(urls: Urls, **options: Any) -> pika.BlockingConnection:
    """One blocking connection with heartbeats to the first of `urls` that answers (options: see
    `connection_parameters`)."""
    return pika.BlockingConnection([connection_parameters(url, **options) for url in each_url(urls)])


@dataclass(frozen=True)
class Topology:
    """One variant's names on the broker: the invalidation queue with its dead letters, and the user.updated
    exchange; `durable` and `queue_type` are the broker.* knobs of that name."""

    queue: str
    user_exchange: str | None = None
    durable: bool = True
    queue_type: str = "classic"
    retry_delays_s: tuple[float, ...] = ()
    """Delayed retry: one retry queue per delay, each holding a failed message that long (consumer.retry)."""

    def __post_init__(self) -> None:
        if self.queue_type not in QUEUE_TYPES:
            raise ValueError(f"queue_type: {self.queue_type!r} is not one of {', '.join(QUEUE_TYPES)}")
        if self.queue_type == "quorum" and not self.durable:
            raise ValueError("a quorum queue is always durable")

    @property
    def dead_letter_exchange(self) -> str:
        return f"{self.queue}.dlx"

    @property
    def dead_letter_queue(self) -> str:
        return f"{self.queue}.dlq"

    @property
    def retry_queues(self) -> tuple[str, ...]:
        return tuple(f"{self.queue}.retry.{tier}" for tier in range(1, len(self.retry_delays_s) + 1))

    @property
    def retry_return_exchange(self) -> str:
        """Where a retry queue dead-letters an expired message: a fanout exchange bound to the queue."""
        return f"{self.queue}.retry-return"

    @property
    def exclusive(self) -> bool:
        """A transient queue is exclusive: only the connection that declared it (the cache-worker's) has it."""
        return not self.durable

    def declare(self, channel: BlockingChannel, *, with_queue: bool = True) -> None:
        """The dead-letter exchange and queue, the user.updated exchange and, `with_queue`, the invalidation queue.

        Producers declare everything but an exclusive queue, which is the cache-worker's alone. A quorum queue's
        dead letters go to a quorum queue too: replicated like it, so every declare still works with a node down."""
        arguments = {"x-queue-type": "quorum"} if self.queue_type == "quorum" else None
        try:
            channel.exchange_declare(self.dead_letter_exchange, exchange_type="fanout", durable=True)
            channel.queue_declare(self.dead_letter_queue, durable=True, arguments=arguments)
            channel.queue_bind(self.dead_letter_queue, self.dead_letter_exchange)
            if self.user_exchange:
                channel.exchange_declare(self.user_exchange, exchange_type="fanout", durable=True)
            if with_queue:
                channel.queue_declare(self.queue, durable=self.durable, exclusive=self.exclusive, arguments=arguments)
            if self.retry_delays_s and with_queue:
                self._declare_retry(channel)
        except pika.exceptions.ChannelClosedByBroker as exc:
            raise _topology_error(exc, self.queue) from None

    def _declare_retry(self, channel: BlockingChannel) -> None:
        """The retry queues, each a durable classic queue whose message TTL holds a failed message for its delay,
        then dead-letters it to the return exchange, which routes it back to the tail of the queue.

        The TTL and dead-letter exchange are arguments here, not a policy: a tier's delay is what that queue is
        for (another delay is another tier), and RabbitMQ applies the lower of an argument and a policy's TTL."""
        channel.exchange_declare(self.retry_return_exchange, exchange_type="fanout", durable=True)
        channel.queue_bind(self.queue, self.retry_return_exchange)
        for name, delay_s in zip(self.retry_queues, self.retry_delays_s, strict=True):
            channel.queue_declare(name, durable=True, arguments={
                "x-message-ttl": max(1, round(delay_s * 1000)), "x-dead-letter-exchange": self.retry_return_exchange})

    def declare_for_producers(self, channel: BlockingChannel) -> None:
        """What a producer declares: everything, the queue too unless it is exclusive (then only its worker may)."""
        self.declare(channel, with_queue=not self.exclusive)

    def delete(self, channel: BlockingChannel, extra_queues: tuple[str, ...] = ()) -> None:
        """Delete what `declare` made (and `extra_queues`); missing parts are fine."""
        for name in (self.queue, self.dead_letter_queue, *self.retry_queues, *extra_queues):
            channel.queue_delete(name)
        channel.exchange_delete(self.dead_letter_exchange)
        if self.retry_delays_s:
            channel.exchange_delete(self.retry_return_exchange)
        if self.user_exchange:
            channel.exchange_delete(self.user_exchange)


def declare_directory_queue(channel: BlockingChannel, queue_name: str, exchange: str, durable: bool = True) -> None:
    """The blog's own queue bound to the user.updated fanout exchange (publish/subscribe, as in the tutorials);
    not durable, it is exclusive to the blog's connection."""
    try:
        channel.exchange_declare(exchange, exchange_type="fanout", durable=True)
        channel.queue_declare(queue_name, durable=durable, exclusive=not durable)
        channel.queue_bind(queue_name, exchange)
    except pika.exceptions.ChannelClosedByBroker as exc:
        raise _topology_error(exc, queue_name) from None


def _topology_error(exc: pika.exceptions.ChannelClosedByBroker, name: str) -> TopologyError:
    if exc.reply_code == 406:
        return TopologyError(
            f"RabbitMQ already has {name!r} with other settings ({exc.reply_text}); delete it "
            f"(rabbitmqctl delete_queue {name}) or give this variant another queue suffix")
    if exc.reply_code == 405:
        return TopologyError(f"{name!r} is exclusive to another connection ({exc.reply_text}); stop the client "
                             "that holds it or give this variant another queue suffix")
    return TopologyError(f"RabbitMQ refused to declare {name!r}: {exc.reply_code} {exc.reply_text}")


# publishing ---------------------------------------------------------------------------------------

_STOP = object()


class Publisher:
    """Publishes to one destination through one connection owned by one thread.

    `publish` hands the message to that thread and waits up to `timeout_s` for the outcome (with
    confirms: the broker's ack). While idle the thread keeps the connection's heartbeats going. After a
    failure it reconnects lazily: the next publish tries again once `reconnect_s` has passed, and until
    then fails at once instead of making every request wait on a dead broker.
    """

    def __init__(self, url: Urls, routing_key: str, *, exchange: str = "",
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
            message_id=message_id, timestamp=int(time.time()))
        try:
            channel.basic_publish(self.exchange, self.routing_key, body, properties, mandatory=self.mandatory)
        except pika.exceptions.UnroutableError:
            raise PublishError(f"RabbitMQ could not route the message: no queue {self.routing_key!r}") from None
        except pika.exceptions.NackError:
            raise PublishRefused("RabbitMQ refused the message (nack): is the queue full?") from None
        except BROKER_ERRORS as exc:
            self._lost(exc, backoff=False)
            raise PublishError(f"the connection to RabbitMQ was lost: {describe(exc)}") from None

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
            raise PublishError(f"RabbitMQ is unreachable: {describe(exc)}") from None
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
            raise PublishError(str(exc) if isinstance(exc, TopologyError) else describe(exc)) from None
        self._connection, self._channel = connection, channel
        return channel

    def _lost(self, exc: BaseException, backoff: bool = True) -> None:
        """Forget the connection. A connection that broke is reopened at the next publish; after a failed
        attempt to open one, the next attempt waits `reconnect_s`."""
        self._last_error = describe(exc)
        if backoff:
            self._retry_at = time.monotonic() + self.reconnect_s
        self._disconnect()

    def _disconnect(self) -> None:
        connection, self._connection, self._channel = self._connection, None, None
        if connection is not None and connection.is_open:
            with contextlib.suppress(*BROKER_ERRORS):
                connection.close()


def describe(exc: BaseException) -> str:
    text = str(exc) or repr(exc)
    return f"{type(exc).__name__}: {text}" if not text.startswith(type(exc).__name__) else text
