"""The live lab's consumer process: a learner's handler under a real pika consumer, confined like the simulation's.

Started by `sandbox.grade.live` with the job on stdin: the handler, the queue's names, the ports of the fault
proxies in front of RabbitMQ and Redis, the SQLite file, and the case's plan for the deliveries (which to kill,
where; which to slow down; after which the connection must drop). It consumes as the pika tutorials do —
`basic_qos(prefetch_count=1)`, `basic_consume`, the handler on the I/O thread — and settles each delivery with
`basic_ack`, `basic_reject` or a publish to a retry queue. A crash is a real SIGKILL it sends itself at the planned
point. Every event goes to its own JSON-lines file in the run's folder, where the grader reads it.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import signal
import socket
import sqlite3
import sys
import time
from pathlib import Path
from typing import Any, NoReturn

import pika
import pika.compat
import pika.exceptions
import redis

from sandbox.grade import confine
from sandbox.grade.api import RETRIES_HEADER, Message
from sandbox.grade.cases import Crash, draw
from sandbox.grade.context import MailRelay
from sandbox.grade.delivery import Handled, Store, handle_delivery, settle_words
from sandbox.grade.handler import HandlerError, Loaded, TimeLimit, compile_handler, load
from sandbox.grade.world import DELIVERY_CAP, RECONNECT_S, SERVICE_S, SLOW_S

CALL_LIMIT_S = 5.0
"""How long one call of `handle` may take on the lab (wall time: a real Redis or SQLite may make it wait)."""
HEARTBEAT_S = 10
BUSY_TIMEOUT_S = 5.0
LIVE_THREADS = 16
"""RLIMIT_NPROC of the run's own user: its consumers and the thread pika resolves an address on."""


def _unix_socketpair() -> tuple[socket.socket, socket.socket]:
    """pika wakes its I/O loop through a socket pair, a loopback TCP one everywhere (for Windows' sake), which takes
    a listening port; confined, the consumer may not listen. A Unix socket pair wakes it as well."""
    one, other = socket.socketpair()
    one.setblocking(False)
    other.setblocking(False)
    return one, other


pika.compat.nonblocking_socketpair = _unix_socketpair  # type: ignore[assignment]  # same use, another kind of pair


class _Lost(Exception):
    """The connection dropped on purpose (a lost ack): reconnect."""


class Consumer:
    def __init__(self, job: dict[str, Any]):
        self.job = job
        self.folder = Path(job["folder"])
        self.number: int = job["consumer"]
        self.started_at: float | None = None
        self.events = os.open(self.folder / f"events-{self.number}-{os.getpid()}.jsonl",
                              os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        self.database = sqlite3.connect(job["database"], isolation_level=None, timeout=BUSY_TIMEOUT_S)
        self.redis = redis.Redis(host="127.0.0.1", port=job["redis_port"], decode_responses=True,
                                 socket_timeout=1.0, socket_connect_timeout=1.0)
        self.relay = MailRelay(tuple(tuple(o) for o in job["outages"]), frozenset(job["down_domains"]))
        self.crashes = {(c["message"], c["delivery"]): Crash(**c) for c in job["crashes"]}
        self.lost_acks = {tuple(k) for k in job["lost_acks"]}
        self.slow = {tuple(k) for k in job["slow"]}
        self.code = compile_handler(job["source"], job["filename"])
        self.loaded: Loaded | None = None

    def now(self) -> float:
        """Seconds since the run started: the grader writes the moment to t0.json before it publishes anything."""
        if self.started_at is None:
            self.started_at = float(json.loads((self.folder / "t0.json").read_text()))
        return time.time() - self.started_at

    def record(self, kind: str, message: str = "", delivery: int = 0, words: str = "", copy: int = 1) -> None:
        os.write(self.events, (json.dumps({"at_s": round(self.now(), 3), "kind": kind, "message": message,
                                           "delivery": delivery, "consumer": self.number, "words": words,
                                           "copy": copy}) + "\n").encode())

    def count(self, key: str) -> int:
        """The how-manyth delivery of `key` this is, across every consumer of the run (a locked file)."""
        with open(self.folder / "deliveries.lock", "a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            path = self.folder / "deliveries.json"
            counts = json.loads(path.read_text()) if path.exists() else {}
            counts[key] = counts.get(key, 0) + 1
            path.write_text(json.dumps(counts))
            return int(counts[key])

    def connect(self) -> pika.BlockingConnection:
        params = pika.URLParameters(self.job["amqp_url"])
        params.heartbeat = HEARTBEAT_S
        params.connection_attempts = 1
        params.socket_timeout = 2.0
        params.blocked_connection_timeout = 5.0
        return pika.BlockingConnection(params)

    def run(self, connection: pika.BlockingConnection) -> None:
        """Consume until killed; whenever the connection drops, connect again RECONNECT_S later."""
        self.loaded = load(self.code, CALL_LIMIT_S)
        (self.folder / f"ready-{self.number}").touch()
        while True:
            try:
                self._consume(connection)
            except (pika.exceptions.AMQPError, _Lost, OSError) as exc:
                print(f"{self.now():.2f} s: consuming stopped: {exc!r}", file=sys.stderr, flush=True)
            while True:
                time.sleep(RECONNECT_S)
                try:
                    connection = self.connect()
                    break
                except (pika.exceptions.AMQPError, OSError) as exc:
                    print(f"{self.now():.2f} s: no connection: {exc!r}", file=sys.stderr, flush=True)

    def _consume(self, connection: pika.BlockingConnection) -> None:
        try:
            channel = connection.channel()
            channel.confirm_delivery()
            channel.basic_qos(prefetch_count=1)
            assert self.loaded is not None
            channel.basic_consume(self.job["queue"], lambda ch, method, props, body: self._on_message(
                connection, ch, method, props, body), auto_ack=self.loaded.auto_ack)
            channel.start_consuming()
        finally:
            if connection.is_open:
                with contextlib.suppress(pika.exceptions.AMQPError, OSError):
                    connection.close()

    def _on_message(self, connection: pika.BlockingConnection, channel: Any, method: Any,
                    properties: pika.BasicProperties, body: bytes) -> None:
        assert self.loaded is not None
        message_id = properties.message_id or ""
        copy = int(properties.correlation_id or 1)
        headers = dict(properties.headers or {})
        retries = headers.get(RETRIES_HEADER, 0)
        retries = retries if isinstance(retries, int) else 0
        n = self.count(message_id)
        if self.count(f"{message_id}#{copy}") > DELIVERY_CAP:
            self.record("looping", message_id, n, f"delivered {DELIVERY_CAP} times; the grader stops here", copy)
            channel.basic_reject(method.delivery_tag, requeue=False)
            return
        flag = f"redelivered={method.redelivered}"
        retried = f", {RETRIES_HEADER}={retries}" if retries else ""
        name = message_id if copy == 1 else f"{message_id} (copy {copy})"
        self.record("deliver", message_id, n, f"{name} → consumer {self.number} ({flag}{retried})", copy)
        if self.loaded.auto_ack:
            self.record("ack", message_id, n, "acked on delivery (auto_ack=True), before the handler runs", copy)
        low, high = SERVICE_S
        time.sleep(SLOW_S if (message_id, n) in self.slow else
                   low + (high - low) * draw(self.job["seed"], message_id, copy, n))
        message = Message(body, message_id, bool(method.redelivered), {RETRIES_HEADER: retries} if retries else {})

        def record(kind: str, words: str) -> None:
            self.record(kind, message_id, n, words, copy)

        def kill(where: str) -> NoReturn:
            self.record("crash", message_id, n, f"consumer {self.number} killed {where} (SIGKILL)", copy)
            os.kill(os.getpid(), signal.SIGKILL)
            raise AssertionError("SIGKILL returned")

        store = Store(self.database, self.redis, self.job["redis_prefix"], self.relay, self.now, "BEGIN IMMEDIATE")
        handled = handle_delivery(self.loaded, message, store, self.crashes.get((message_id, n)), record, kill,
                                  CALL_LIMIT_S, self._refused)
        if handled.killed:
            kill(handled.killed)
        self._settle(connection, channel, method.delivery_tag, body, handled, message_id, n, copy, retries)

    def _settle(self, connection: pika.BlockingConnection, channel: Any, tag: int, body: bytes, handled: Handled,
                message_id: str, n: int, copy: int, retries: int) -> None:
        assert handled.outcome is not None and self.loaded is not None
        outcome = handled.outcome
        if self.loaded.auto_ack and outcome.kind not in ("ack", "retry"):
            self.record("lost", message_id, n, f"gone: the handler failed ({outcome.words}), and it was acked on "
                                               "delivery", copy)
            return
        if (message_id, n) in self.lost_acks and not self.loaded.auto_ack:
            self.record("lost-ack", message_id, n, "its node fails (the queue's leader moves): the connection "
                                                   f"drops, the {outcome.words} with it", copy)
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline:  # the grader resets this connection at its proxy
                connection.process_data_events(time_limit=0.05)
            raise _Lost()
        kind, words = settle_words(outcome)
        try:
            if outcome.kind == "retry":
                channel.basic_publish("", retry_queue(self.job["queue"], outcome.delay_s), body, pika.BasicProperties(
                    message_id=message_id, correlation_id=str(copy), delivery_mode=2,
                    headers={RETRIES_HEADER: retries + 1}))
            if self.loaded.auto_ack:
                pass
            elif outcome.kind in ("ack", "retry"):
                channel.basic_ack(tag)
            else:
                channel.basic_reject(tag, requeue=outcome.requeue)
        except pika.exceptions.AMQPError:
            self.record("lost-ack", message_id, n, f"{outcome.words} cannot reach the broker: the connection "
                                                   "closed meanwhile", copy)
            raise
        self.record(kind, message_id, n, words, copy)

    def _refused(self) -> None:
        refused = confine.refusals()
        if refused:
            self.record("refused", words=refused[0])
            raise HandlerError(f"the handler was stopped: {refused[0]}")


def retry_queue(queue: str, delay_s: float) -> str:
    """The retry queue of this tier: `<queue>.retry.3s`, whose message TTL is 3 s."""
    return f"{queue}.retry.{delay_s:g}s"


def main() -> None:
    """Connect (loading every module a connection needs), confine, then consume."""
    job: dict[str, Any] = json.loads(sys.stdin.read())
    consumer = Consumer(job)
    while True:  # a consumer started while the broker is away waits for it, as a supervised worker would
        try:
            connection = consumer.connect()
            break
        except (pika.exceptions.AMQPError, OSError):
            time.sleep(RECONNECT_S)
    with contextlib.suppress(redis.RedisError):
        consumer.redis.ping()
    threads = LIVE_THREADS if job["uid"] is not None else None  # a user's own processes count too: no limit then
    confine.confine(Path(job["folder"]), (job["amqp_port"], job["redis_port"]), job["uid"],
                    confine.Limits(cpu_s=job["cpu_s"], processes=threads))
    try:
        consumer.run(connection)
    except HandlerError as exc:
        consumer.record("refused", words=str(exc))
    except TimeLimit as exc:
        consumer.record("refused", words=f"the handler was stopped: it {exc}; a handler must return or raise")
    except MemoryError:
        consumer.record("refused", words="the handler was stopped: it ran out of memory")
    sys.exit(3)
