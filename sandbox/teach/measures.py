"""What a numeric prediction's run measured: the number the simulation gives for what the step asked, read from
the step's own seconds, to hold beside the number queueing theory gives (`estimates.py`).

A numeric step names it: `measure = {variant = "queue", what = "wait_share", pool = "cache-worker", workers = 2}`.
`what` is a metric an expectation can check (`queue.depth_max`, …), or one of:

- `wait_share` — % of seconds whose snapshot finds all `workers` of `pool` busy: with Poisson arrivals, the share of
  arrivals that wait (arrivals see time averages);
- `mean_wait_ms` — the mean number of messages ready in the queue ÷ the messages published a second, in ms
  (Little's law turned round);
- `drain_s` — seconds from the step's start until the queue first holds at most one ready message.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from statistics import fmean

from sandbox.model.measurements import Measurements
from sandbox.model.metrics import is_metric

DERIVED = ("wait_share", "mean_wait_ms", "drain_s")
FIELDS = ("variant", "what", "pool", "workers", "during", "tolerance")


class MeasureError(ValueError):
    """A measure table that names nothing measurable; `field` is the key at fault."""

    def __init__(self, field: str, problem: str):
        super().__init__(problem)
        self.field = field
        self.problem = problem


@dataclass(frozen=True)
class Measure:
    variant: str
    what: str
    tolerance: float
    """How far the run may be from the step's number."""
    pool: str = ""
    workers: int = 0
    during: tuple[float, float] | None = None
    """Relative to the step's start; None: the whole step."""

    def observe(self, measurements: Measurements, frames: Sequence[Mapping[str, object]], start_s: float,
                end_s: float) -> float | None:
        """The value over the step's seconds [start_s, end_s) (absolute); `frames` are the variant's."""
        if self.during is not None:
            start_s, end_s = start_s + self.during[0], start_s + self.during[1]
        if self.what not in DERIVED:
            return measurements.observe(self.what, start_s, end_s)  # type: ignore[arg-type]  # checked by is_metric
        window = [f for f in frames if start_s <= _number(f, "t") < end_s]
        if not window:
            return None
        if self.what == "wait_share":
            return 100.0 * fmean(_number(f, f"{self.pool}.busy") >= self.workers for f in window)
        if self.what == "mean_wait_ms":
            published = fmean(_number(f, "msg.published") for f in window)
            return 1000.0 * fmean(_number(f, "queue.ready") for f in window) / published if published else None
        drained = next((_number(f, "t") - start_s for f in window if _number(f, "queue.ready") <= 1), None)
        return drained


def _number(frame: Mapping[str, object], key: str) -> float:
    value = frame.get(key)
    return float(value) if isinstance(value, (int, float)) and math.isfinite(value) else 0.0


def parse_measure(table: Mapping[str, object], default_tolerance: float) -> Measure:
    for key in table:
        if key not in FIELDS:
            raise MeasureError(key, f"not a field of measure; use {', '.join(FIELDS)}")
    variant, what = table.get("variant"), table.get("what")
    if not isinstance(variant, str) or not variant:
        raise MeasureError("variant", "names the variant whose run is measured")
    if not isinstance(what, str) or not (what in DERIVED or is_metric(what)):
        raise MeasureError("what", f"{what!r}: use a metric an expectation checks, or one of {', '.join(DERIVED)}")
    pool, workers = table.get("pool", ""), table.get("workers", 0)
    if what == "wait_share" and (not isinstance(pool, str) or not pool or not isinstance(workers, int)
                                 or isinstance(workers, bool) or workers < 1):
        raise MeasureError("pool", "wait_share needs the pool (e.g. cache-worker) and its whole number of workers")
    tolerance = table.get("tolerance", default_tolerance)
    if isinstance(tolerance, bool) or not isinstance(tolerance, (int, float)) or tolerance < 0:
        raise MeasureError("tolerance", "must be a number of 0 or more")
    during = table.get("during")
    window: tuple[float, float] | None = None
    if during is not None:
        if (not isinstance(during, list) or len(during) != 2
                or not all(isinstance(x, (int, float)) and not isinstance(x, bool) for x in during)
                or not 0 <= during[0] < during[1]):
            raise MeasureError("during", "must be [from, to] seconds from the step's start, from before to")
        window = (float(during[0]), float(during[1]))
    return Measure(variant, what, float(tolerance), str(pool), int(workers) if isinstance(workers, int) else 0,
                   window)


def measured_words(value: float | None, answer: float, unit: str) -> str:
    """What the learner's own run measured beside the formula's number ("" when nothing was measured)."""
    if value is None:
        return ""
    return (f"This run measured {value:,.3g} {unit}; the formula says {answer:,.3g} {unit}. One run is one sample "
            "of a random process: a run at another seed lands elsewhere, and their average settles near the formula.")
