"""A run as one self-contained HTML file: phase tables, verdicts and the charts as inline SVG.

No scripts and no outside requests: the charts are the page's Vega-Lite specs rendered to SVG here.
"""

from __future__ import annotations

from html import escape

import vl_convert

from sandbox.engine import RunResult
from sandbox.present.charts import PANEL_KEYS, moments_legend, shaded_periods, variant_specs
from sandbox.present.names import moment_words
from sandbox.present.report import PHASE_COLUMNS, phase_table
from sandbox.present.verdicts import verdict_line, verdict_summary

_STYLE = """
body { font-family: system-ui, sans-serif; max-width: 1100px; margin: 2em auto; color: #222; }
table { border-collapse: collapse; font-size: 0.85em; margin: 0.5em 0 1.5em; }
th, td { border-bottom: 1px solid #ddd; padding: 3px 8px; text-align: right; }
th:first-child, td:first-child, td:last-child { text-align: left; }
.pass { color: #2e7d32; } .fail { color: #c62828; } .why { color: #666; font-size: 0.9em; }
.charts { display: grid; grid-template-columns: 1fr 1fr; gap: 8px; }
"""


def _table(header: list[str], rows: list[list[str]]) -> str:
    head = "".join(f"<th>{escape(h)}</th>" for h in header)
    body = "".join("<tr>" + "".join(f"<td>{escape(c)}</td>" for c in row) + "</tr>" for row in rows)
    return f"<table><tr>{head}</tr>{body}</table>"


def html_report(result: RunResult, prediction: list[dict] | None = None) -> str:
    """The run as HTML; with `prediction` (the simulation's frames), charts overlay it on the lab's."""
    s = result.scenario
    frames = result.engine.frames()
    marks = [(a.at, moment_words(a)) for a in s.timeline]
    parts = [f"<h1>{escape(s.title)}</h1>",
             f"<p>{escape(s.summary)}</p>",
             f"<p>scenario <code>{escape(s.id)}</code> · engine {escape(result.engine.name)} · seed {result.seed} · "
             f"{s.duration_s:g} s of scenario time</p>"]
    if result.verdicts:
        parts.append(f"<h2>{escape(verdict_summary(result.verdicts))}</h2><ul>")
        for verdict in result.verdicts:
            line = verdict_line(verdict, s.duration_s)
            css = "pass" if line.passed else "fail"
            parts.append(f"<li class='{css}'>{line.mark} {escape(line.claim)} — observed {escape(line.observed)}"
                         + (f"<div class='why'>{escape(line.why)}</div>" if line.why else "") + "</li>")
        parts.append("</ul>")
    names = [variant.name for variant in s.variants]
    periods = shaded_periods(s.timeline, result.engine.status())
    specs = {key: variant_specs(frames, names, key, (0.0, s.duration_s), periods, marks, prediction=prediction)
             for key in PANEL_KEYS}
    legend = moments_legend(marks, (0.0, s.duration_s))
    if legend:
        parts.append(f"<p>The charts number the moments: {escape(legend)}</p>")
    header = ["phase", *(h for h, _, _ in PHASE_COLUMNS), "what happened"]
    for variant in s.variants:
        knobs = ", ".join(f"{k} = {v}" for k, v in variant.knobs.items())
        parts.append(f"<h2>{escape(variant.name)} <small>({variant.architecture}"
                     f"{'; ' + escape(knobs) if knobs else ''})</small></h2>")
        parts.append(_table(header, phase_table(s, result.engine.measurements(variant.name))))
        svgs = [vl_convert.vegalite_to_svg(specs[key][variant.name] | {"width": 480}) for key in PANEL_KEYS]
        parts.append("<div class='charts'>" + "".join(f"<div>{svg}</div>" for svg in svgs) + "</div>")
    log = "\n".join(f"{t:8.1f} s  {variant:>8}  {words}" for t, variant, words in result.engine.log())
    parts.append(f"<h2>What happened</h2><pre>{escape(log) or 'nothing notable'}</pre>")
    body = "\n".join(parts)
    return (f"<!doctype html><html><head><meta charset='utf-8'><title>{escape(s.title)}</title>"
            f"<style>{_STYLE}</style></head><body>{body}</body></html>")
