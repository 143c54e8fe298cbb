"""Vega-Lite chart specs from per-second frames, with fault periods shaded and timeline moments marked.

Plain dicts, so the page draws them with `st.vega_lite_chart` and the report renders the same spec to SVG.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from sandbox.model.periods import Period

Frame = dict[str, Any]


def _rate(kind: str) -> Callable[[Frame], float | None]:
    def error_pct(frame: Frame) -> float | None:
        ok, errors = frame.get(f"{kind}.ok") or 0, frame.get(f"{kind}.errors") or 0
        return 100.0 * errors / (ok + errors) if ok + errors else None
    return error_pct


def _metric(name: str) -> Callable[[Frame], float | None]:
    return lambda frame: frame.get(name)


@dataclass(frozen=True)
class Panel:
    key: str
    title: str
    series: tuple[tuple[str, Callable[[Frame], float | None]], ...]
    log_scale: bool = False


PANELS = (
    Panel("latency", "latency (ms, log scale)", (("read p50", _metric("read.p50_ms")),
                                                 ("read p99", _metric("read.p99_ms")),
                                                 ("write p99", _metric("write.p99_ms"))), log_scale=True),
    Panel("errors", "failed requests (%)", (("reads", _rate("read")), ("writes", _rate("write")))),
    Panel("queue", "queue depth (messages)", (("ready", _metric("queue.ready")),
                                              ("unacked", _metric("queue.unacked")),
                                              ("outbox", _metric("outbox.pending")))),
    Panel("staleness", "staleness", (("oldest unapplied write (s)", _metric("staleness.max_s")),
                                     ("stale reads per s", _metric("read.stale")))),
)
PANEL_KEYS = tuple(p.key for p in PANELS)

_FAULT_COLOURS = {"down": "#c62828", "hung": "#7b4fb0", "latency": "#b8860b", "errors": "#d2691e"}
_SERIES_COLOURS = ("#1f77b4", "#d62728", "#2ca02c")


def panel(key: str) -> Panel:
    return next(p for p in PANELS if p.key == key)


def frames_of(frames: Iterable[Frame], variant: str) -> list[Frame]:
    """One variant's rows of an engine's frames."""
    return [f for f in frames if f.get("variant") == variant]


def panel_rows(frames: Iterable[Frame], chosen: Panel, source: str = "measured") -> list[dict[str, Any]]:
    """Long-form rows {t, series, value, source} for one panel; a second with nothing measured has no row."""
    rows = []
    for frame in frames:
        for name, value_of in chosen.series:
            value = value_of(frame)
            if value is not None and not (chosen.log_scale and value <= 0):
                rows.append({"t": frame["t"] + 1, "series": name, "value": round(float(value), 3), "source": source})
    return rows


def panel_spec(frames: list[Frame], key: str, domain_s: tuple[float, float], periods: Iterable[Period] = (),
               marks: Iterable[tuple[float, str]] = (), height_px: int = 150,
               prediction: list[Frame] | None = None) -> dict[str, Any]:
    """One panel of one variant as a Vega-Lite spec: a line per series over `domain_s`, faults shaded,
    moments as rules. With `prediction` (the simulation's frames of the same run), the lab's lines are solid
    and the simulation's dashed."""
    chosen = panel(key)
    rows = panel_rows(frames, chosen, "lab" if prediction is not None else "measured")
    if prediction is not None:
        rows += panel_rows(prediction, chosen, "simulation")
    names = [name for name, _ in chosen.series]
    return _spec(chosen.title, rows, names, domain_s, periods, marks, height_px, chosen.log_scale,
                 dashed=prediction is not None)


def comparison_spec(frames: list[Frame], metric: str, variants: list[str], domain_s: tuple[float, float],
                    periods: Iterable[Period] = (), marks: Iterable[tuple[float, str]] = (),
                    height_px: int = 150) -> dict[str, Any]:
    """One per-second metric with a line per variant, to compare the architectures on one axis."""
    rows = [{"t": f["t"] + 1, "series": f["variant"], "value": round(float(f[metric]), 3), "source": "measured"}
            for f in frames if f.get(metric) is not None and f.get("variant") in variants]
    return _spec(metric, rows, variants, domain_s, periods, marks, height_px, log_scale=False, dashed=False)


def _spec(title: str, rows: list[dict[str, Any]], names: list[str], domain_s: tuple[float, float],
          periods: Iterable[Period], marks: Iterable[tuple[float, str]], height_px: int, log_scale: bool,
          dashed: bool) -> dict[str, Any]:
    """Lines of `rows` (a frame's second t drawn at its end, t + 1, so a fault at 10 s shades the seconds
    after it), fault periods as shaded bands, timeline moments as dashed rules."""
    start_s, end_s = domain_s
    layers: list[dict[str, Any]] = []
    bands = [{"start": max(p.start_s, start_s), "end": min(end_s if p.end_s is None else p.end_s, end_s),
              "fault": p.label, "kind": p.kind}
             for p in periods if (p.end_s is None or p.end_s > start_s) and p.start_s < end_s]
    if bands:
        layers.append({
            "data": {"values": bands},
            "mark": {"type": "rect", "opacity": 0.13},
            "encoding": {
                "x": {"field": "start", "type": "quantitative", "scale": {"domain": [start_s, end_s]}},
                "x2": {"field": "end"},
                "color": {"field": "kind", "type": "nominal", "legend": None,
                          "scale": {"domain": list(_FAULT_COLOURS), "range": list(_FAULT_COLOURS.values())}},
                "tooltip": [{"field": "fault", "title": "fault"}],
            },
        })
    rules = [{"t": t, "what": text} for t, text in marks if start_s <= t <= end_s]
    if rules:
        layers.append({
            "data": {"values": rules},
            "mark": {"type": "rule", "strokeDash": [4, 3], "color": "#555555"},
            "encoding": {"x": {"field": "t", "type": "quantitative"}, "tooltip": [{"field": "what"}]},
        })
    line: dict[str, Any] = {
        "data": {"values": rows},
        "mark": {"type": "line", "interpolate": "monotone", "point": False, "strokeWidth": 1.8},
        "encoding": {
            "x": {"field": "t", "type": "quantitative", "title": "scenario time (s)",
                  "scale": {"domain": [start_s, end_s]}},
            "y": {"field": "value", "type": "quantitative", "title": None,
                  "scale": {"type": "log"} if log_scale else {"zero": True, "domain": {"unionWith": [0, 1]}}},
            "color": {"field": "series", "type": "nominal", "title": None,
                      "scale": {"domain": names, "range": list(_SERIES_COLOURS[:len(names)])},
                      "legend": {"orient": "top", "direction": "horizontal"}},
            "tooltip": [{"field": "t", "title": "t (s)"}, {"field": "series"}, {"field": "value"},
                        {"field": "source"}],
        },
    }
    if dashed:
        line["encoding"]["strokeDash"] = {
            "field": "source", "type": "nominal", "title": None,
            "scale": {"domain": ["lab", "simulation"], "range": [[1, 0], [5, 4]]},
            "legend": {"orient": "top", "direction": "horizontal"}}
    layers.append(line)
    return {
        "title": {"text": title, "fontSize": 12, "anchor": "start"},
        "height": height_px,
        "autosize": {"type": "fit-x", "contains": "padding"},
        "layer": layers,
        "resolve": {"scale": {"color": "independent"}},
    }
