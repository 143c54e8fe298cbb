"""The evidence behind a step's checks: for each metric a step checks, one chart of that metric exactly as the check
computes it, in the check's unit, with the check's bound drawn over the check's window.

A check reads one value over a window (a total, a share, a percentile, a peak, the last second). The chart draws that
value as the window fills, second by second: at each second t, the metric over [window start, t). Its last point is
the value the check read, so the eye sees the line end above or below the bound — the verdict, drawn. Checks of one
metric share a chart, each with its own stretch of line and its own bound.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from sandbox.model.expectations import Verdict
from sandbox.model.measurements import Measurements
from sandbox.model.metrics import METRICS, Last, MetricName, Peak, Percentile, PerSecond, Ratio, Sum
from sandbox.model.periods import Period
from sandbox.present.charts import (
    SERIES_COLOURS,
    band_layer,
    dash_encoding,
    moment_layers,
    nice_ceiling,
    top_legend,
)
from sandbox.present.report import format_metric

COMPARISON_WORDS = {"above": "above", "below": "below", "at_least": "at least", "at_most": "at most"}
COMPARISON_SIGNS = {"above": ">", "below": "<", "at_least": "≥", "at_most": "≤"}
BOUND_COLOUR = "#8a1c1c"


def chart_unit(metric: MetricName) -> tuple[str, float]:
    """The unit a metric is charted in, and the factor from its registry value: a fraction as a percentage."""
    unit = METRICS[metric].unit
    return ("%", 100.0) if unit == "fraction" else (unit, 1.0)


def _so_far(metric: MetricName) -> str:
    """How the line accumulates, in the words of the metric's aggregate (short: it is the chart's subtitle)."""
    match METRICS[metric].aggregate:
        case Sum():
            return "the total so far in the check's window"
        case Ratio():
            return "the share so far in the check's window"
        case Percentile(q=q):
            return f"p{q:g} of all finished so far in the window"
        case PerSecond():
            return "the rate so far in the check's window"
        case Peak():
            return "the highest so far in the check's window"
        case Last():
            return "each second's value; the check reads the last"


@dataclass(frozen=True)
class Check:
    """One check as drawn: its variant, window, bound (in the chart's unit) and the line of its value so far."""

    variant: str
    start_s: float
    end_s: float
    comparison: str
    bound: float
    passed: bool
    observed: str
    points: tuple[tuple[float, float], ...]
    """(t, value in the chart's unit): the metric over [start_s, t), for each whole second t of the window."""

    @property
    def words(self) -> str:
        return f"{self.variant}: {COMPARISON_WORDS[self.comparison]} {self.bound:,.{_digits(self.bound)}f}"

    @property
    def sign(self) -> str:
        return f"{COMPARISON_SIGNS[self.comparison]} {self.bound:,.{_digits(self.bound)}f}"


def _digits(value: float) -> int:
    return 0 if value == int(value) else 1 if value * 10 == int(value * 10) else 2


@dataclass(frozen=True)
class Evidence:
    metric: MetricName
    title: str
    unit: str
    how: str
    checks: tuple[Check, ...]

    @property
    def variants(self) -> list[str]:
        return list(dict.fromkeys(check.variant for check in self.checks))


def evidence(verdicts: Iterable[Verdict], measurements: Callable[[str], Measurements],
             duration_s: float) -> list[Evidence]:
    """One Evidence per metric the verdicts check, in the order the checks come; `measurements(variant)` gives the
    run's measurements of a variant, `duration_s` the window of a check that names none."""
    by_metric: dict[MetricName, list[Check]] = {}
    for verdict in verdicts:
        e = verdict.expectation
        start_s, end_s = e.window(duration_s)
        factor = chart_unit(e.metric)[1]
        mine = measurements(e.variant)
        points = []
        for t in range(math.floor(start_s) + 1, math.ceil(end_s) + 1):
            value = mine.observe(e.metric, start_s, min(float(t), end_s))
            if value is not None:
                points.append((min(float(t), end_s), round(value * factor, 3)))
        by_metric.setdefault(e.metric, []).append(Check(
            e.variant, start_s, end_s, e.comparison, e.bound * factor, verdict.passed,
            format_metric(verdict.observed, e.metric), tuple(points)))
    return [Evidence(metric, METRICS[metric].label, chart_unit(metric)[0], _so_far(metric), tuple(checks))
            for metric, checks in by_metric.items()]


def evidence_spec(item: Evidence, domain_s: tuple[float, float], periods: Iterable[Period] = (),
                  marks: Iterable[tuple[float, str]] = (), height_px: int = 150,
                  all_variants: list[str] | None = None) -> dict[str, Any]:
    """A Vega-Lite chart of one Evidence: a line per check (a variant's colour, dash and marker), its bound as a rule
    over its window labelled inside the plot, the value the check read marked at the line's end, fault periods
    shaded and the step's moments numbered. A variant keeps its colour and dash on every chart of the step: its
    place in `all_variants` (the step's variants) picks them."""
    variants = item.variants
    order = list(all_variants or variants)
    colour = {v: SERIES_COLOURS[order.index(v) % len(SERIES_COLOURS)] for v in variants}
    rows = [{"t": t, "value": v, "variant": c.variant, "check": i}
            for i, c in enumerate(item.checks) for t, v in c.points]
    bounds = _bound_rows(item.checks, named=len(variants) > 1)
    ends = [{"t": c.points[-1][0], "value": c.points[-1][1], "variant": c.variant,
             "read": f"{c.variant} read {c.observed} {'✓' if c.passed else '✗'}"}
            for c in item.checks if c.points]
    top = nice_ceiling(max([v for c in item.checks for _, v in c.points] + [c.bound * 1.25 for c in item.checks],
                           default=1.0))
    x = {"field": "t", "type": "quantitative", "title": "scenario time (s)", "scale": {"domain": list(domain_s)}}
    y = {"field": "value", "type": "quantitative", "title": item.unit, "scale": {"domain": [0, top]},
         "axis": {"tickMinStep": 1} if item.unit not in ("%", "ms", "s") else {}}
    variant_colour = {"field": "variant", "type": "nominal", "title": None,
                      "scale": {"domain": variants, "range": [colour[v] for v in variants]},
                      "legend": top_legend(len(variants))}
    layers = band_layer(periods, domain_s, opacity=0.1) + moment_layers(marks, domain_s)
    layers += [
        {"data": {"values": bounds}, "mark": {"type": "rule", "strokeWidth": 2, "strokeDash": [6, 3],
                                              "color": BOUND_COLOUR},
         "encoding": {"x": {"field": "start", "type": "quantitative"}, "x2": {"field": "end"},
                      "y": {"field": "bound", "type": "quantitative"},
                      "tooltip": [{"field": "words", "title": "check"}]}},
        *({"data": {"values": [b for b in bounds if b["under"] == under]},
           "mark": {"type": "text", "align": "left", "baseline": "top" if under else "bottom", "dx": 2,
                    "dy": 3 if under else -3, "fontSize": 12, "fontWeight": "bold", "color": BOUND_COLOUR},
           "encoding": {"x": {"field": "start", "type": "quantitative"},
                        "y": {"field": "bound", "type": "quantitative"},
                        "text": {"field": "sign"}, "tooltip": [{"field": "words", "title": "check"}]}}
          for under in (False, True) if any(b["under"] == under for b in bounds)),
        {"data": {"values": rows}, "mark": {"type": "line", "interpolate": "linear", "strokeWidth": 2,
                                            "point": {"size": 18}},
         "encoding": {"x": x, "y": y, "color": variant_colour,
                      "strokeDash": dash_encoding("variant", variants, [order.index(v) for v in variants]),
                      "detail": {"field": "check"},
                      "shape": {"field": "variant", "type": "nominal", "legend": None, "scale": {"domain": order}},
                      "tooltip": [{"field": "t", "title": "t (s)"}, {"field": "variant"},
                                  {"field": "value", "title": item.unit}]}},
        {"data": {"values": ends}, "mark": {"type": "point", "filled": True, "size": 70, "shape": "diamond"},
         "encoding": {"x": {"field": "t", "type": "quantitative"}, "y": {"field": "value", "type": "quantitative"},
                      "color": variant_colour | {"legend": None},
                      "tooltip": [{"field": "read", "title": "the check"}]}},
    ]
    for layer in layers:  # every layer on the step's time axis: Vega-Lite would otherwise stretch it to 0
        layer["encoding"]["x"]["scale"] = {"domain": list(domain_s)}
    return {
        "title": {"text": f"{item.title} ({item.unit})", "subtitle": item.how, "fontSize": 13,
                  "subtitleFontSize": 11, "subtitleColor": "#444444", "anchor": "start"},
        "height": height_px,
        "autosize": {"type": "fit-x", "contains": "padding"},
        "layer": layers,
        "resolve": {"scale": {"color": "independent"}},
    }


def _bound_rows(checks: Iterable[Check], named: bool) -> list[dict[str, Any]]:
    """One rule per bound and window, with a sign on the side of the rule a passing line does not reach: under a
    lower bound, over an upper one. Checks that share a bound, a window and a side share their sign; with more
    than one variant on the chart (`named`) each sign says whose it is."""
    merged: dict[tuple[float, float, float, bool], list[Check]] = {}
    for check in checks:
        merged.setdefault((check.start_s, check.end_s, check.bound, check.comparison in ("above", "at_least")),
                          []).append(check)
    return [{"start": start, "end": end, "bound": bound, "under": under,
             "words": " · ".join(c.words for c in same),
             "sign": same[0].sign + (f" {', '.join(dict.fromkeys(c.variant for c in same))}" if named else "")}
            for (start, end, bound, under), same in merged.items()]
