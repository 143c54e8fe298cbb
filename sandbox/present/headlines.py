"""The headline tiles of a variant: how its reads, writes and messages are doing right now."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from sandbox.model.measurements import Measurements
from sandbox.model.metrics import MetricName, label
from sandbox.model.status import VariantStatus

RECENT_S = 10.0
"""Rates and percentiles on the tiles cover the last this-many seconds."""

Scale = Literal["share", "ms", "count"]


@dataclass(frozen=True)
class Headline:
    label: str
    value: str
    healthy: bool | None
    """True: fine; False: the learner should look here; None: nothing measured yet, or nothing to judge."""
    help: str
    number: float | None = None
    """The value as a number, to compare variants (a share as a fraction); None when there is none."""
    scale: Scale = "count"
    higher_is_better: bool = False
    window: str = ""
    """The window the value covers, said on the tile: "last 10 s", "now", "since 0 s"."""


def _pct(value: float | None) -> str:
    return "–" if value is None else f"{value:.1%}"


def _p99_healthy(p99_ms: float | None, error_rate: float | None) -> bool | None:
    """Green when reads are fast; no colour while they fail, because a refusal is fast too."""
    if p99_ms is None or (error_rate is not None and error_rate >= 0.01):
        return None
    return p99_ms < 250


def headlines(measurements: Measurements, status: VariantStatus, now_s: float) -> list[Headline]:
    """Success rates, read p99 and stale reads over the last RECENT_S seconds before `now_s`; queue depth at
    `status`; losses up to `now_s`."""
    end = float(int(now_s))
    start = max(0.0, end - RECENT_S)
    recent = f"over the last {RECENT_S:g} s"

    def observe(metric: MetricName, since: float = start) -> float | None:
        return measurements.observe(metric, since, end) if end > since else None

    write_errors, read_errors = observe("write.error_rate"), observe("read.error_rate")
    writes_ok = None if write_errors is None else 1 - write_errors
    reads_ok = None if read_errors is None else 1 - read_errors
    p99, stale = observe("read.p99_ms"), observe("read.stale_rate")
    lost = observe("msg.lost", 0.0) or 0.0
    depth = status.queue_ready + status.queue_unacked
    queue = status.architecture == "queue"
    no_queue = f"no queue in {status.architecture}"
    last = f"last {end - start:g} s"
    return [
        Headline(label("write.ok"), _pct(writes_ok), None if write_errors is None else write_errors < 0.01,
                 f"POST /blogs answered 2xx, {recent}", writes_ok, "share", higher_is_better=True, window=last),
        Headline(label("read.ok"), _pct(reads_ok), None if read_errors is None else read_errors < 0.01,
                 f"GET /blogs answered 2xx, {recent}", reads_ok, "share", higher_is_better=True, window=last),
        Headline(label("read.p99_ms"), "–" if p99 is None else f"{p99:,.0f} ms", _p99_healthy(p99, read_errors),
                 f"99% of reads finished within this, {recent}; failures count too, and a refused read fails fast, "
                 "so while reads fail this says nothing good", p99, "ms", window=last),
        Headline(label("read.stale"), _pct(stale), None if stale is None else stale < 0.05,
                 f"successful reads that returned a list older than the database, {recent}", stale, "share",
                 window=last),
        Headline("queue depth", f"{depth:,}" if queue else "–", depth < 100 if queue else None,
                 "messages in cache-invalidation now: ready + delivered but not yet acked" if queue else no_queue,
                 float(depth) if queue else None, window="now"),
        Headline(label("msg.lost"), f"{lost:,.0f}" if queue else "–", lost == 0 if queue else None,
                 "invalidations that will never be applied, since the start" if queue else no_queue,
                 lost if queue else None, window="since 0 s"),
    ]
