"""The chart panels, and their Vega-Lite specs from per-second frames, with faults shaded and moments marked.

A panel has one unit on its y axis and its series are labelled from the metric registry. Every variant's chart of a
panel shares one y-domain (`y_domain`), so columns side by side compare honestly. Lines are steps: a frame holds
for its whole second. Plain dicts, so the page draws them with `st.vega_lite_chart` and the report renders the same
spec to SVG; the playground view draws the same panels from `sandbox.present.playground_view`.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from sandbox.model.commands import Command
from sandbox.model.metrics import METRICS, MetricName, label
from sandbox.model.periods import Period, fault_periods
from sandbox.model.status import VariantStatus
from sandbox.present.diagram import HEALTH_COLOURS

Frame = dict[str, Any]
Value = Callable[[Frame], float | None]


def _error_pct(kind: str) -> Value:
    def error_pct(frame: Frame) -> float | None:
        ok, errors = frame.get(f"{kind}.ok") or 0, frame.get(f"{kind}.errors") or 0
        return 100.0 * errors / (ok + errors) if ok + errors else None
    return error_pct


def _metric(name: str) -> Value:
    return lambda frame: frame.get(name)


@dataclass(frozen=True)
class Series:
    name: str
    value: Value


def _series(metric: MetricName) -> Series:
    return Series(label(metric), _metric(metric))


@dataclass(frozen=True)
class Panel:
    key: str
    title: str
    unit: str
    """The one unit of every series on the panel's y axis."""
    series: tuple[Series, ...]
    log_scale: bool = False
    fixed_domain: tuple[float, float] | None = None

    @property
    def heading(self) -> str:
        """The title with its unit and its window: 'failed requests (%, each second)'."""
        return f"{self.title} ({self.unit}, each second{', log scale' if self.log_scale else ''})"

    @property
    def chart_title(self) -> str:
        """The title with its unit, short enough for a chart a third of the page wide: 'failed requests (%)' (the page
        says once that every chart has a value a second)."""
        return f"{self.title} ({self.unit}{', log' if self.log_scale else ''})"


PANELS = (
    Panel("errors", "failed requests", "%", (Series(label("read.error_rate"), _error_pct("read")),
                                            Series(label("write.error_rate"), _error_pct("write"))),
          fixed_domain=(0.0, 100.0)),
    Panel("latency", "latency", "ms", (_series("read.p50_ms"), _series("read.p99_ms"), _series("write.p99_ms")),
          log_scale=True),
    Panel("queue", "messages waiting", "messages", (_series("queue.ready"), _series("queue.unacked"),
                                                    _series("outbox.pending"))),
    Panel("staleness", "oldest unapplied write", "s", (_series("staleness.max_s"),)),
    Panel("stale", "stale reads", "reads/s", (_series("read.stale"),)),
)
PANEL_KEYS = tuple(p.key for p in PANELS)
MAIN_PANELS = ("errors", "latency")
"""The panels the playground shows beside the diagram; the others sit below."""

FAULT_COLOURS = {kind: HEALTH_COLOURS[health][1] for kind, health in
                 (("down", "down"), ("hung", "hung"), ("latency", "slow"), ("errors", "saturated"))}
"""A fault period's shade: the border colour of the state it puts its part in."""
SERIES_COLOURS = ("#0072B2", "#D55E00", "#222222")
"""Blue, vermillion and near-black: apart under protanopia, deuteranopia and tritanopia as well
(tests/unit/test_palette.py simulates the three)."""
DASHES = ((1, 0), (6, 3), (2, 2))
"""Each series' dash, so lines differ by more than colour: solid, dashed, dotted."""


def top_legend(entries: int) -> dict[str, Any]:
    """A legend above the chart, two entries a row: three names side by side run past a chart a third of a page
    wide."""
    return {"orient": "top", "direction": "horizontal", "columns": min(entries, 2)}


def dash_encoding(field: str, names: list[str], places: list[int] | None = None) -> dict[str, Any]:
    """Each name's line in its own dash (DASHES in turn, or by each name's place in `places`), with no legend of its
    own: the colour legend names them."""
    places = places if places is not None else list(range(len(names)))
    return {"field": field, "type": "nominal", "title": None, "legend": None,
            "scale": {"domain": names, "range": [list(DASHES[i % len(DASHES)]) for i in places]}}


def metric_unit(metric: MetricName) -> str:
    return METRICS[metric].unit


def panel(key: str) -> Panel:
    return next(p for p in PANELS if p.key == key)


def frames_of(frames: Iterable[Frame], variant: str) -> list[Frame]:
    """One variant's rows of an engine's frames."""
    return [f for f in frames if f.get("variant") == variant]


def nice_ceiling(value: float) -> float:
    """The smallest 1, 2 or 5 × 10^k at or above `value` (at least 1): a y-axis top that reads well."""
    if value <= 1:
        return 1.0
    power = 10 ** math.floor(math.log10(value))
    return next(step * power for step in (1, 2, 5, 10) if step * power >= value)


def y_domain(chosen: Panel, frame_sets: Iterable[Iterable[Frame]]) -> tuple[float, float]:
    """One y-domain for a panel over every given set of frames (all variants, and a prediction): the same axis in
    every column. Linear panels run from 0; log panels span whole decades, at least 1–10 ms."""
    if chosen.fixed_domain is not None:
        return chosen.fixed_domain
    values = [v for frames in frame_sets for frame in frames for s in chosen.series
              if (v := s.value(frame)) is not None]
    if not chosen.log_scale:
        return 0.0, nice_ceiling(max(values, default=0.0))
    positive = [v for v in values if v > 0]
    low = min(1.0, 10 ** math.floor(math.log10(min(positive)))) if positive else 1.0
    high = max(10.0, 10 ** math.ceil(math.log10(max(positive)))) if positive else 10.0
    return low, high


def panel_rows(frames: Iterable[Frame], chosen: Panel, source: str = "measured") -> list[dict[str, Any]]:
    """Long-form rows {t, series, value, source} for one panel; a second with nothing measured has no row."""
    rows = []
    for frame in frames:
        for series in chosen.series:
            value = series.value(frame)
            if value is not None and not (chosen.log_scale and value <= 0):
                rows.append({"t": frame["t"] + 1, "series": series.name, "value": round(float(value), 3),
                             "source": source})
    return rows


def shaded_periods(timeline: Iterable[Command], statuses: Mapping[str, VariantStatus]) -> dict[str, list[Period]]:
    """Each variant's fault periods as its charts shade them: none on a part the variant does not have."""
    timeline = list(timeline)
    return {name: [p for p in fault_periods(timeline, name) if p.target not in status.absent_parts()]
            for name, status in statuses.items()}


def variant_specs(frames: list[Frame], variants: Iterable[str], key: str, domain_s: tuple[float, float],
                  periods: Mapping[str, Iterable[Period]], marks: Iterable[tuple[float, str]] = (),
                  height_px: int = 150, prediction: list[Frame] | None = None) -> dict[str, dict[str, Any]]:
    """One panel for each variant of a run, every chart on the same y-domain. With `prediction` (the simulation's
    frames of the same run), the lab's lines are solid and the simulation's dashed."""
    chosen = panel(key)
    names = list(variants)
    mine = {name: frames_of(frames, name) for name in names}
    predicted = {name: frames_of(prediction, name) for name in names} if prediction is not None else {}
    domain = y_domain(chosen, [*mine.values(), *predicted.values()])
    marks = list(marks)
    specs = {}
    for name in names:
        rows = panel_rows(mine[name], chosen, "lab" if prediction is not None else "measured")
        rows += panel_rows(predicted.get(name, []), chosen, "simulation")
        specs[name] = _spec(chosen.chart_title, rows, [s.name for s in chosen.series], domain_s, domain,
                            periods.get(name, ()), marks, height_px, chosen.log_scale, dashed=prediction is not None)
    return specs


def comparison_spec(frames: list[Frame], metric: MetricName, variants: list[str], domain_s: tuple[float, float],
                    periods: Iterable[Period] = (), marks: Iterable[tuple[float, str]] = (),
                    height_px: int = 150) -> dict[str, Any]:
    """One per-second metric with a line per variant, to compare the architectures on one axis."""
    rows = [{"t": f["t"] + 1, "series": f["variant"], "value": round(float(f[metric]), 3), "source": "measured"}
            for f in frames if f.get(metric) is not None and f.get("variant") in variants]
    top = nice_ceiling(max((row["value"] for row in rows), default=0.0))
    per = "/s" if METRICS[metric].kind == "count" else ""  # a count a second; a gauge as it stood at each second
    return _spec(f"{label(metric)} ({metric_unit(metric)}{per})", rows, variants, domain_s, (0.0, top), periods,
                 marks, height_px, log_scale=False, dashed=False)


def band_layer(periods: Iterable[Period], domain_s: tuple[float, float], opacity: float = 0.13) -> list[dict[str, Any]]:
    """Fault periods within the domain as shaded bands (none when there are none)."""
    start_s, end_s = domain_s
    bands = [{"start": max(p.start_s, start_s), "end": min(end_s if p.end_s is None else p.end_s, end_s),
              "fault": p.label, "kind": p.kind}
             for p in periods if (p.end_s is None or p.end_s > start_s) and p.start_s < end_s]
    if not bands:
        return []
    return [{
        "data": {"values": bands},
        "mark": {"type": "rect", "opacity": opacity},
        "encoding": {
            "x": {"field": "start", "type": "quantitative", "scale": {"domain": [start_s, end_s]}},
            "x2": {"field": "end"},
            "color": {"field": "kind", "type": "nominal", "legend": None,
                      "scale": {"domain": list(FAULT_COLOURS), "range": list(FAULT_COLOURS.values())}},
            "tooltip": [{"field": "fault", "title": "fault"}],
        },
    }]


def numbered_moments(marks: Iterable[tuple[float, str]], domain_s: tuple[float, float]) -> list[tuple[int, float, str]]:
    """The moments within the domain, numbered from 1 in time order: (number, t, words). A chart marks each with its
    number only, and the page lists the words once (`moments_legend`), so no label runs past a chart or over
    another."""
    inside = sorted((t, text) for t, text in marks if domain_s[0] <= t <= domain_s[1])
    return [(i, t, text) for i, (t, text) in enumerate(inside, start=1)]


def moments_legend(marks: Iterable[tuple[float, str]], domain_s: tuple[float, float]) -> str:
    """'① 10 s kill user · ② 30 s revive user': the words of the numbers the charts mark."""
    return " · ".join(f"{circled(n)} {t:g} s {text}" for n, t, text in numbered_moments(marks, domain_s))


def circled(number: int) -> str:
    """1 → ①, …, 20 → ⑳; beyond that the number in brackets."""
    return chr(0x2460 + number - 1) if 1 <= number <= 20 else f"({number})"


LABEL_SPAN = 0.05
"""The share of a chart's time axis one moment's number takes; two numbers closer than this go on two rows."""


def moment_layers(marks: Iterable[tuple[float, str]], domain_s: tuple[float, float]) -> list[dict[str, Any]]:
    """Each moment as a dashed rule with its number at the top, inside the plot: left of the rule in the last tenth
    of the domain, right of it elsewhere. A number goes on the first of two rows with room for it; with neither,
    the rule stands without one (its words stay in the tooltip and in the page's legend)."""
    start_s, end_s = domain_s
    span = (end_s - start_s) or 1.0
    late = start_s + 0.9 * span
    rules, last_on_row = [], [-math.inf, -math.inf]
    for n, t, text in numbered_moments(marks, domain_s):
        row = next((r for r in (0, 1) if t - last_on_row[r] >= LABEL_SPAN * span), None)
        if row is not None:
            last_on_row[row] = t
        rules.append({"t": t, "what": f"{circled(n)} {text}", "n": circled(n), "row": row, "late": t > late})
    if not rules:
        return []
    layers: list[dict[str, Any]] = [{
        "data": {"values": rules},
        "mark": {"type": "rule", "strokeDash": [4, 3], "color": "#555555"},
        "encoding": {"x": {"field": "t", "type": "quantitative"}, "tooltip": [{"field": "what", "title": "moment"}]},
    }]
    for row in (0, 1):
        for late_side in (False, True):
            chosen = [rule for rule in rules if rule["row"] == row and rule["late"] == late_side]
            if chosen:
                layers.append({
                    "data": {"values": chosen},
                    "mark": {"type": "text", "align": "right" if late_side else "left", "baseline": "top",
                             "dx": -3 if late_side else 3, "fontSize": 11, "color": "#333333"},
                    "encoding": {"x": {"field": "t", "type": "quantitative"}, "y": {"value": 2 + 13 * row},
                                 "text": {"field": "n"}, "tooltip": [{"field": "what", "title": "moment"}]},
                })
    return layers


def _spec(title: str, rows: list[dict[str, Any]], names: list[str], domain_s: tuple[float, float],
          y: tuple[float, float], periods: Iterable[Period], marks: Iterable[tuple[float, str]], height_px: int,
          log_scale: bool, dashed: bool) -> dict[str, Any]:
    """Step lines of `rows` (a frame's second t drawn over (t, t + 1], so a fault at 10 s shades the seconds after
    it) on the y-domain `y`, fault periods as shaded bands, timeline moments as dashed rules numbered at the top."""
    start_s, end_s = domain_s
    layers = band_layer(periods, domain_s) + moment_layers(marks, domain_s)
    scale: dict[str, Any] = {"domain": list(y)}
    if log_scale:
        scale["type"] = "log"
    line: dict[str, Any] = {
        "data": {"values": rows},
        "mark": {"type": "line", "interpolate": "step-before", "point": False, "strokeWidth": 1.8},
        "encoding": {
            "x": {"field": "t", "type": "quantitative", "title": "scenario time (s)",
                  "scale": {"domain": [start_s, end_s]}},
            "y": {"field": "value", "type": "quantitative", "title": None, "scale": scale},
            "color": {"field": "series", "type": "nominal", "title": None,
                      "scale": {"domain": names, "range": list(SERIES_COLOURS[:len(names)])},
                      "legend": top_legend(len(names))},
            "tooltip": [{"field": "t", "title": "t (s)"}, {"field": "series"}, {"field": "value"},
                        {"field": "source"}],
        },
    }
    if dashed:  # the dash tells the lab from the simulation; a marker on each point tells the series apart
        line["encoding"]["strokeDash"] = {
            "field": "source", "type": "nominal", "title": None,
            "scale": {"domain": ["lab", "simulation"], "range": [[1, 0], [5, 4]]},
            "legend": {"orient": "top", "direction": "horizontal"}}
        line["mark"]["point"] = {"size": 14}
        line["encoding"]["shape"] = {"field": "series", "type": "nominal", "title": None,
                                     "scale": {"domain": names}, "legend": None}
    else:
        line["encoding"]["strokeDash"] = dash_encoding("series", names)
    layers.append(line)
    return {
        "title": {"text": title, "fontSize": 12, "anchor": "start"},
        "height": height_px,
        "autosize": {"type": "fit-x", "contains": "padding"},
        "layer": layers,
        "resolve": {"scale": {"color": "independent"}},
    }
