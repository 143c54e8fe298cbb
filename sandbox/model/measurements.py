"""The per-second record both engines fill, and the frames and window values computed from it.

An engine reports what happened — each request with its latency, each message event, each gauge
reading at the end of a second — to a `Measurements`; frames and every window value an expectation
checks come from the metric registry's declarations, the same way for the simulation and the live lab.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, assert_never

from sandbox.model import losses
from sandbox.model.metrics import (
    COUNTERS,
    FRAME_METRICS,
    METRICS,
    Aggregate,
    CounterName,
    GaugeName,
    Last,
    MetricName,
    Peak,
    Percentile,
    PerSecond,
    Ratio,
    Requests,
    Sum,
)

Frame = dict[str, Any]


def percentile(values: list[float], q: float) -> float | None:
    """Nearest-rank percentile (q in 0..100) of unsorted values; None when empty."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, math.ceil(q / 100 * len(ordered)))
    return ordered[rank - 1]


@dataclass
class _Second:
    counts: dict[CounterName, int] = field(default_factory=lambda: dict.fromkeys(COUNTERS, 0))
    gauges: dict[GaugeName, float] = field(default_factory=dict)
    read_ms: list[float] = field(default_factory=list)
    write_ms: list[float] = field(default_factory=list)


class Measurements:
    """Everything one variant did, bucketed by the second it happened in."""

    def __init__(self) -> None:
        self._seconds: list[_Second] = []
        self.lost_by_cause: dict[str, int] = {}
        self.closed_s = 0
        self._last = (-1, _Second())
        """The second recorded into last, and its index: almost every record falls into the same one."""

    def _at(self, t: float) -> _Second:
        index = int(t)
        last_index, last = self._last
        if index == last_index:
            return last
        seconds = self._seconds
        while len(seconds) <= index:
            seconds.append(_Second())
        second = seconds[index]
        self._last = (index, second)
        return second

    def read(self, t: float, latency_ms: float, ok: bool, stale: bool = False) -> None:
        second = self._at(t)
        second.read_ms.append(latency_ms)
        counts = second.counts
        if ok:
            counts["read.ok"] += 1
            if stale:
                counts["read.stale"] += 1
        else:
            counts["read.errors"] += 1

    def write(self, t: float, latency_ms: float, ok: bool) -> None:
        second = self._at(t)
        second.write_ms.append(latency_ms)
        second.counts["write.ok" if ok else "write.errors"] += 1

    def count(self, t: float, name: CounterName, n: int = 1) -> None:
        self._at(t).counts[name] += n

    def lose(self, t: float, cause: str, n: int = 1) -> None:
        """Count `n` lost messages and why they were lost."""
        counts = self._at(t).counts
        counts["msg.lost"] += n
        if cause in losses.TAKEN:
            counts["msg.lost_taken"] += n
        self.lost_by_cause[cause] = self.lost_by_cause.get(cause, 0) + n

    def take_back(self, t: float, cause: str, n: int) -> None:
        """`n` of the messages counted lost at `t` for `cause` turned up again: they were not lost after all."""
        counts = self._at(t).counts
        counts["msg.lost"] -= n
        if cause in losses.TAKEN:
            counts["msg.lost_taken"] -= n
        left = self.lost_by_cause.get(cause, 0) - n
        if left > 0:
            self.lost_by_cause[cause] = left
        else:
            self.lost_by_cause.pop(cause, None)

    def close_second(self, second: int, gauges: Mapping[GaugeName, float]) -> None:
        """Record the gauges read at the end of `second`; the second is then final."""
        self._at(second).gauges = dict(gauges)
        self.closed_s = second + 1

    def frame(self, second: int) -> dict[str, float | None]:
        """The per-second metrics of a closed second, in FRAME_METRICS order."""
        s = self._at(second)
        frame: dict[str, float | None] = {}
        for name in FRAME_METRICS:
            aggregate = METRICS[name].aggregate
            match aggregate:
                case Sum(counter):
                    frame[name] = s.counts[counter]
                case Peak((gauge,)):
                    frame[name] = s.gauges.get(gauge)
                case _:
                    frame[name] = _aggregate(aggregate, [s])
        return frame

    def frames(self, start_s: int = 0, end_s: int | None = None) -> list[Frame]:
        """{"t": second, **frame} for each closed second in [start_s, end_s)."""
        end = self.closed_s if end_s is None else min(end_s, self.closed_s)
        return [{"t": t, **self.frame(t)} for t in range(max(0, start_s), end)]

    def _window(self, start_s: float, end_s: float) -> list[_Second]:
        first = max(0, math.floor(start_s))
        last = min(self.closed_s, math.ceil(end_s))
        return [self._at(t) for t in range(first, last)]

    def latencies_ms(self, requests: Requests, start_s: float, end_s: float) -> list[float]:
        """The latency of every read (or write) that finished in [start_s, end_s), failures included."""
        latencies: list[float] = []
        for second in self._window(start_s, end_s):
            latencies.extend(second.read_ms if requests == "read" else second.write_ms)
        return latencies

    def totals(self, start_s: float, end_s: float) -> dict[CounterName, int]:
        return _totals(self._window(start_s, end_s))

    def observe(self, metric: MetricName, start_s: float, end_s: float) -> float | None:
        """The value of a registered metric over [start_s, end_s); None when nothing was measured.

        KeyError for a name the registry does not declare."""
        aggregate = METRICS[metric].aggregate
        seconds = self._window(start_s, end_s)
        return _aggregate(aggregate, seconds) if seconds else None


def _totals(seconds: Iterable[_Second]) -> dict[CounterName, int]:
    totals = dict.fromkeys(COUNTERS, 0)
    for second in seconds:
        for name, n in second.counts.items():
            totals[name] += n
    return totals


def _aggregate(aggregate: Aggregate, seconds: list[_Second]) -> float | None:
    match aggregate:
        case Sum(counter):
            return float(sum(s.counts[counter] for s in seconds))
        case Ratio(part, whole):
            totals = _totals(seconds)
            done = sum(totals[name] for name in whole)
            return totals[part] / done if done else None
        case Percentile(requests, q):
            latencies: list[float] = []
            for s in seconds:
                latencies.extend(s.read_ms if requests == "read" else s.write_ms)
            return percentile(latencies, q)
        case PerSecond(counter):
            return sum(s.counts[counter] for s in seconds) / len(seconds)
        case Peak(gauges):
            return float(max(sum(s.gauges.get(g, 0) for g in gauges) for s in seconds))
        case Last(gauges):
            return float(sum(seconds[-1].gauges.get(g, 0) for g in gauges))
        case _:
            assert_never(aggregate)


def interleave(frames_by_variant: Mapping[str, list[Frame]]) -> list[Frame]:
    """Every variant's frames, second by second (in variant order), over the seconds all variants closed."""
    seconds = min((len(frames) for frames in frames_by_variant.values()), default=0)
    return [{"t": frames[t]["t"], "variant": name, **{k: v for k, v in frames[t].items() if k != "t"}}
            for t in range(seconds) for name, frames in frames_by_variant.items()]
