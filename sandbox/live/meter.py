"""Measuring one variant of the live lab as the simulation measures itself, filed in the same Measurements.

Every tick: the load generator's finished requests and the cached list's staleness. At each second's end: the
services' /metrics counters and pool gauges, the database's duplicate posts, and, for a queue variant, the mailer's
e-mails from its mailbox table, and every
place a message can be, read in the order messages move (census.py): queue.ready, queue.unacked,
msg.in_flight, outbox.pending, msg.consumed and the messages found lost. That second's reading is kept for
the message view (letters.py).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx
import redis

from sandbox.live.census import Census, LostMessages
from sandbox.live.processes.supervisor import Supervisor
from sandbox.live.rabbitmq.probes import QueueProbe
from sandbox.live.store import OutboxRow
from sandbox.live.wiring import HTTP_SERVICES, VariantLab
from sandbox.model import losses
from sandbox.model.messages import SHOWN_PER_STATE, State
from sandbox.model.metrics import POOL_GAUGES, CounterName, GaugeName

# the counters a service keeps in /metrics, and the metric each one feeds
COUNTED: dict[str, dict[str, CounterName]] = {
    "author": {"published": "msg.published", "lost": "msg.lost", "nacked": "msg.rejected_by_limit"},
    "blog": {"cache_hits": "cache.hits", "cache_misses": "cache.misses"},
    "cache-worker": {"redelivered": "msg.redelivered", "dead_lettered": "msg.dead_lettered",
                     "retried": "msg.retried"}}
RECOUNTS = 4  # a census that comes up short is taken again at once, at most this many times
UNKNOWN_LOSS = "published, then neither queued nor consumed"


@dataclass(frozen=True)
class Reading:
    """Where one variant's messages were at a second's end, as the lab read them."""

    second: int
    at: float  # time.time() of the reading
    counts: dict[State, int]  # per message state (sandbox.model.messages.STATES)
    held: tuple[dict[str, Any], ...] = ()  # the first messages the cache-worker held, from its /metrics
    outbox_rows: tuple[OutboxRow, ...] = ()
    auto_ack: bool = False


@dataclass
class Meter:
    """One variant's readings, second by second."""

    lab: VariantLab
    supervisor: Supervisor
    queues: QueueProbe
    probe: httpx.Client
    counters: dict[str, int] = field(default_factory=dict)
    metrics: dict[str, dict] = field(default_factory=dict)
    staleness_peak_s: float = 0.0  # the highest staleness read this second (read every tick)
    published_outside: int = 0  # messages the engine published straight to the queue (poison)
    lost: LostMessages = field(default_factory=LostMessages)
    counted_lost: int = 0  # losses the author counted as they happened
    dropped: int = 0  # messages a full queue dropped (drop-head) to the DLQ, as last counted
    worker_dead_lettered: int = 0  # messages the cache-worker has said it dead-lettered, so far
    handled: int = 0  # the cache-worker's count of messages handled, as last read from Redis
    duplicates: int = 0  # posts saved twice by a client's retry, as last read from the database
    effects: tuple[int, int, int] = (0, 0, 0)  # the mailer's e-mails, duplicates and missing, as last read
    suspect: tuple[str, float | None] | None = None  # the likely cause of the next loss found, and when
    losses: list[tuple[float, str, int]] = field(default_factory=list)  # (time.time(), cause, count)
    found_lost: list[tuple[float, str, int]] = field(default_factory=list)  # the census's: (filed at, cause, count)
    taken_back: int = 0  # messages the census counted lost that turned up again
    quorum_readable: Callable[[], bool] = lambda: True  # a quorum queue's count means something (a majority answers)
    last: Reading | None = None

    # what faults tell the meter ------------------------------------------------

    def expect_loss(self, cause: str, at_s: float | None) -> None:
        """The cause (and scenario moment) to file the next messages the census finds lost under."""
        self.suspect = (cause, at_s)

    def forget(self, service: str) -> None:
        """A revived service counts from zero again."""
        for key in [k for k in self.counters if k.startswith(f"{service}.")]:
            del self.counters[key]

    # every tick ------------------------------------------------------------------

    def tick(self) -> None:
        """File the finished requests; note the cached list's staleness."""
        m = self.lab.measurements
        for sample in self.lab.load.drain():
            if sample.kind == "read":
                stale = sample.ok and sample.version is not None and sample.committed is not None \
                    and sample.version < sample.committed
                m.read(sample.done_s, sample.latency_ms, sample.ok, stale)
            elif sample.kind == "write":
                m.write(sample.done_s, sample.latency_ms, sample.ok)
        self.staleness_peak_s = max(self.staleness_peak_s, self._staleness_s())

    def _staleness_s(self) -> float:
        """Age of the oldest committed post the cached list does not show (0 when fresh or not cached)."""
        try:
            page = self.lab.cache.get()
        except redis.RedisError:
            return 0.0
        if page is None:
            return 0.0
        first_missing = self.lab.db.commit_time(page["version"] + 1)
        return 0.0 if first_missing is None else max(0.0, time.time() - first_missing)

    # every second ------------------------------------------------------------------

    def close_second(self, second: int) -> None:
        """Read the second's gauges and counters; for a queue variant, in the order messages move."""
        lab = self.lab
        gauges: dict[GaugeName, float] = {"staleness.max_s": self.staleness_peak_s, "queue.ready": 0,
                                          "queue.unacked": 0, "msg.in_flight": 0, "outbox.pending": 0}
        self.staleness_peak_s = 0.0
        duplicates = lab.db.duplicate_posts()
        if duplicates > self.duplicates:
            lab.measurements.count(second, "write.duplicates", duplicates - self.duplicates)
            self.duplicates = duplicates
        owed = lab.db.version() + self.published_outside
        for name in HTTP_SERVICES:
            gauges |= self._read_service(second, name)
        if not lab.config.queue:
            lab.measurements.close_second(second, gauges)
            return
        self._count_effects(second)
        outbox = lab.db.outbox_pending()
        ready, worker = self._ready_and_worker(second)
        gauges |= self._pool_gauges("cache-worker", worker)
        dead_lettered = self._ready(lab.config.topology.dead_letter_queue)
        self._count_dropped(second, dead_lettered)
        handled = self._handled()
        if handled is not None and handled > self.handled:
            lab.measurements.count(second, "msg.consumed", handled - self.handled)
            self.handled = handled
        gauges["queue.ready"], gauges["outbox.pending"] = ready or 0, outbox
        gauges |= self._held_gauges()
        lab.measurements.close_second(second, gauges)
        census = self._census(owed, self.metrics["author"], outbox, ready, worker, dead_lettered, handled)
        self._file_lost(second, self.lost.check(self._recounted(census)))
        self._keep_reading(second, gauges, dead_lettered)

    def _count_effects(self, second: int) -> None:
        """The mailer's e-mails, duplicates and lost e-mails, from the database's mailbox and acks."""
        effects = self.lab.db.effects()
        names: tuple[CounterName, ...] = ("effect.applied", "effect.duplicates", "effect.missing")
        for name, now, before in zip(names, effects, self.effects, strict=True):
            if now > before:
                self.lab.measurements.count(second, name, now - before)
        self.effects = effects
    def _count_dropped(self, second: int, dead_lettered: int | None) -> None:
        """A full queue's drop-head sends its oldest to the DLQ without the worker seeing them: the DLQ holds what
        the worker dead-lettered (counted from its /metrics, so far) plus what the length limit dropped."""
        broker = self.lab.config.knobs.broker
        if not broker.max_length or broker.overflow != "drop-head" or dead_lettered is None:
            return
        measurements = self.lab.measurements
        dropped = max(0, dead_lettered - self.worker_dead_lettered)
        if dropped > self.dropped:
            measurements.count(second, "msg.dropped_by_limit", dropped - self.dropped)
            measurements.count(second, "msg.dead_lettered", dropped - self.dropped)
            self.dropped = dropped

    def _retrying(self) -> int | None:
        """Messages waiting in the retry queues (a delayed retry): ready, as the simulation counts them."""
        total = 0
        for name in self.lab.config.topology.retry_queues:
            ready = self._ready(name)
            if ready is None:
                return None
            total += ready
        return total

    def _ready_and_worker(self, second: int | None) -> tuple[int | None, dict]:
        """The queue's ready count, then the worker's /metrics (filed when `second` is given), in that order.

        An exclusive queue answers only its own connection: its worker reports it, and without a worker
        connected it does not exist."""
        lab = self.lab
        if not lab.config.topology.exclusive:
            retrying = self._retrying()  # first: an expired retry moves on to the queue
            ready = self._ready(lab.config.invalidation_queue)
            worker = self._worker(second)
            return None if ready is None or retrying is None else ready + retrying, worker
        worker = self._worker(second)
        retrying = self._retrying()
        if retrying is None:
            return None, worker
        if not self._alive("cache-worker") or worker.get("connected") is False:
            return retrying, worker
        ready = worker.get("ready")
        return ready + retrying if isinstance(ready, int) else None, worker

    def _ready(self, queue: str) -> int | None:
        """A queue's ready count; None (unknown) for a quorum queue while no majority of its nodes answers, when
        RabbitMQ would answer 0 whatever it holds."""
        if self.lab.config.topology.queue_type == "quorum" and not self.quorum_readable():
            return None
        return self.queues.ready(queue)

    def _worker(self, second: int | None) -> dict:
        if second is None:
            return self._metrics("cache-worker")
        self._read_service(second, "cache-worker")
        return self.metrics["cache-worker"]

    def _held_gauges(self) -> dict[GaugeName, float]:
        """queue.unacked and msg.in_flight, as the simulation counts them, from the second's /metrics.

        The worker knows exactly what it holds; the management API's count lags by its statistics interval
        (5 s by default), so it stands in only while the worker cannot answer."""
        held = self._in_process("cache-worker", "holding", self.metrics["cache-worker"])
        publishing = self._in_process("author", "publishing", self.metrics["author"]) or 0
        if self.lab.config.knobs.consumer.ack == "auto":  # acked on delivery: what the worker holds is in flight
            return {"queue.unacked": 0, "msg.in_flight": publishing + (held or 0)}
        unacked = self.queues.unacked(self.lab.config.invalidation_queue) if held is None else held
        return {"queue.unacked": unacked, "msg.in_flight": publishing}

    def _census(self, owed: int, author: dict, outbox: int, ready: int | None, worker: dict,
                dead_lettered: int | None, handled: int | None) -> Census | None:
        """A census from counts read in the order messages move; None when some place could not be read."""
        publishing = self._in_process("author", "publishing", author)
        held = self._in_process("cache-worker", "holding", worker)
        if publishing is None or ready is None or held is None or dead_lettered is None or handled is None:
            return None
        return Census(owed, publishing, outbox, ready, held, dead_lettered, handled, counted_lost=self.counted_lost)

    def _recounted(self, census: Census | None) -> Census | None:
        """`census`, or, while it comes up short, the best of up to RECOUNTS taken again at once: a message
        between two places turns up in one of them."""
        for _ in range(RECOUNTS):
            if census is None or census.missing <= self.lost.found:
                return census
            again = self._recount()
            if again is None:
                return None
            census = min(census, again, key=lambda c: c.missing)
        return census

    def _recount(self) -> Census | None:
        """A census read afresh, in the order messages move."""
        lab = self.lab
        owed = lab.db.version() + self.published_outside
        author = self._metrics("author")
        outbox = lab.db.outbox_pending()
        ready, worker = self._ready_and_worker(None)
        dead_lettered = self._ready(lab.config.topology.dead_letter_queue)
        return self._census(owed, author, outbox, ready, worker, dead_lettered, self._handled())

    def _keep_reading(self, second: int, gauges: dict[GaugeName, float], dead_lettered: int | None) -> None:
        """The second's counts per message state, and the letters the lab can see one by one."""
        lab = self.lab
        outbox = int(gauges["outbox.pending"])
        counts: dict[State, int] = {
            "outbox": outbox, "in flight": int(gauges["msg.in_flight"]), "ready": int(gauges["queue.ready"]),
            "unacked": int(gauges["queue.unacked"]), "dead-lettered": dead_lettered or 0,
            "lost": lab.measurements.totals(0, second + 1)["msg.lost"]}
        worker = self.metrics.get("cache-worker", {})
        held = tuple(worker.get("held") or ()) if self._alive("cache-worker") else ()
        rows = tuple(lab.db.unsent(SHOWN_PER_STATE)) if outbox else ()
        self.last = Reading(second, time.time(), counts, held, rows, lab.config.knobs.consumer.ack == "auto")

    # reading the services ------------------------------------------------------------

    def _read_service(self, second: int, name: str) -> dict[GaugeName, float]:
        """A service's /metrics: its counters filed, its pool gauges returned."""
        metrics = self._metrics(name)
        self.metrics[name] = metrics
        for counter, metric in COUNTED.get(name, {}).items():
            self._count_delta(second, name, counter, metric, metrics.get(counter))
        return self._pool_gauges(name, metrics)

    @staticmethod
    def _pool_gauges(name: str, metrics: dict) -> dict[GaugeName, float]:
        busy, waiting = POOL_GAUGES[name]
        return {busy: metrics.get("busy", 0), waiting: metrics.get("waiting", 0)}

    def _alive(self, service: str) -> bool:
        return self.supervisor.alive(self.lab.process(service))

    def _in_process(self, service: str, gauge: str, metrics: dict) -> int | None:
        """A service's count of messages it holds, from its `metrics`: 0 when it is dead (they died with it),
        None when unknown."""
        if not self._alive(service):
            return 0
        value = metrics.get(gauge)
        return value if isinstance(value, int) else None

    def _handled(self) -> int | None:
        """The cache-worker's count of messages handled, from Redis (it outlives the worker); None unreadable."""
        try:
            return int(self.lab.cache.client.get(self.lab.config.handled_key) or 0)
        except redis.RedisError:
            return None

    def _file_lost(self, second: int, lost: int) -> None:
        """File messages the census found lost, at the moment of the fault that most likely lost them; take back,
        latest first, those that turned up again (`lost` negative)."""
        if lost > 0:
            cause, at_s = self.suspect or (UNKNOWN_LOSS, None)
            at = float(second if at_s is None else at_s)
            self.lab.measurements.lose(at, cause, lost)
            self.losses.append((time.time(), cause, lost))
            self.found_lost.append((at, cause, lost))
        back = -lost
        self.taken_back += max(0, back)
        while back > 0 and self.found_lost:
            at, cause, count = self.found_lost.pop()
            taken = min(back, count)
            self.lab.measurements.take_back(at, cause, taken)
            self._unlist(cause, taken)
            if count > taken:
                self.found_lost.append((at, cause, count - taken))
            back -= taken

    def _unlist(self, cause: str, count: int) -> None:
        """Remove `count` letters of `cause`, latest first, from the losses shown."""
        for index in range(len(self.losses) - 1, -1, -1):
            when, listed_cause, listed = self.losses[index]
            if count <= 0:
                return
            if listed_cause != cause:
                continue
            taken = min(count, listed)
            if listed > taken:
                self.losses[index] = (when, cause, listed - taken)
            else:
                del self.losses[index]
            count -= taken

    def _count_delta(self, second: int, service: str, counter: str, metric: CounterName, value: int | None) -> None:
        if value is None:
            return
        key = f"{service}.{counter}"
        delta = value - self.counters.get(key, 0)
        self.counters[key] = value
        if delta and metric == "msg.lost":
            cause = losses.DROPPED if self.lab.config.knobs.publish.on_error == "drop" else losses.WRITE_FAILED
            self.lab.measurements.lose(second, cause, delta)
            self.losses.append((time.time(), cause, delta))
            self.counted_lost += delta
        elif delta:
            self.lab.measurements.count(second, metric, delta)
            if metric == "msg.dead_lettered":
                self.worker_dead_lettered += delta

    def _metrics(self, service: str) -> dict:
        """A service's /metrics, read on its own port (behind the proxy, so faults do not blind the probe)."""
        if not self._alive(service):
            return {}
        try:
            return self.probe.get(f"http://127.0.0.1:{self.lab.ports[service]}/metrics").json()
        except (httpx.HTTPError, ValueError):
            return {}
