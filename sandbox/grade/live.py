"""Grading on the live lab: the same cases, played on real RabbitMQ, Redis and SQLite, with real consumer processes.

For each seed: the run's own queues on the shared broker (a work queue whose dead letters go to `<queue>.dlq`, and
one retry queue per tier whose TTL dead-letters back into the work queue), a SQLite file, a Redis namespace, a
fault proxy (`sandbox.live.proxy`) in front of the broker for each consumer and one in front of Redis, and one or
two confined consumer processes (`live_consumer`) loading the learner's file. The grader publishes the case's
messages on time (a duplicate is a second publish of the same message id), takes Redis and the broker away through
the proxies (a restart, as the consumers see it: their connections drop and their unacked messages return to the
queue; the shared node itself is never restarted), resets a consumer's connection where the case loses an ack
(what a consumer sees when its node fails and the queue's leader moves), and starts a killed consumer again
RESTART_S after its SIGKILL. The run ends once every message has settled (or the task's tail has passed); its
history is the consumers' events and the grader's, and the invariants are checked on it exactly as on the
simulation. A failing live run is not shrunk (each run takes seconds of wall time): its whole timeline is shown,
and the same seed replays shrunk on the simulation.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pika
import pika.exceptions
import redis

from sandbox.catalog import PACKAGE_DIR
from sandbox.grade import confine, workloads
from sandbox.grade.api import RETRY_TIERS_S
from sandbox.grade.cases import Case, Crash, LostAck, Slow, generate
from sandbox.grade.grader import Counterexample, Report, merge_verdicts
from sandbox.grade.handler import HandlerError, compile_handler
from sandbox.grade.history import SETTLED, Event, History, StaleRead
from sandbox.grade.invariants import check
from sandbox.grade.isolated import LIMITS, clean_environment, fresh_uid
from sandbox.grade.live_consumer import retry_queue
from sandbox.grade.tasks import Task
from sandbox.grade.world import READ_EVERY_S, RESTART_S
from sandbox.live.proxy import FaultProxy
from sandbox.live.servers import START_REDIS, LabUnavailable, check_rabbitmq, rabbitmq_url, redis_url, through

TICK_S = 0.02
START_TIMEOUT_S = 30.0
"""How long a consumer process may take to start (imports on a loaded two-core machine)."""
_BOOT = (f"import os, sys; os.nice({confine.NICENESS}); sys.path.insert(0, sys.argv[1]); "
         "from sandbox.grade.live_consumer import main; main()")


@dataclass
class _Slot:
    """One consumer: its proxy to the broker and its current process."""

    number: int
    proxy: FaultProxy
    process: subprocess.Popen | None = None
    restart_at: float | None = None
    cut: set[tuple[str, int]] = field(default_factory=set)


class LiveRun:
    def __init__(self, task: Task, case: Case, source: str, filename: str, amqp_url: str, redis_address: str):
        self.task, self.case, self.source, self.filename = task, case, source, filename
        self.amqp_url, self.redis_url = amqp_url, redis_address
        self.run_id = secrets.token_hex(4)
        self.queue = f"grade-{self.run_id}"
        self.prefix = f"grade-{self.run_id}:"
        self.folder = Path(tempfile.mkdtemp(prefix="post-office-grade-live-"))
        self.uid = fresh_uid()
        self.history = History()
        self.t0 = 0.0
        self.version = 0
        self.slots: list[_Slot] = []
        self.redis_proxy: FaultProxy | None = None
        self._read_so_far: dict[Path, int] = {}
        self._from_consumers: list[Event] = []

    # setting up and tearing down --------------------------------------------

    def _queues(self) -> list[tuple[str, dict[str, Any]]]:
        dlq = f"{self.queue}.dlq"
        queues: list[tuple[str, dict[str, Any]]] = [
            (self.queue, {"x-dead-letter-exchange": "", "x-dead-letter-routing-key": dlq}), (dlq, {})]
        queues += [(retry_queue(self.queue, tier), {"x-message-ttl": int(tier * 1000), "x-dead-letter-exchange": "",
                                                    "x-dead-letter-routing-key": self.queue})
                   for tier in RETRY_TIERS_S]
        return queues

    def _set_up(self, channel: Any) -> None:
        for name, arguments in self._queues():
            channel.queue_declare(name, durable=True, arguments=arguments)
        database = sqlite3.connect(self.folder / "db.sqlite")
        database.executescript(workloads.SCHEMA)
        for statement, values in workloads.rows():
            database.execute(statement, values)
        database.commit()
        database.close()
        if self.uid is not None:
            for path in (self.folder, self.folder / "db.sqlite"):
                os.chown(path, self.uid, self.uid)
        broker = urlsplit(self.amqp_url)
        for number in range(1, self.case.consumers + 1):
            proxy = FaultProxy((broker.hostname or "127.0.0.1", broker.port or 5672), name=f"grade-amqp-{number}")
            self.slots.append(_Slot(number, proxy.start()))
        store = urlsplit(self.redis_url)
        self.redis_proxy = FaultProxy((store.hostname or "127.0.0.1", store.port or 6379), name="grade-redis").start()

    def _tear_down(self, channel: Any | None, cache: redis.Redis) -> None:
        for slot in self.slots:
            self._kill(slot)
            slot.proxy.stop()
        if self.redis_proxy is not None:
            self.redis_proxy.stop()
        if channel is not None:
            for name, _ in self._queues():
                with contextlib.suppress(pika.exceptions.AMQPError):
                    channel.queue_delete(name)
        with contextlib.suppress(redis.RedisError):
            keys = list(cache.scan_iter(match=f"{self.prefix}*"))
            if keys:
                cache.unlink(*keys)
        shutil.rmtree(self.folder, ignore_errors=True)

    @staticmethod
    def _kill(slot: _Slot) -> None:
        if slot.process is not None and slot.process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(slot.process.pid, signal.SIGKILL)
            slot.process.wait()

    # the consumers -------------------------------------------------------------

    def _job(self, slot: _Slot) -> dict[str, Any]:
        case = self.case
        return {
            "source": self.source, "filename": self.filename, "consumer": slot.number, "folder": str(self.folder),
            "database": str(self.folder / "db.sqlite"), "queue": self.queue, "seed": case.seed,
            "amqp_url": through(self.amqp_url, slot.proxy.port), "amqp_port": slot.proxy.port,
            "redis_port": self.redis_proxy.port if self.redis_proxy else 0, "redis_prefix": self.prefix,
            "outages": [(o.at_s, o.at_s + o.down_s) for o in case.outages("mail")],
            "down_domains": sorted(self.task.relay(case).down_domains), "uid": self.uid, "cpu_s": LIMITS.cpu_s * 6,
            "crashes": [{"message": f.message, "delivery": f.delivery, "before_op": f.before_op}
                        for f in case.faults if isinstance(f, Crash)],
            "lost_acks": [(f.message, f.delivery) for f in case.faults if isinstance(f, LostAck)],
            "slow": [(f.message, f.delivery) for f in case.faults if isinstance(f, Slow)],
        }

    def _start(self, slot: _Slot) -> None:
        ready = self.folder / f"ready-{slot.number}"
        ready.unlink(missing_ok=True)
        slot.process = subprocess.Popen(
            [sys.executable, "-I", "-c", _BOOT, str(PACKAGE_DIR.parent)], stdin=subprocess.PIPE,
            stdout=subprocess.DEVNULL, stderr=open(self.folder / f"errors-{slot.number}.txt", "ab"),  # noqa: SIM115
            cwd=self.folder, env=clean_environment(self.folder), start_new_session=True, close_fds=True)
        assert slot.process.stdin is not None
        slot.process.stdin.write(json.dumps(self._job(slot)).encode())
        slot.process.stdin.close()

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + START_TIMEOUT_S
        while not all((self.folder / f"ready-{s.number}").exists() for s in self.slots):
            self._check_refused()
            if time.monotonic() > deadline:
                raise LabUnavailable(f"the consumer process did not start within {START_TIMEOUT_S:g} s")
            time.sleep(TICK_S)

    def _check_refused(self) -> None:
        for event in self._consumer_events():
            if event.kind == "refused":
                raise HandlerError(event.words)
        for slot in self.slots:
            code = slot.process.poll() if slot.process else None
            if code not in (None, -signal.SIGKILL):
                errors = (self.folder / f"errors-{slot.number}.txt").read_text(errors="replace").strip()
                last = errors.splitlines()[-1] if errors else f"exit code {code}"
                raise HandlerError(f"the consumer process ended: {last[:200]}")

    def _consumer_events(self) -> list[Event]:
        """Every event the consumers wrote so far (each file read on from where the last call stopped)."""
        for path in sorted(self.folder.glob("events-*.jsonl")):
            with open(path, "rb") as file:
                file.seek(self._read_so_far.get(path, 0))
                data = file.read()
            complete = data[:data.rfind(b"\n") + 1]
            self._read_so_far[path] = self._read_so_far.get(path, 0) + len(complete)
            for line in complete.decode(errors="replace").splitlines():
                with contextlib.suppress(ValueError, TypeError):
                    self._from_consumers.append(Event(**json.loads(line)))
        return self._from_consumers

    # the run -------------------------------------------------------------------

    def run(self) -> History:
        cache: redis.Redis = redis.Redis.from_url(self.redis_url, decode_responses=True, socket_timeout=2.0)
        connection = channel = None
        try:
            connection = pika.BlockingConnection(pika.URLParameters(self.amqp_url))
            channel = connection.channel()
            channel.confirm_delivery()
            self._set_up(channel)
            for slot in self.slots:
                self._start(slot)
            self._wait_ready()
            self.t0 = time.time()
            (self.folder / "t0.json").write_text(json.dumps(self.t0))  # the consumers' clocks start here too
            self._play(channel, cache, connection)
            return self._finish()
        finally:
            self._tear_down(channel, cache)
            if connection is not None and connection.is_open:
                with contextlib.suppress(pika.exceptions.AMQPError):
                    connection.close()

    def _now(self) -> float:
        return time.time() - self.t0

    def _play(self, channel: Any, cache: redis.Redis, connection: pika.BlockingConnection) -> None:
        case = self.case
        publishes = sorted([(m.at_s, 1, m) for m in case.messages] +
                           [(m.at_s + 0.05, 2, m) for m in case.messages if case.duplicated(m.id)],
                           key=lambda p: p[0])
        last_publish = publishes[-1][0] if publishes else 0.0
        end_s = last_publish + self.task.tail_s
        broker_down = [(o.at_s, o.at_s + o.down_s) for o in case.outages("broker")]
        redis_down = [(o.at_s, o.at_s + o.down_s) for o in case.outages("redis")]
        state = {"broker": False, "redis": False}
        next_read = 0.0
        while True:
            now = self._now()
            self._outage("broker", any(a <= now < b for a, b in broker_down), state)
            self._outage("redis", any(a <= now < b for a, b in redis_down), state)
            while publishes and publishes[0][0] <= now and not state["broker"]:
                _, copy, message = publishes.pop(0)
                self._publish(channel, message, copy)
            if case.kind == "invalidation" and now >= next_read and not state["redis"]:
                self._read(cache)
                next_read = now + READ_EVERY_S
            self._supervise()
            connection.process_data_events(time_limit=0)
            if now >= end_s or (not publishes and now >= last_publish + 0.5 and self._settled(now, last_publish)):
                return
            time.sleep(TICK_S)

    def _outage(self, part: str, down: bool, state: dict[str, bool]) -> None:
        if down == state[part]:
            return
        state[part] = down
        proxies = [s.proxy for s in self.slots] if part == "broker" else [self.redis_proxy]
        for proxy in proxies:
            if proxy is not None:
                proxy.down() if down else proxy.up()
        words = "the broker (every consumer's connection)" if part == "broker" else "Redis"
        self.history.add(self._now(), "down" if down else "up", words=f"{words} {'down' if down else 'up again'}")

    def _publish(self, channel: Any, message: Any, copy: int) -> None:
        if self.case.kind == "invalidation" and not message.poison and copy == 1:
            self.version += 1
            self.history.writes_s.append(self._now())
        channel.basic_publish("", self.queue, message.body, pika.BasicProperties(
            message_id=message.id, correlation_id=str(copy), delivery_mode=2))
        self.history.add(self._now(), "publish", message.id,
                         words=("again (a duplicate publish): " if copy > 1 else "") + message.words(), copy=copy)

    def _read(self, cache: redis.Redis) -> None:
        keys = [self.prefix + key for key in workloads.CACHE_KEYS]
        for key, value in zip(workloads.CACHE_KEYS, cache.mget(keys), strict=True):
            if value is None:
                cache.set(self.prefix + key, self.version)
                continue
            cached = int(value)
            if cached < self.version:
                first = not any(r.key == key and r.cached == cached for r in self.history.stale_reads)
                self.history.stale_reads.append(StaleRead(round(self._now(), 3), key, cached, self.version))
                if first:
                    self.history.add(self._now(), "stale", words=f"the blog reads {key}: version {cached} from the "
                                                                 f"cache, the database has {self.version}")

    def _supervise(self) -> None:
        self._check_refused()
        events = self._consumer_events()
        for slot in self.slots:
            for event in events:
                key = (event.message, event.delivery)
                if event.kind == "lost-ack" and event.consumer == slot.number and key not in slot.cut:
                    slot.cut.add(key)
                    slot.proxy.reset_peer()  # the connection drops under the consumer, as when its node fails
            if slot.process is not None and slot.process.poll() == -signal.SIGKILL:
                slot.process = None
                slot.restart_at = self._now() + RESTART_S
            if slot.process is None and slot.restart_at is not None and self._now() >= slot.restart_at:
                slot.restart_at = None
                self._start(slot)
                self.history.add(self._now(), "restart", consumer=slot.number,
                                 words=f"consumer {slot.number} starts again (a fresh process: its memory is gone)")

    def _settled(self, now: float, last_publish: float) -> bool:
        books = History(events=self._events())
        books.settle_books()
        published = sum(1 for e in books.events if e.kind == "publish")
        expected = len(self.case.messages) + sum(self.case.duplicated(m.id) for m in self.case.messages)
        if published < expected or any(end not in SETTLED for end in books.ends.values()):
            return False
        if any(s.process is None for s in self.slots):
            return False
        return self.case.kind != "invalidation" or now >= (
            self.history.writes_s[-1] if self.history.writes_s else last_publish) + self.task.limits.staleness_s + 1

    def _events(self) -> list[Event]:
        return sorted([*self.history.events, *(e for e in self._consumer_events() if e.kind != "refused")],
                      key=lambda e: e.at_s)

    def _finish(self) -> History:
        history = self.history
        history.events = self._events()
        history.end_s = self._now()
        history.settle_books()
        for slot in self.slots:
            self._kill(slot)
        database = sqlite3.connect(self.folder / "db.sqlite")
        try:
            history.mailbox = [(m, r) for m, r in database.execute("SELECT message_id, recipient FROM mailbox")]
            history.authors = {u: (n, v) for u, n, v in database.execute("SELECT user_id, name, version FROM authors")}
        finally:
            database.close()
        return history


def servers() -> tuple[str, str]:
    """The broker and the Redis the live lab grades on, checked to answer (LabUnavailable says what to start)."""
    amqp = rabbitmq_url()
    check_rabbitmq(amqp)
    address = redis_url()
    client = redis.Redis.from_url(address, socket_timeout=2.0, socket_connect_timeout=2.0)
    try:
        client.ping()
    except redis.RedisError:
        raise LabUnavailable(f"Redis is not reachable at {address}; start it: {START_REDIS}") from None
    finally:
        client.close()
    return amqp, address


def grade_live(task: Task, source: str, seeds: Sequence[int], filename: str = "handler.py") -> Report:
    """Grade on the live lab, seed by seed; the first failing seed's whole timeline as the counterexample."""
    started = time.perf_counter()
    report = Report(task.id, "live", list(seeds))
    try:
        compile_handler(source, filename)
        amqp, address = servers()
        for seed in seeds:
            case = generate(task.workload, task.faults, seed)
            history = LiveRun(task, case, source, filename, amqp, address).run()
            verdicts = check(task.invariants, case, history, task.limits)
            report.verdicts = merge_verdicts(report.verdicts, verdicts)
            for verdict in verdicts:
                if not verdict.held:
                    report.failing_seeds.setdefault(verdict.invariant, []).append(seed)
                    if report.counterexample is None:
                        report.counterexample = Counterexample(
                            seed, verdict.invariant, verdict.detail, case.describe(), "",
                            tuple(f.words() for f in case.faults), len(case.messages), verdict.messages,
                            tuple(history.events))
    except HandlerError as exc:
        report.stopped = str(exc)
    report.wall_s = time.perf_counter() - started
    return report
