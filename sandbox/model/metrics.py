"""The metric catalogue (DESIGN §5, §6) and the per-second record both engines fill.

An engine reports what happened — each request with its latency, each message
event, each gauge reading at the end of a second — to a `Measurements`; the
frames and every window metric an expectation checks are computed from it,
the same way for the simulation and the live lab.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass, field

from sandbox.model.knobs import SERVICES

WORKERS = (*SERVICES, "cache-worker")

COUNTERS = (
    "write.ok", "write.errors", "write.duplicates",
    "read.ok", "read.errors", "read.stale",
    "cache.hits", "cache.misses",
    "msg.published", "msg.consumed", "msg.lost", "msg.redelivered", "msg.dead_lettered",
)
GAUGES = (
    "staleness.max_s", "queue.ready", "queue.unacked", "msg.in_flight", "outbox.pending",
    *(f"{name}.{what}" for name in WORKERS for what in ("busy", "waiting")),
)

# Per-second metrics in a frame, in this order (§5). `t` is the second [t, t+1).
FRAME_METRICS = (
    "write.ok", "write.errors", "write.p50_ms", "write.p95_ms", "write.p99_ms", "write.duplicates",
    "read.ok", "read.errors", "read.p50_ms", "read.p95_ms", "read.p99_ms", "read.stale",
    "cache.hit_rate", "staleness.max_s", "queue.ready", "queue.unacked",
    "msg.published", "msg.consumed", "msg.lost", "msg.redelivered", "msg.dead_lettered",
    "msg.in_flight", "outbox.pending",
    *(f"{name}.{what}" for name in WORKERS for what in ("busy", "waiting")),
)

WINDOW_METRICS: dict[str, str] = {
    "read.error_rate": "failed reads / finished reads",
    "write.error_rate": "failed writes / finished writes",
    "read.p50_ms": "median read latency, over every finished read in the window",
    "read.p95_ms": "95th percentile read latency",
    "read.p99_ms": "99th percentile read latency",
    "write.p50_ms": "median write latency, over every finished write in the window",
    "write.p95_ms": "95th percentile write latency",
    "write.p99_ms": "99th percentile write latency",
    "read.stale_rate": "successful reads that returned a list older than the database / successful reads",
    "read.throughput": "successful reads per second",
    "write.throughput": "successful writes per second",
    "cache.hit_rate": "reads served from Redis / reads that asked Redis",
    "queue.depth_max": "most messages in cache-invalidation (ready + unacked) at a second's end",
    "queue.depth_last": "messages in cache-invalidation at the window's last second",
    "outbox.pending_max": "most invalidations waiting in the author's outbox at a second's end",
    "staleness.max_s": "age of the oldest committed write the cache did not yet reflect",
    "msg.published": "messages producers published, including those a dead broker never got (sum)",
    "msg.consumed": "messages processed and acknowledged (sum)",
    "msg.lost": "messages gone without being processed (sum)",
    "msg.redelivered": "deliveries of a message a consumer had already been given (sum)",
    "msg.dead_lettered": "messages moved to the dead-letter queue (sum)",
    "write.duplicates": "posts committed again by a client's retry of a write that had committed (sum)",
}

_SUMS = {"msg.published", "msg.consumed", "msg.lost", "msg.redelivered", "msg.dead_lettered",
         "write.duplicates"}


def percentile(values: list[float], q: float) -> float | None:
    """Nearest-rank percentile (q in 0..100) of unsorted values; None when empty."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, math.ceil(q / 100 * len(ordered)))
    return ordered[rank - 1]


@dataclass
class _Second:
    counts: dict[str, int] = field(default_factory=lambda: dict.fromkeys(COUNTERS, 0))
    gauges: dict[str, float] = field(default_factory=dict)
    read_ms: list[float] = field(default_factory=list)
    write_ms: list[float] = field(default_factory=list)


class Measurements:
    """Everything one variant did, bucketed by the second it happened in."""

    def __init__(self) -> None:
        self._seconds: list[_Second] = []
        self.lost_by_cause: dict[str, int] = {}
        self.closed_s = 0

    def _at(self, t: float) -> _Second:
        index = int(t)
        seconds = self._seconds
        while len(seconds) <= index:
            seconds.append(_Second())
        return seconds[index]

    def read(self, t: float, latency_ms: float, ok: bool, stale: bool = False) -> None:
        second = self._at(t)
        second.read_ms.append(latency_ms)
        if ok:
            second.counts["read.ok"] += 1
            if stale:
                second.counts["read.stale"] += 1
        else:
            second.counts["read.errors"] += 1

    def write(self, t: float, latency_ms: float, ok: bool) -> None:
        second = self._at(t)
        second.write_ms.append(latency_ms)
        second.counts["write.ok" if ok else "write.errors"] += 1

    def count(self, t: float, name: str, n: int = 1) -> None:
        self._at(t).counts[name] += n

    def lose(self, t: float, cause: str, n: int = 1) -> None:
        """Count `n` lost messages and why they were lost."""
        self._at(t).counts["msg.lost"] += n
        self.lost_by_cause[cause] = self.lost_by_cause.get(cause, 0) + n

    def close_second(self, second: int, gauges: dict[str, float]) -> None:
        """Record the gauges read at the end of `second`; the second is then final."""
        self._at(second).gauges = gauges
        self.closed_s = second + 1

    def frame(self, second: int) -> dict[str, float | None]:
        """The §5 per-second metrics of a closed second."""
        s = self._at(second)
        frame: dict[str, float | None] = {}
        c = s.counts
        for name in FRAME_METRICS:
            if name in c:
                frame[name] = c[name]
            elif name in s.gauges:
                frame[name] = s.gauges[name]
        for kind, values in (("read", s.read_ms), ("write", s.write_ms)):
            for q in (50, 95, 99):
                frame[f"{kind}.p{q}_ms"] = percentile(values, q)
        asked = c["cache.hits"] + c["cache.misses"]
        frame["cache.hit_rate"] = c["cache.hits"] / asked if asked else None
        return {name: frame.get(name) for name in FRAME_METRICS}

    def frames(self) -> list[dict[str, float | None]]:
        return [{"t": t, **self.frame(t)} for t in range(self.closed_s)]

    def _window(self, start_s: float, end_s: float) -> list[_Second]:
        first = max(0, math.floor(start_s))
        last = min(self.closed_s, math.ceil(end_s))
        return [self._at(t) for t in range(first, last)]

    def totals(self, start_s: float, end_s: float) -> dict[str, int]:
        totals = dict.fromkeys(COUNTERS, 0)
        for second in self._window(start_s, end_s):
            for name, n in second.counts.items():
                totals[name] += n
        return totals

    def observe(self, metric: str, start_s: float, end_s: float) -> float | None:
        """The value of a window metric over [start_s, end_s); None when nothing was measured."""
        if metric not in WINDOW_METRICS:
            raise KeyError(metric)
        seconds = self._window(start_s, end_s)
        if not seconds:
            return None
        totals = self.totals(start_s, end_s)
        kind, _, name = metric.partition(".")
        if metric in _SUMS:
            return float(totals[metric])
        if name == "error_rate":
            done = totals[f"{kind}.ok"] + totals[f"{kind}.errors"]
            return totals[f"{kind}.errors"] / done if done else None
        if name.endswith("_ms"):
            attr = "read_ms" if kind == "read" else "write_ms"
            return percentile(_concat(getattr(s, attr) for s in seconds), float(name[1:-3]))
        if name == "throughput":
            return totals[f"{kind}.ok"] / len(seconds)
        if metric == "read.stale_rate":
            return totals["read.stale"] / totals["read.ok"] if totals["read.ok"] else None
        if metric == "cache.hit_rate":
            asked = totals["cache.hits"] + totals["cache.misses"]
            return totals["cache.hits"] / asked if asked else None
        if metric == "outbox.pending_max":
            return float(max(s.gauges.get("outbox.pending", 0) for s in seconds))
        depths = [s.gauges.get("queue.ready", 0) + s.gauges.get("queue.unacked", 0) for s in seconds]
        if metric == "queue.depth_max":
            return float(max(depths))
        if metric == "queue.depth_last":
            return float(depths[-1])
        return float(max(s.gauges.get("staleness.max_s", 0.0) for s in seconds))


def _concat(lists: Iterable[list[float]]) -> list[float]:
    out: list[float] = []
    for values in lists:
        out.extend(values)
    return out
