"""Pieces every page draws the same way: the diagram, the tiles, the charts, the log and the verdicts."""

from __future__ import annotations

from collections.abc import Iterable

import pandas as pd
import streamlit as st

from sandbox.engine import RunResult
from sandbox.model.expectations import Verdict
from sandbox.model.periods import Period, fault_periods
from sandbox.model.status import VariantStatus
from sandbox.present.charts import PANEL_KEYS, frames_of, panel_spec
from sandbox.present.diagram import HEALTH_COLOURS, HEALTH_WORDS, topology_dot
from sandbox.present.headlines import Headline
from sandbox.present.report import PHASE_COLUMNS, format_metric, phase_table


def variant_heading(name: str, architecture: str) -> None:
    st.markdown(f"### {name} <span style='font-size:0.6em;color:#777'>{architecture}</span>", unsafe_allow_html=True)


def diagram(status: VariantStatus) -> None:
    st.graphviz_chart(topology_dot(status), width="stretch")


def legend() -> None:
    chips = " ".join(
        f"<span style='background:{fill};border:2px solid {border};border-radius:6px;padding:1px 7px;"
        f"margin-right:4px;font-size:0.8em'>{HEALTH_WORDS[name]}</span>"
        for name, (fill, border) in HEALTH_COLOURS.items())
    st.markdown(chips, unsafe_allow_html=True)


def tiles(items: list[Headline]) -> None:
    for row in (items[:3], items[3:]):
        for column, item in zip(st.columns(len(row)), row, strict=True):
            marker = {True: "🟢 ", False: "🔴 ", None: ""}[item.healthy]
            column.metric(marker + item.label, item.value, help=item.help, border=True)


def charts(frames: list[dict], domain_s: tuple[float, float], periods: Iterable[Period] = (),
           marks: Iterable[tuple[float, str]] = (), panels: tuple[str, ...] = PANEL_KEYS,
           prediction: list[dict] | None = None) -> None:
    periods, marks = list(periods), list(marks)
    for key in panels:
        spec = panel_spec(frames, key, domain_s, periods, marks, prediction=prediction)
        st.vega_lite_chart(spec, width="stretch")


def event_log(lines: list[tuple[float, str, str]], limit: int = 14) -> None:
    if not lines:
        st.caption("Nothing has happened yet — break something.")
        return
    text = "\n".join(f"{t:8.1f} s  {variant:>8}  {words}" for t, variant, words in lines[-limit:])
    st.code(text, language=None)


def verdicts(items: list[Verdict], duration_s: float) -> None:
    for verdict in items:
        e = verdict.expectation
        mark = "✅" if verdict.passed else "❌"
        observed = format_metric(verdict.observed, e.metric)
        st.markdown(f"{mark} **{e.describe(duration_s)}** — observed **{observed}**")
        if e.why:
            st.caption(e.why)


def run_result(result: RunResult, prediction: list[dict] | None = None) -> None:
    """A finished run: the verdicts, each variant's charts (the simulation's prediction dashed beside a lab run),
    the phase tables and the event log."""
    s = result.scenario
    held = sum(v.passed for v in result.verdicts)
    st.markdown(f"#### {'✅' if result.passed else '❌'} {held}/{len(result.verdicts)} expectations hold "
                f"· {result.engine.name} · seed {result.seed} · {result.wall_s:.2f} s wall")
    frames = result.engine.frames()
    marks = [(a.at, a.describe()) for a in s.timeline]
    for column, variant in zip(st.columns(len(s.variants)), s.variants, strict=True):
        with column:
            variant_heading(variant.name, variant.architecture)
            charts(frames_of(frames, variant.name), (0.0, s.duration_s), fault_periods(s.timeline, variant.name),
                   marks, prediction=None if prediction is None else frames_of(prediction, variant.name))
    with st.expander("every expectation: observed value and why", expanded=not result.passed):
        verdicts(result.verdicts, s.duration_s)
    for note in sorted(set(result.notes)):
        st.caption(f"note: {note}")
    st.markdown("**By phase**")
    header = ["phase", *(h for h, _, _ in PHASE_COLUMNS), "what happened"]
    for variant in s.variants:
        st.caption(variant.name)
        rows = phase_table(s, result.engine.measurements(variant.name))
        st.dataframe(pd.DataFrame(rows, columns=header), hide_index=True, width="stretch")
    st.subheader("What happened")
    event_log(result.engine.log(), limit=40)
