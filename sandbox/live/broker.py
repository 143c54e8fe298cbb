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
from concurrent.futures import Future
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
