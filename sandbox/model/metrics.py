"""The metric registry: every metric both engines report, declared once.

A metric has a name, a human label for charts, tiles and verdicts, a unit, a kind, and how it aggregates
over a window of seconds. `Measurements` computes frames and window values from these declarations;
the scenario loader, the lessons, the charts and the tiles read their names and labels here, and an
unknown name is an error when a file is loaded, never a default.

A name is typed: `CounterName`, `GaugeName` or `WindowName` (together `MetricName`), so a misspelt name in the
code fails the type check. A new metric is its name in one of those three and its declaration in `_ALL`;
`tests/unit/model/test_metrics.py` fails when one is missing, and mypy when a declaration names an untyped name.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, TypeGuard, get_args

from sandbox.model.knobs import SERVICES

WORKERS = (*SERVICES, "cache-worker")

CounterName = Literal[
    "write.ok", "write.errors", "write.duplicates", "read.ok", "read.errors", "read.stale", "cache.hits",
    "cache.misses", "msg.published", "msg.consumed", "msg.lost", "msg.lost_taken", "msg.redelivered",
    "msg.dead_lettered", "user.calls", "effect.applied", "effect.duplicates", "effect.missing", "msg.retried",
    "msg.dropped_by_limit", "msg.rejected_by_limit",
]
"""What an engine counts as it happens (`Measurements.count`, or `read`, `write` and `lose`)."""
GaugeName = Literal[
    "staleness.max_s", "queue.ready", "queue.unacked", "msg.in_flight", "outbox.pending",
    "author.busy", "author.waiting", "blog.busy", "blog.waiting", "user.busy", "user.waiting",
    "cache-worker.busy", "cache-worker.waiting", "names.wrong",
]
"""What an engine reads at each second's end (`Measurements.close_second`)."""
WindowName = Literal[
    "write.p50_ms", "write.p95_ms", "write.p99_ms", "read.p50_ms", "read.p95_ms", "read.p99_ms", "cache.hit_rate",
    "read.error_rate", "write.error_rate", "read.stale_rate", "read.throughput", "write.throughput",
    "queue.depth_max", "queue.depth_last", "outbox.pending_max", "names.wrong_last",
]
"""What `Measurements` computes over a window from the counts, the gauges and the latencies."""
MetricName = CounterName | GaugeName | WindowName

POOL_GAUGES: dict[str, tuple[GaugeName, GaugeName]] = {
    "author": ("author.busy", "author.waiting"), "blog": ("blog.busy", "blog.waiting"),
    "user": ("user.busy", "user.waiting"), "cache-worker": ("cache-worker.busy", "cache-worker.waiting"),
}
"""Each worker pool's (busy, waiting) gauges, which both engines read at a second's end."""

Kind = Literal["count", "gauge", "latency", "ratio", "rate"]
Requests = Literal["read", "write"]


@dataclass(frozen=True)
class Sum:
    """The counter's total over the window."""

    counter: CounterName


@dataclass(frozen=True)
class Ratio:
    """`part` / the sum of `whole`, over every event in the window; nothing measured when `whole` is 0."""

    part: CounterName
    whole: tuple[CounterName, ...]


@dataclass(frozen=True)
class Percentile:
    """Nearest-rank percentile of the latency of every read (or write) that finished in the window."""

    requests: Requests
    q: float


@dataclass(frozen=True)
class PerSecond:
    """The counter's total divided by the window's whole seconds."""

    counter: CounterName


@dataclass(frozen=True)
class Peak:
    """The highest sum of these gauges at a second's end."""

    gauges: tuple[GaugeName, ...]


@dataclass(frozen=True)
class Last:
    """The sum of these gauges at the window's last second's end."""

    gauges: tuple[GaugeName, ...]


Aggregate = Sum | Ratio | Percentile | PerSecond | Peak | Last


@dataclass(frozen=True)
class Metric:
    name: MetricName
    label: str
    unit: str
    kind: Kind
    aggregate: Aggregate
    doc: str
    per_second: bool = True
    """In every frame (one row per second per variant)."""
    expect: bool = False
    """Scenarios and lessons may state expectations about it."""
    sim_only: bool = False
    """Only the simulation measures it. Every other metric the live lab's meter measures too, which
    tests/unit/live/test_meter_metrics.py holds it to."""


def _count(name: CounterName, label: str, unit: str, doc: str, *, per_second: bool = True, expect: bool = False,
           sim_only: bool = False) -> Metric:
    return Metric(name, label, unit, "count", Sum(name), doc, per_second, expect, sim_only)


def _gauge(name: GaugeName, label: str, unit: str, doc: str, *, sim_only: bool = False) -> Metric:
    return Metric(name, label, unit, "gauge", Peak((name,)), doc, sim_only=sim_only)


def _latency(name: WindowName, requests: Requests, q: int) -> Metric:
    return Metric(name, f"{requests} p{q}", "ms", "latency", Percentile(requests, q),
                  f"{q}th percentile latency of the {requests}s that finished, failures included", expect=True)


def _pool(name: str) -> list[Metric]:
    busy, waiting = POOL_GAUGES[name]
    return [_gauge(busy, f"{name} busy workers", "workers", f"{name}'s workers at work at a second's end"),
            _gauge(waiting, f"{name} waiting", "requests",
                   f"requests waiting for one of {name}'s workers at a second's end")]


_ALL = (
    _count("write.ok", "writes ok", "writes", "POST /blogs answered 2xx"),
    _count("write.errors", "failed writes", "writes", "POST /blogs failed (error, refused or timed out)"),
    _latency("write.p50_ms", "write", 50), _latency("write.p95_ms", "write", 95), _latency("write.p99_ms", "write", 99),
    _count("write.duplicates", "duplicate posts", "posts",
           "posts committed again by a client's retry of a write that had committed", expect=True),
    _count("read.ok", "reads ok", "reads", "GET /blogs answered 2xx"),
    _count("read.errors", "failed reads", "reads", "GET /blogs failed (error, refused or timed out)"),
    _latency("read.p50_ms", "read", 50), _latency("read.p95_ms", "read", 95), _latency("read.p99_ms", "read", 99),
    _count("read.stale", "stale reads", "reads",
           "successful reads that returned a list older than what the database had committed when they began"),
    _count("cache.hits", "cache hits", "reads", "reads served from Redis", per_second=False),
    _count("cache.misses", "cache misses", "reads", "reads that asked Redis and rebuilt the list", per_second=False),
    Metric("cache.hit_rate", "cache hit rate", "fraction", "ratio", Ratio("cache.hits", ("cache.hits", "cache.misses")),
           "reads served from Redis / reads that asked Redis", expect=True),
    Metric("staleness.max_s", "oldest unapplied write", "s", "gauge", Peak(("staleness.max_s",)),
           "age of the oldest committed write the cache did not yet reflect", expect=True),
    _gauge("queue.ready", "ready messages", "messages", "messages in cache-invalidation waiting for a consumer"),
    _gauge("queue.unacked", "unacked messages", "messages", "messages delivered to a consumer and not yet acked"),
    _count("msg.published", "messages published", "messages",
           "messages producers published, including those a dead broker never got", expect=True),
    _count("msg.consumed", "messages consumed", "messages", "messages processed and acknowledged", expect=True),
    _count("msg.lost", "messages lost", "messages", "messages gone without being processed", expect=True),
    _count("msg.lost_taken", "lost after the broker took them", "messages",
           "messages lost after the broker had queued them (and confirmed them, with confirms): the losses a "
           "producer cannot know about", per_second=False, expect=True),
    _count("msg.redelivered", "redeliveries", "messages",
           "deliveries of a message a consumer had already been given", expect=True),
    _count("msg.dead_lettered", "dead-lettered", "messages", "messages moved to the dead-letter queue", expect=True),
    _count("user.calls", "calls to the User Service", "calls",
           "requests the other services sent the User Service, every retry included (refused ones too): the "
           "load their callers put on it", per_second=False, expect=True, sim_only=True),
    _count("msg.retried", "delayed retries", "messages",
           "failed messages the cache-worker sent to a retry queue to wait (consumer.retry = delayed)",
           per_second=False, expect=True),
    _count("msg.dropped_by_limit", "dropped by the length limit", "messages",
           "oldest messages a full queue pushed out (overflow drop-head): dead-lettered, never handled",
           per_second=False, expect=True),
    _count("msg.rejected_by_limit", "refused by the length limit", "messages",
           "publishes a full queue refused with a nack (overflow reject-publish), each one the publisher must "
           "act on", per_second=False, expect=True),
    _gauge("msg.in_flight", "messages in flight", "messages",
           "published, not yet in the queue, or held by an auto-ack consumer"),
    _gauge("outbox.pending", "outbox rows", "rows", "invalidations waiting in the author's outbox"),
    *(m for name in WORKERS for m in _pool(name)),
    _count("effect.applied", "e-mails sent", "e-mails",
           "e-mails the mailer sent to followers for post.created events, a second one for the same post included",
           per_second=False, expect=True),
    _count("effect.duplicates", "duplicate e-mails", "e-mails",
           "e-mails sent for a post that had already had its e-mail", per_second=False, expect=True),
    _count("effect.missing", "lost e-mails", "posts",
           "posts whose post.created the mailer acked while no e-mail had been sent for them: never sent",
           per_second=False, expect=True),
    _gauge("names.wrong", "authors shown an old name", "authors",
           "authors whose name in the blog's directory is not their latest at a second's end (updates still on "
           "their way count too)", sim_only=True),
    Metric("names.wrong_last", "authors shown an old name at the end", "authors", "gauge", Last(("names.wrong",)),
           "authors whose name in the blog's directory is not their latest at the window's last second's end",
           per_second=False, expect=True, sim_only=True),
    Metric("read.error_rate", "failed reads", "fraction", "ratio", Ratio("read.errors", ("read.ok", "read.errors")),
           "failed reads / finished reads", per_second=False, expect=True),
    Metric("write.error_rate", "failed writes", "fraction", "ratio",
           Ratio("write.errors", ("write.ok", "write.errors")), "failed writes / finished writes",
           per_second=False, expect=True),
    Metric("read.stale_rate", "stale reads", "fraction", "ratio", Ratio("read.stale", ("read.ok",)),
           "successful reads that returned a list older than the database / successful reads",
           per_second=False, expect=True),
    Metric("read.throughput", "reads ok per second", "per s", "rate", PerSecond("read.ok"),
           "successful reads per second", per_second=False, expect=True),
    Metric("write.throughput", "writes ok per second", "per s", "rate", PerSecond("write.ok"),
           "successful writes per second", per_second=False, expect=True),
    Metric("queue.depth_max", "most messages queued", "messages", "gauge", Peak(("queue.ready", "queue.unacked")),
           "most messages in cache-invalidation (ready + unacked) at a second's end", per_second=False, expect=True),
    Metric("queue.depth_last", "messages queued at the end", "messages", "gauge",
           Last(("queue.ready", "queue.unacked")), "messages in cache-invalidation at the window's last second",
           per_second=False, expect=True),
    Metric("outbox.pending_max", "most outbox rows", "rows", "gauge", Peak(("outbox.pending",)),
           "most invalidations waiting in the author's outbox at a second's end", per_second=False, expect=True),
)

METRICS: dict[MetricName, Metric] = {m.name: m for m in _ALL}
COUNTERS: tuple[CounterName, ...] = get_args(CounterName)
FRAME_METRICS = tuple(m.name for m in _ALL if m.per_second)
"""The per-second metrics of a frame, in this order; `t` is the second [t, t+1)."""
WINDOW_METRICS = {m.name: m.doc for m in _ALL if m.expect}
"""The metrics an expectation may name, with what each means."""


def is_metric(name: object) -> TypeGuard[MetricName]:
    """Whether `name` (read from a file) is a registered metric's name."""
    return isinstance(name, str) and name in METRICS


def is_frame_metric(name: object) -> TypeGuard[MetricName]:
    """Whether `name` (read from a file) is one of a frame's per-second metrics."""
    return isinstance(name, str) and name in FRAME_METRICS


def label(name: MetricName) -> str:
    """A metric's human label, e.g. 'messages published' for msg.published."""
    return METRICS[name].label
