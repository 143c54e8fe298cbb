"""The headline tiles of a variant: how its reads, writes and messages are doing right now."""

from __future__ import annotations

from dataclasses import dataclass

from sandbox.model.measurements import Measurements
from sandbox.model.status import VariantStatus

RECENT_S = 10.0
"""Rates and percentiles on the tiles cover the last this-many seconds."""


@dataclass(frozen=True)
class Headline:
    label: str
    value: str
    healthy: bool | None
    """True: fine; False: the learner should look here; None: nothing measured yet."""
    help: str


def _pct(value: float | None) -> str:
    return "–" if value is None else f"{value:.1%}"


def _p99_healthy(p99_ms: float | None, error_rate: float | None) -> bool | None:
    """Green when reads are fast; no colour while they fail, because a refusal is fast too."""
    if p99_ms is None or (error_rate is not None and error_rate >= 0.01):
        return None
    return p99_ms < 250


def headlines(measurements: Measurements, status: VariantStatus, now_s: float) -> list[Headline]:
    """Success rates, read p99 and stale reads over the last RECENT_S seconds; queue depth now; losses so far."""
    end = float(int(now_s))
    start = max(0.0, end - RECENT_S)
    recent = f"over the last {RECENT_S:g} s"

    def observe(metric: str, since: float = start) -> float | None:
        return measurements.observe(metric, since, end) if end > since else None

    write_errors, read_errors = observe("write.error_rate"), observe("read.error_rate")
    p99, stale = observe("read.p99_ms"), observe("read.stale_rate")
    lost = observe("msg.lost", 0.0) or 0.0
    depth = status.queue_ready + status.queue_unacked
    has_queue = status.architecture == "queue"
    return [
        Headline("writes ok", _pct(None if write_errors is None else 1 - write_errors),
                 None if write_errors is None else write_errors < 0.01, f"POST /blogs answered 2xx, {recent}"),
        Headline("reads ok", _pct(None if read_errors is None else 1 - read_errors),
                 None if read_errors is None else read_errors < 0.01, f"GET /blogs answered 2xx, {recent}"),
        Headline("read p99", "–" if p99 is None else f"{p99:,.0f} ms", _p99_healthy(p99, read_errors),
                 f"99% of reads finished within this, {recent}; failures count too, and a refused read fails fast, "
                 "so while reads fail this says nothing good"),
        Headline("stale reads", _pct(stale), None if stale is None else stale < 0.05,
                 f"successful reads that returned a list older than the database, {recent}"),
        Headline("queue depth", f"{depth:,}" if has_queue else "no queue", depth < 100 if has_queue else None,
                 "messages in cache-invalidation now: ready + delivered but not yet acked"),
        Headline("messages lost", f"{lost:,.0f}" if has_queue else "no queue", lost == 0 if has_queue else None,
                 "invalidations that will never be applied, since the start"),
    ]
