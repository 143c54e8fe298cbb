"""How a run reads: a table by phase per variant, the expectation checklist, the JSON document."""

from __future__ import annotations

import itertools
import math
from typing import Any

from sandbox.engine import RunResult
from sandbox.model.measurements import Measurements
from sandbox.model.metrics import METRICS, MetricName
from sandbox.model.scenario import Scenario

PHASE_COLUMNS: tuple[tuple[str, MetricName, str], ...] = (
    # (heading, window metric, format)
    ("reads/s", "read.throughput", "rate"),
    ("read err", "read.error_rate", "pct"),
    ("read p99", "read.p99_ms", "ms"),
    ("stale", "read.stale_rate", "pct"),
    ("writes/s", "write.throughput", "rate"),
    ("write err", "write.error_rate", "pct"),
    ("write p99", "write.p99_ms", "ms"),
    ("max stale", "staleness.max_s", "s"),
    ("queue max", "queue.depth_max", "int"),
    ("lost", "msg.lost", "int"),
)


def format_value(value: float | None, kind: str) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    if kind == "pct":
        return f"{value:.1%}"
    if kind == "ms":
        return f"{value:,.0f} ms" if value >= 10 else f"{value:.1f} ms"
    if kind == "s":
        return f"{value:.2f} s"
    if kind == "int":
        return f"{value:,.0f}"
    return f"{value:,.1f}"


def metric_kind(metric: MetricName) -> str:
    """How a metric's value reads, from its unit in the registry: a fraction, milliseconds, seconds, a rate or a
    count."""
    return {"fraction": "pct", "ms": "ms", "s": "s", "per s": "rate"}.get(METRICS[metric].unit, "int")


def format_metric(value: float | None, metric: MetricName) -> str:
    return format_value(value, metric_kind(metric))


def phases(scenario: Scenario) -> list[tuple[float, float, str]]:
    """(start, end, what happened at the start) for each stretch between timeline moments."""
    bounds = scenario.phase_bounds()
    out = []
    for start, end in itertools.pairwise(bounds):
        events = "; ".join(a.describe() for a in scenario.timeline if a.at == start)
        out.append((start, end, events or ("start" if start == 0 else "")))
    return out


def phase_table(scenario: Scenario, measurements: Measurements) -> list[list[str]]:
    rows = []
    for start, end, events in phases(scenario):
        cells = [f"{start:g}–{end:g} s"]
        cells += [format_value(measurements.observe(metric, start, end), kind) for _, metric, kind in PHASE_COLUMNS]
        cells.append(events)
        rows.append(cells)
    return rows


def _grid(header: list[str], rows: list[list[str]]) -> list[str]:
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    lines = []
    for row in [header, *rows]:
        cells = [
            c.rjust(w) if 0 < i < len(header) - 1 else c.ljust(w)
            for i, (c, w) in enumerate(zip(row, widths, strict=True))
        ]
        lines.append("  " + "  ".join(cells).rstrip())
    return lines


def format_run(result: RunResult) -> str:
    s = result.scenario
    engine = result.engine
    lines = [f"{s.id} — {s.title}", f"engine {engine.name}, seed {result.seed}, {s.duration_s:g} s of scenario time"]
    if s.summary:
        lines.append(s.summary)
    for note in sorted(set(result.notes)):
        lines.append(f"note: {note}")
    header = ["phase", *(h for h, _, _ in PHASE_COLUMNS), "what happened"]
    for variant in s.variants:
        lines += ["", f"{variant.name} ({variant.architecture}"
                  + (", " + ", ".join(f"{k}={v}" for k, v in variant.knobs.items()) if variant.knobs else "") + ")"]
        measurements = engine.measurements(variant.name)
        lines += _grid(header, phase_table(s, measurements))
        if measurements.lost_by_cause:
            for cause, n in sorted(measurements.lost_by_cause.items()):
                lines.append(f"  lost {n}: {cause}")
    if result.verdicts:
        lines += ["", "expectations"]
        for verdict in result.verdicts:
            e = verdict.expectation
            mark = "✓" if verdict.passed else "✗"
            observed = "nothing measured" if verdict.observed is None else f"observed {verdict.observed:.4g}"
            lines.append(f"  {mark} {e.describe(s.duration_s)}: {observed}")
            if e.why:
                lines.append(f"      why: {e.why}")
        held = sum(v.passed for v in result.verdicts)
        lines.append(f"  {held}/{len(result.verdicts)} hold")
    lines.append(f"({result.wall_s:.2f} s wall)")
    return "\n".join(lines)


def run_document(result: RunResult) -> dict[str, Any]:
    """The --json document: frames use the per-second metric names of model/metrics.py."""
    s = result.scenario
    return {
        "scenario": s.id,
        "engine": result.engine.name,
        "seed": result.seed,
        "duration_s": s.duration_s,
        "variants": {v.name: {"architecture": v.architecture, "knobs": v.knobs} for v in s.variants},
        "frames": [{k: _rounded(v) for k, v in frame.items()} for frame in result.engine.frames()],
        "lost_by_cause": {v.name: result.engine.measurements(v.name).lost_by_cause for v in s.variants},
        "expectations": [
            {
                "variant": v.expectation.variant,
                "metric": v.expectation.metric,
                "during": list(v.expectation.window(s.duration_s)),
                v.expectation.comparison: v.expectation.bound,
                "why": v.expectation.why,
                "observed": _rounded(v.observed),
                "passed": v.passed,
            }
            for v in result.verdicts
        ],
        "wall_s": round(result.wall_s, 3),
    }


def _rounded(value: Any) -> Any:
    return round(value, 6) if isinstance(value, float) else value
