"""Pieces every page draws the same way: the diagram, the tiles, the charts, the log and the verdicts."""

from __future__ import annotations

from collections.abc import Iterable

import streamlit as st

from sandbox.charts import PANEL_KEYS, panel_spec
from sandbox.diagram import HEALTH_COLOURS, HEALTH_WORDS, topology_dot
from sandbox.headlines import Headline
from sandbox.model.expectations import Verdict
from sandbox.model.periods import Period
from sandbox.model.status import VariantStatus
from sandbox.report import format_metric


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
        st.vega_lite_chart(spec, width="stretch", height=spec["height"])


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
