"""mailer (queue variant, `mailer.enabled`): consumes post.created and e-mails the author's followers.

The author publishes `{"post_id": N}` with message id `post-N` on the fanout exchange `post.created`; the mailer's
durable queue `mailer.post-created` is bound to it. The mailer consumes with manual ack, prefetch 1, and for each
message works `mailer.work_ms`, sends the e-mail (a row in the variant's `mailbox` table) and acks, noting the ack
in `mail_acked` (so the lab reads `effect.missing` from the database). `consumer.dedup`:

- `none`: every delivery e-mails;
- `inbox`: the message id goes into the `inbox` table in the e-mail's own transaction; a delivery whose id is there
  is acked without an e-mail;
- `redis-before`: `SET <prefix>mailer:seen:<id> 1 NX` in Redis before the e-mail; a delivery whose id is already
  set is acked without an e-mail. A Redis error rejects the message with requeue.

Two processes. `python -m sandbox.live.services.mailer` is the keeper the supervisor runs: it forks the consumer
and, when that dies, forks it again `mailer.restart_s` later (`--consumer` runs the consumer alone). With
`mailer.crash_rate` the consumer sends itself SIGKILL while it handles a message, just before or just after the
e-mail (model/effects.py): a real kill, after which RabbitMQ gives the unacked message, flagged redelivered, to the
consumer that comes back.
"""

from __future__ import annotations

import contextlib
import json
import os
import random
import signal
import sys
import threading
import time

import pika
import pika.exceptions
import redis
from pika.adapters.blocking_connection import BlockingChannel

from sandbox.live.rabbitmq.broker import TopologyError
from sandbox.live.rabbitmq.consumer import Consumer
from sandbox.live.services.config import ConfigError, ServiceConfig
from sandbox.live.services.service import OwnWork
from sandbox.live.store import Database
from sandbox.model.effects import AFTER, BEFORE, kill_point, post_message_id

NAME = "mailer"
SEEN_TTL_S = 86_400
CONSUMER_FLAG = "--consumer"
_PR_SET_PDEATHSIG = 1


class MalformedEvent(ValueError):
    """A post.created body that is not {"post_id": N}."""


def post_created_body(post_id: int) -> bytes:
    return json.dumps({"post_id": post_id}).encode()


def parse_post_created(body: bytes) -> int:
    """The post id of a post.created body; MalformedEvent for anything else."""
    try:
        doc = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        raise MalformedEvent(f"not JSON: {body[:80]!r}") from None
    post_id = doc.get("post_id") if isinstance(doc, dict) else None
    if isinstance(post_id, bool) or not isinstance(post_id, int) or post_id < 1:
        raise MalformedEvent(f'not {{"post_id": N}}: {body[:80]!r}')
    return post_id


def declare_mailer_queue(channel: BlockingChannel, exchange: str, queue_name: str) -> None:
    """The post.created fanout exchange and the mailer's durable queue bound to it (the author declares them too,
    so no event is published before its queue exists)."""
    try:
        channel.exchange_declare(exchange, exchange_type="fanout", durable=True)
        channel.queue_declare(queue_name, durable=True)
        channel.queue_bind(queue_name, exchange)
    except pika.exceptions.ChannelClosedByBroker as exc:
        raise TopologyError(f"RabbitMQ refused to declare {queue_name!r}: {exc.reply_code} {exc.reply_text}") \
            from None


class Mailer:
    """The handler: the dedup check the knob asks for, the e-mail, and the kill the crash rate draws."""

    def __init__(self, config: ServiceConfig, database: Database, seen: redis.Redis | None = None):
        self.config = config
        knobs = config.knobs
        self.dedup = knobs.consumer.dedup
        self.db = database
        self.seen = seen
        self.work = OwnWork(knobs.mailer.work_ms, knobs.services)
        self._rng = random.Random()

    def kill_point(self) -> str | None:
        return kill_point(self._rng, self.config.knobs.mailer.crash_rate)

    def die(self) -> None:
        """SIGKILL this process: no ack, no cleanup, the connection cut as a crash cuts it."""
        os.kill(os.getpid(), signal.SIGKILL)

    def handle(self, body: bytes, properties: pika.BasicProperties | None = None) -> None:
        """One post.created. Returns to be acked; raises (MalformedEvent, a Redis error) to be rejected."""
        post_id = parse_post_created(body)
        message_id = (properties.message_id if properties is not None else None) or post_message_id(post_id)
        self.work()
        kill = self.kill_point()
        if self.dedup == "redis-before":
            assert self.seen is not None, "redis-before needs a Redis client"
            if not self.seen.set(self.config.mailer_seen_key(message_id), 1, nx=True, ex=SEEN_TTL_S):
                self.db.mail_acked(post_id)  # marked already: acked without an e-mail
                return
        if kill == BEFORE:
            self.die()
        self.db.send_email(post_id, message_id if self.dedup == "inbox" else None)
        if kill == AFTER:
            self.die()
        self.db.mail_acked(post_id)


def stop_on_signals() -> threading.Event:
    """An event SIGTERM or SIGINT sets: the process finishes what it is doing and stops."""
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    return stop


def consume(config: ServiceConfig) -> int:
    """The consumer process: consume until SIGTERM, or until the mailer kills itself."""
    db = Database(config.database)
    seen = redis.Redis.from_url(config.redis_url, socket_timeout=config.knobs.redis.timeout_s) \
        if config.knobs.consumer.dedup == "redis-before" else None
    mailer = Mailer(config, db, seen)
    consumer = Consumer(config.rabbitmq_urls, config.mailer_queue, mailer.handle, prefetch=1,
                        declare=lambda channel: declare_mailer_queue(channel, config.post_exchange,
                                                                     config.mailer_queue),
                        reconnect_s=config.knobs.consumer.reconnect_s, name=f"{NAME}-{config.variant}")
    stop = stop_on_signals()
    consumer.start()
    while not stop.wait(0.5):
        pass
    consumer.stop()
    db.close()
    return 0


def _die_with_parent() -> None:
    import ctypes

    ctypes.CDLL("libc.so.6", use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)


def _run_consumer(config: ServiceConfig) -> int:
    """Fork the consumer from the keeper (pika and the rest already imported: it is up in milliseconds)."""
    pid = os.fork()
    if pid == 0:  # the consumer
        code = 1
        try:
            _die_with_parent()
            code = consume(config)
        finally:
            os._exit(code)
    return pid


def _exited(pid: int) -> int | None:
    """The consumer's wait status once it has exited (-1 when it is not our child any more), else None."""
    try:
        done, status = os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        return -1
    return status if done == pid else None


def keep(config: ServiceConfig) -> int:
    """The keeper: run the consumer, and start it again `mailer.restart_s` after each death, until SIGTERM."""
    stop = stop_on_signals()
    while not stop.is_set():
        pid = _run_consumer(config)
        while (status := _exited(pid)) is None and not stop.wait(0.05):
            pass
        if stop.is_set():
            _stop(pid)
            break
        how = f"killed by signal {os.WTERMSIG(status)}" if status is not None and status > 0 and \
            os.WIFSIGNALED(status) else f"exited ({status})"
        print(f"{NAME}: consumer {pid} {how}; starting another in {config.knobs.mailer.restart_s:g} s",
              file=sys.stderr, flush=True)
        stop.wait(config.knobs.mailer.restart_s)
    return 0


def _stop(pid: int, grace_s: float = 5.0) -> None:
    """SIGTERM the consumer; SIGKILL it if it is still there after `grace_s`."""
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + grace_s
    while _exited(pid) is None:
        if time.monotonic() > deadline:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
            return
        time.sleep(0.05)


def main(argv: list[str]) -> int:
    try:
        config = ServiceConfig.from_env()
    except ConfigError as exc:
        print(f"{NAME}: {exc}", file=sys.stderr)
        return 2
    with contextlib.suppress(KeyboardInterrupt):
        return consume(config) if CONSUMER_FLAG in argv else keep(config)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
