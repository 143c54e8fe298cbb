"""Connections are expensive, channels are cheap: what one publish costs in six ways, against a real RabbitMQ.

Each row publishes persistent messages (delivery_mode 2, content_type application/json, body exactly
`{"action": "invalidateCache", "keys": ["blogs:*"]}`) through the default exchange to one fresh durable test
queue, with pika's BlockingConnection, in one of three ways, each with and without publisher confirms
(`confirm_delivery()`, so every basic_publish waits for the broker's ack):

  new connection   per message: connect, open a channel, [confirm_delivery], basic_publish, close the connection
  new channel      per message, on one connection opened before the row: open a channel, [confirm_delivery],
                   basic_publish, close the channel
  reused channel   one connection and one channel (confirm mode set once) opened before the row: basic_publish only

Timing: time.perf_counter_ns() around each of those per-message steps, so connect/open/close is counted where
that way does it; p50/p99 over the row's publishes. Wall s is the row's timed loop, messages/s = messages / wall,
mean µs = wall / messages; "vs fastest" is the row's mean over the fastest row's mean in the same run. WARMUP
publishes per row come first and are not counted. MESSAGES caps each row and MAX_ROW_S stops a row early (the
messages column then shows what was actually sent), so the run takes about 10 s and never more than ~45 s.

Reading it: with confirms on, every way also waits for the broker to write the persistent message to disk before
it acks, a cost all three ways share, so the confirms-on ratios are smaller than the confirms-off ones; what the
new-connection rows add is the handshake (TCP, AMQP start/tune/open, channel open) and the close, per message.

Check: after each row the queue must hold exactly the messages that row published (passive queue_declare
message_count on a separate connection; a few retries while in-flight messages land), then it is purged. The
queue is `bench.publish-cost.<random>`, deleted at the end even on error or Ctrl-C; if the process is killed
it expires by itself (x-expires) after QUEUE_EXPIRES_MS unused. The broker is RABBITMQ_URL (default
amqp://guest:guest@127.0.0.1:5672/%2F); other clients on the same broker share its CPU and disk.

Run:  .venv/bin/python -m bench.publish_cost
      exit 0: measured and checked; 1: a queue check failed; 2: RabbitMQ unreachable or failed during the run
"""

from __future__ import annotations

import contextlib
import logging
import os
import statistics
import sys
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import urlsplit, urlunsplit

import pika
import pika.exceptions
from pika.adapters.blocking_connection import BlockingChannel

DEFAULT_RABBITMQ_URL = "amqp://guest:guest@127.0.0.1:5672/%2F"
BODY = b'{"action": "invalidateCache", "keys": ["blogs:*"]}'
PROPERTIES = pika.BasicProperties(content_type="application/json", delivery_mode=pika.DeliveryMode.Persistent)

# Messages per row (way, confirms): about a second or two each on a laptop.
MESSAGES = {
    ("new connection", True): 300,
    ("new connection", False): 300,
    ("new channel", True): 2000,
    ("new channel", False): 2000,
    ("reused channel", True): 5000,
    ("reused channel", False): 20000,
}
WARMUP = 10  # publishes per row before timing, not counted
MAX_ROW_S = 6.0  # a row stops publishing after this long
CHECK_WAIT_S = 2.0  # how long the queue check waits for in-flight messages to land
QUEUE_EXPIRES_MS = 600_000  # the test queue deletes itself after 10 min unused if we are killed
TIMEOUT_S = 5.0
START_HINT = ("start it with `rabbitmq-server -detached` (then `rabbitmqctl await_startup`) "
              "or `docker compose up -d rabbitmq`, or point RABBITMQ_URL at a running broker")

BROKER_ERRORS = (pika.exceptions.AMQPError, OSError)


class BrokerUnavailable(Exception):
    """The first connection failed; the message is the one line to print."""


@dataclass
class Row:
    way: str
    confirms: bool
    times_ns: list[int]
    wall_s: float
    in_queue: int
    cut_short: bool

    @property
    def messages(self) -> int:
        return len(self.times_ns)

    @property
    def mean_us(self) -> float:
        return self.wall_s * 1e6 / self.messages

    @property
    def checked(self) -> bool:
        return self.in_queue == self.messages

    def percentile_us(self, p: int) -> float:
        if len(self.times_ns) < 2:
            return self.times_ns[0] / 1000
        return statistics.quantiles(self.times_ns, n=100, method="inclusive")[p - 1] / 1000


# connecting ---------------------------------------------------------------------------------------------


def redact(url: str) -> str:
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.replace(f":{parts.password}@", ":***@", 1)
    return urlunsplit(parts._replace(netloc=netloc))


def describe(exc: BaseException) -> str:
    """One readable line; pika wraps the real cause (refused, timed out, ...) in args with an empty str()."""
    for _ in range(5):  # unwrap a few levels at most: args[0], or .exception of pika's connector errors
        cause = getattr(exc, "exception", None) or (exc.args[0] if exc.args else None)
        if not isinstance(cause, BaseException):
            break
        exc = cause
    text = str(exc)
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def parameters(url: str) -> pika.URLParameters:
    params = pika.URLParameters(url)
    params.connection_attempts = 1
    params.socket_timeout = TIMEOUT_S
    params.stack_timeout = TIMEOUT_S * 2
    params.blocked_connection_timeout = TIMEOUT_S  # a broker under a resource alarm does not stall us forever
    params.client_properties = {"connection_name": "bench/publish_cost.py"}
    return params


def connect(params: pika.URLParameters, url: str) -> pika.BlockingConnection:
    """The first connection: turns every way of failing into one line naming what to do."""
    try:
        return pika.BlockingConnection(params)
    except (pika.exceptions.ProbableAuthenticationError, pika.exceptions.ProbableAccessDeniedError) as exc:
        raise BrokerUnavailable(f"RabbitMQ at {redact(url)} refused the login ({describe(exc)}): "
                                f"check the user, password and vhost in RABBITMQ_URL") from None
    except BROKER_ERRORS as exc:
        raise BrokerUnavailable(f"RabbitMQ is not reachable at {redact(url)} ({describe(exc)}): {START_HINT}") from None


# the three ways ----------------------------------------------------------------------------------------


class Way:
    """Publishes one message per `publish()` call; what it opens per message is what is being measured."""

    def __init__(self, params: pika.URLParameters, queue: str, confirms: bool) -> None:
        self.params, self.queue, self.confirms = params, queue, confirms

    def publish(self) -> None:
        raise NotImplementedError

    def sync(self) -> None:
        """Make sure everything published so far has reached the broker before the queue is checked."""

    def close(self) -> None:
        pass


class NewConnection(Way):
    def publish(self) -> None:
        with pika.BlockingConnection(self.params) as connection:
            channel = connection.channel()
            if self.confirms:
                channel.confirm_delivery()
            channel.basic_publish("", self.queue, BODY, PROPERTIES)


class NewChannel(Way):
    def __init__(self, params: pika.URLParameters, queue: str, confirms: bool) -> None:
        super().__init__(params, queue, confirms)
        self.connection = pika.BlockingConnection(params)

    def publish(self) -> None:
        with self.connection.channel() as channel:  # closing the channel is a round trip: published by then
            if self.confirms:
                channel.confirm_delivery()
            channel.basic_publish("", self.queue, BODY, PROPERTIES)

    def close(self) -> None:
        if self.connection.is_open:
            self.connection.close()


class ReusedChannel(Way):
    def __init__(self, params: pika.URLParameters, queue: str, confirms: bool) -> None:
        super().__init__(params, queue, confirms)
        self.connection = pika.BlockingConnection(params)
        self.channel = self.connection.channel()
        if confirms:
            self.channel.confirm_delivery()

    def publish(self) -> None:
        self.channel.basic_publish("", self.queue, BODY, PROPERTIES)

    def sync(self) -> None:
        # Without confirms basic_publish returns once the bytes are in the socket; a round trip on the same
        # channel returns only after the broker has handled every publish before it.
        self.channel.queue_declare(self.queue, passive=True)

    def close(self) -> None:
        if self.connection.is_open:
            self.connection.close()


WAYS: dict[str, type[Way]] = {"new connection": NewConnection, "new channel": NewChannel,
                              "reused channel": ReusedChannel}


# measuring -----------------------------------------------------------------------------------------------


def message_count(admin: BlockingChannel, queue: str, expected: int) -> int:
    """The queue's ready messages, re-read for up to CHECK_WAIT_S while it is still short of `expected`."""
    deadline = time.monotonic() + CHECK_WAIT_S
    while True:
        count = admin.queue_declare(queue, passive=True).method.message_count
        if count >= expected or time.monotonic() > deadline:
            return count
        time.sleep(0.05)


def run_row(params: pika.URLParameters, admin: BlockingChannel, queue: str, way_name: str, confirms: bool,
            count: int) -> Row:
    way = WAYS[way_name](params, queue, confirms)
    try:
        for _ in range(WARMUP):
            way.publish()
        way.sync()
        admin.queue_purge(queue)

        publish = way.publish
        clock: Callable[[], int] = time.perf_counter_ns
        times_ns: list[int] = []
        started = time.perf_counter()
        deadline_ns = clock() + int(MAX_ROW_S * 1e9)
        for _ in range(count):
            before = clock()
            if before > deadline_ns:
                break
            publish()
            times_ns.append(clock() - before)
        wall_s = time.perf_counter() - started
        way.sync()
    finally:
        way.close()
    in_queue = message_count(admin, queue, len(times_ns))
    admin.queue_purge(queue)
    return Row(way_name, confirms, times_ns, wall_s, in_queue, cut_short=len(times_ns) < count)


def ratio(value: float) -> str:
    return f"{value:.1f}x" if value < 10 else f"{value:.0f}x"


def report(rows: list[Row], server_version: str, queue: str) -> None:
    fastest = min(row.mean_us for row in rows)
    print(f"publish cost: persistent {len(BODY)}-byte messages to one durable queue via the default exchange "
          f"(Python {sys.version.split()[0]}, pika {pika.__version__}, RabbitMQ {server_version})")
    print(f"{'way':<15} {'confirms':>8} {'messages':>9} {'wall s':>7} {'messages/s':>11} {'mean µs':>9} "
          f"{'p50 µs':>9} {'p99 µs':>9} {'vs fastest':>10}  in queue")
    for row in rows:
        sent = f"{row.messages:,}" + ("*" if row.cut_short else "")
        check = f"{row.in_queue:,} " + ("ok" if row.checked else "MISMATCH")
        print(f"{row.way:<15} {'on' if row.confirms else 'off':>8} {sent:>9} {row.wall_s:>7.2f} "
              f"{row.messages / row.wall_s:>11,.0f} {row.mean_us:>9,.1f} {row.percentile_us(50):>9,.1f} "
              f"{row.percentile_us(99):>9,.1f} {ratio(row.mean_us / fastest):>10}  {check}")
    if any(row.cut_short for row in rows):
        print(f"* stopped after MAX_ROW_S = {MAX_ROW_S:g} s")
    bad = [row for row in rows if not row.checked]
    if bad:
        print("queue check FAILED: " + "; ".join(
            f"{row.way} (confirms {'on' if row.confirms else 'off'}) published {row.messages:,} "
            f"but {queue} held {row.in_queue:,}" for row in bad))
    else:
        print(f"queue check: after every row {queue} held exactly the messages it published "
              f"(passive queue_declare message_count), then was purged")
    mean = {(row.way, row.confirms): row.mean_us for row in rows}
    on, off = (mean["reused channel", True], mean["reused channel", False])
    print(f"a new connection per message is {ratio(mean['new connection', True] / on)} slower than one reused "
          f"channel (confirms on); a new channel {ratio(mean['new channel', True] / on)} — without confirms "
          f"{ratio(mean['new connection', False] / off)} and {ratio(mean['new channel', False] / off)}")


def delete_queue(admin: pika.BlockingConnection, params: pika.URLParameters, queue: str) -> bool:
    """Delete the test queue on the admin connection, or on a fresh one if that is gone; say so if we cannot."""
    for attempt in range(2):
        try:
            if attempt == 0 and admin.is_open:
                admin.channel().queue_delete(queue)
            else:
                with pika.BlockingConnection(params) as connection:
                    connection.channel().queue_delete(queue)
            return True
        except BROKER_ERRORS:
            continue
    print(f"could not delete the test queue {queue}; it expires by itself after {QUEUE_EXPIRES_MS // 60000} min "
          f"unused (or: rabbitmqctl delete_queue {queue})", file=sys.stderr)
    return False


def cleanup(admin: pika.BlockingConnection, params: pika.URLParameters, queue: str) -> bool:
    """Delete the test queue and close the admin connection; True if the queue is gone."""
    deleted = delete_queue(admin, params, queue)
    with contextlib.suppress(*BROKER_ERRORS):
        if admin.is_open:
            admin.close()
    return deleted


def main() -> int:
    logging.getLogger("pika").setLevel(logging.CRITICAL)  # our one-line errors say what happened
    url = os.environ.get("RABBITMQ_URL") or DEFAULT_RABBITMQ_URL
    try:
        params = parameters(url)
    except ValueError as exc:
        print(f"RABBITMQ_URL {redact(url)!r} is not an AMQP URL ({exc})")
        return 2
    queue = f"bench.publish-cost.{uuid.uuid4().hex[:12]}"
    try:
        admin = connect(params, url)
    except BrokerUnavailable as exc:
        print(exc)
        return 2
    try:
        # pika keeps the broker's Connection.Start properties on the connection's private _impl, untyped
        server_version = admin._impl.server_properties.get("version", b"?")  # type: ignore[attr-defined]
        server_version = server_version.decode() if isinstance(server_version, bytes) else str(server_version)
        channel = admin.channel()
        channel.queue_declare(queue, durable=True, arguments={"x-expires": QUEUE_EXPIRES_MS})
        rows = [run_row(params, channel, queue, way, confirms, count) for (way, confirms), count in MESSAGES.items()]
    except KeyboardInterrupt:
        print("interrupted; nothing reported" + (" (test queue deleted)" if cleanup(admin, params, queue) else ""))
        return 130
    except BROKER_ERRORS as exc:
        cleanup(admin, params, queue)
        print(f"the benchmark failed against RabbitMQ at {redact(url)} ({describe(exc)}); nothing reported")
        return 2
    except BaseException:
        cleanup(admin, params, queue)
        raise
    cleanup(admin, params, queue)
    report(rows, server_version, queue)
    return 0 if all(row.checked for row in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
