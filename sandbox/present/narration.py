"""One line above each variant that says what is happening and why, computed from its state, its last seconds and
its knobs: "reads fail: all 8 blog workers are waiting on the User Service (2,000 ms slow)".

The most pressing story wins: failing reads, then failing writes, then losses, a growing queue, an outbox filling,
a bouncing message, stale reads; otherwise the flow is well and the line says how well.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Literal

from sandbox.model.knobs import Knobs
from sandbox.model.status import Component, VariantStatus

Tone = Literal["ok", "warn", "bad"]

FAILING = 0.05
"""A share of failed requests (or of stale reads) the line speaks about."""
QUEUE_DEEP = 10
"""Messages waiting in the queue that make a story of their own."""


@dataclass(frozen=True)
class Narration:
    text: str
    tone: Tone


@dataclass(frozen=True)
class Recent:
    """What the last seconds' frames add up to."""

    seconds: int
    reads_ok: int
    read_errors: int
    writes_ok: int
    write_errors: int
    stale: int
    lost: int
    redelivered: int
    dead_lettered: int
    staleness_s: float
    read_p99_ms: float | None

    @classmethod
    def of(cls, frames: Iterable[dict[str, Any]]) -> Recent:
        rows = list(frames)

        def total(name: str) -> int:
            return int(sum(f.get(name) or 0 for f in rows))

        p99s = [f["read.p99_ms"] for f in rows if f.get("read.p99_ms") is not None]
        return cls(len(rows), total("read.ok"), total("read.errors"), total("write.ok"), total("write.errors"),
                   total("read.stale"), total("msg.lost"), total("msg.redelivered"), total("msg.dead_lettered"),
                   max((f.get("staleness.max_s") or 0.0 for f in rows), default=0.0), max(p99s, default=None))

    @staticmethod
    def share(part: int, whole: int) -> float:
        return part / whole if whole else 0.0

    @property
    def read_failed(self) -> float:
        return self.share(self.read_errors, self.reads_ok + self.read_errors)

    @property
    def write_failed(self) -> float:
        return self.share(self.write_errors, self.writes_ok + self.write_errors)

    @property
    def stale_share(self) -> float:
        return self.share(self.stale, self.reads_ok)


def _fault(part: Component) -> str:
    """How a part is broken, in a few words; empty when it is up."""
    if part.health == "down":
        return "down"
    if part.health == "hung":
        return "hung (it takes calls and never answers)"
    words = []
    if part.latency_ms:
        words.append(f"{part.latency_ms:,.0f} ms slow")
    if part.error_rate:
        words.append(f"failing {part.error_rate:.0%} of calls")
    return " and ".join(words)


def _why_reads_fail(status: VariantStatus, knobs: Knobs) -> str | None:
    """Why reads fail now; None when nothing on their path is broken any more."""
    parts = status.components
    blog, user = parts["blog"], parts["user"]
    sync = status.architecture == "sync"
    if blog.health == "down":
        return "the Blog Service is down, so every GET /blogs is refused"
    if blog.health == "hung":
        return f"the Blog Service is hung; readers give up after their {knobs.client.timeout_s:g} s timeout"
    breaker = status.breakers.get("blog→user", "closed")
    if sync and breaker == "open":
        return f"the breaker on blog → user is open: misses fail fast while the User Service is {_fault(user)}"
    if sync and user.health == "down":
        return "every cache miss needs the User Service, which is down"
    if sync and blog.health == "saturated" and _fault(user):
        return (f"all {blog.workers} blog workers are waiting on the User Service ({_fault(user)}); "
                f"{blog.waiting:,} requests wait in line")
    if blog.health == "saturated":
        return f"all {blog.workers} blog workers are busy and {blog.waiting:,} requests wait in line"
    if blog.error_rate:
        return f"the Blog Service answers {blog.error_rate:.0%} of requests with 500"
    if sync and _fault(user):
        return f"cache misses wait on the User Service, which is {_fault(user)}"
    return None


def _why_writes_fail(status: VariantStatus) -> str | None:
    """Why writes fail now; None when nothing on their path is broken any more."""
    parts = status.components
    author, blog, broker, redis = parts["author"], parts["blog"], parts["broker"], parts["redis"]
    if author.health in ("down", "hung"):
        return f"the Author Service is {_fault(author)}"
    if status.architecture == "sync" and _fault(blog):
        return f"each write waits for the Blog Service to empty the cache, and it is {_fault(blog)}"
    if status.architecture == "sync" and redis.health in ("down", "hung"):
        return f"each write has the Blog Service empty the cache in Redis, which is {_fault(redis)}"
    if status.architecture == "queue" and broker.health in ("down", "hung"):
        return f"the author cannot publish the invalidation while RabbitMQ is {_fault(broker)}"
    if author.health == "saturated":
        return f"all {author.workers} author workers are busy and {author.waiting:,} writes wait in line"
    if author.error_rate:
        return f"the Author Service answers {author.error_rate:.0%} of requests with 500"
    return None


def _why_queue_grows(status: VariantStatus) -> str:
    worker, redis = status.components["cache-worker"], status.components["redis"]
    if worker.health in ("down", "hung"):
        return f"the cache-worker is {_fault(worker)}"
    if redis.health in ("down", "hung"):
        return f"the cache-worker cannot empty the cache while Redis is {_fault(redis)}"
    if worker.busy >= worker.workers > 0:
        return "its one consumer is busy" if worker.workers == 1 else f"all {worker.workers} consumers are busy"
    return "the cache-worker is behind"


def narrate(status: VariantStatus, frames: Iterable[dict[str, Any]], knobs: Knobs,
            lost_by_cause: dict[str, int] | None = None) -> Narration:
    """The line for one variant: `frames` are its last seconds (about ten), `lost_by_cause` every loss so far."""
    recent = Recent.of(frames)
    depth = status.queue_ready + status.queue_unacked
    if recent.reads_ok + recent.read_errors + recent.writes_ok + recent.write_errors == 0:
        return Narration("waiting for the first requests to finish", "ok")
    for kind, failed, why in (("reads", recent.read_failed, _why_reads_fail(status, knobs)),
                              ("writes", recent.write_failed, _why_writes_fail(status))):
        if failed >= FAILING and why is None:
            return Narration(f"{failed:.0%} of {kind} in the last {recent.seconds} s failed; nothing on their path "
                             "is broken now", "warn")
        if failed >= FAILING:
            return Narration(f"{failed:.0%} of {kind} fail: {why}", "bad")
    if recent.lost:
        cause = max((lost_by_cause or {}).items(), key=lambda item: item[1], default=("", 0))[0]
        text = f"{recent.lost:,} invalidation{'s' if recent.lost != 1 else ''} lost in the last {recent.seconds} s"
        return Narration(text + (f": {cause}" if cause else "") + "; readers keep an old list until the next write",
                         "bad")
    if depth >= QUEUE_DEEP:
        stale = f"; readers see lists up to {recent.staleness_s:,.0f} s old" if recent.staleness_s >= 1 else ""
        return Narration(f"{depth:,} invalidations wait in the queue ({_why_queue_grows(status)}){stale}", "warn")
    if status.outbox_pending:
        return Narration(f"{status.outbox_pending:,} invalidations wait in the outbox until RabbitMQ takes them; "
                         "writes still succeed", "warn")
    if recent.redelivered:
        text = (f"{recent.redelivered:,} redeliveries in the last {recent.seconds} s: a message the worker cannot "
                "handle goes back to the queue and comes round again")
        return Narration(text + ("; limit the deliveries to dead-letter it" if not knobs.consumer.delivery_limit
                                 else ""), "warn")
    if recent.stale_share >= FAILING:
        return Narration(f"{recent.stale_share:.0%} of reads return an old list: the cache still holds it "
                         f"(up to {recent.staleness_s:,.1f} s behind the database)", "warn")
    if status.components["redis"].health in ("down", "hung"):
        extra = ", and each asks the User Service" if status.architecture == "sync" else ""
        return Narration(f"Redis is {_fault(status.components['redis'])}: every read rebuilds the list from the "
                         f"database{extra}", "warn")
    rates = (f"{recent.reads_ok / recent.seconds:,.0f} reads/s and {recent.writes_ok / recent.seconds:,.1f} "
             f"writes/s served")
    p99 = f", read p99 at most {recent.read_p99_ms:,.0f} ms" if recent.read_p99_ms is not None else ""
    return Narration(f"all well: {rates}{p99}", "ok")
