"""Pieces several pages draw the same way: a finished run (verdicts first, then charts aligned row by row), the
verdict list, the event log."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from sandbox.engine import RunResult
from sandbox.model.expectations import Verdict
from sandbox.present.charts import PANEL_KEYS, moments_legend, shaded_periods, variant_specs
from sandbox.present.markdown import inert_markdown
from sandbox.present.names import moment_words, variant_title
from sandbox.present.report import PHASE_COLUMNS, phase_table
from sandbox.present.verdicts import verdict_line, verdict_summary

_SCROLL_JS = """export default function ({ parentElement, data }) {
  // once per new token: bring this place to the top of the window, where the eye is after a click
  if (parentElement.__scrolledFor === data.token) return;
  parentElement.__scrolledFor = data.token;
  const place = parentElement.host ?? parentElement; // a shadow root's element, when the styles are isolated
  const bring = () => place.scrollIntoView({ block: "start", behavior: "instant" });
  requestAnimationFrame(bring);
  setTimeout(bring, 400); // again once what follows has been drawn, so that the page is long enough to scroll
}"""
_scroll_here = st.components.v2.component("post_office_scroll_here", html="<span></span>", js=_SCROLL_JS)


def scroll_here(token: str, key: str) -> None:
    """Scroll the page so that this place is at the top of the window, once for each new `token` (a result that
    appears below the fold after a click: the verdict of a try)."""
    _scroll_here(data={"token": token}, key=key, height="content")


def event_log(lines: list[tuple[float, str, str]], limit: int = 14) -> None:
    if not lines:
        st.caption("Nothing has happened yet.")
        return
    text = "\n".join(f"{t:8.1f} s  {variant:>8}  {words}" for t, variant, words in lines[-limit:])
    st.code(text, language=None)


def verdicts(items: list[Verdict], duration_s: float) -> None:
    """Each expectation in words (the metric's label, the bound in its unit), what was observed, and why it should
    hold — shown for a passing expectation too."""
    for verdict in items:
        line = verdict_line(verdict, duration_s)
        st.markdown(f"{line.mark} **{line.claim}** — observed **{line.observed}**",
                    help=f"metric `{line.metric}` in the scenario file")
        if line.why:
            st.caption(f"why: {inert_markdown(line.why)}")


def run_result(result: RunResult, prediction: list[dict] | None = None) -> None:
    """A finished run: the verdict and every expectation first, then each panel as a row with a chart per variant on
    one y-axis (the simulation's prediction dashed beside a lab run), the phase tables and the event log."""
    s = result.scenario
    st.markdown(f"## {verdict_summary(result.verdicts)} · {result.engine.name} · seed {result.seed} · "
                f"{result.wall_s:.2f} s wall")
    verdicts(result.verdicts, s.duration_s)
    for note in sorted(set(result.notes)):
        st.caption(f"note: {note}")
    frames = result.engine.frames()
    marks = [(a.at, moment_words(a)) for a in s.timeline]
    names = [v.name for v in s.variants]
    periods = shaded_periods(s.timeline, result.engine.status())
    legend = moments_legend(marks, (0.0, s.duration_s))
    st.caption("Each chart: one value per second of scenario time" + (f"; its numbered moments: {legend}" if legend
                                                                       else ""))
    for column, variant in zip(st.columns(len(names)), s.variants, strict=True):
        column.markdown(f"### {variant_title(variant.name, variant.architecture)}")
    for key in PANEL_KEYS:
        specs = variant_specs(frames, names, key, (0.0, s.duration_s), periods, marks, height_px=130,
                              prediction=prediction)
        for column, name in zip(st.columns(len(names)), names, strict=True):
            column.vega_lite_chart(specs[name], width="stretch")
    st.markdown("**By phase**")
    header = ["phase", *(h for h, _, _ in PHASE_COLUMNS), "what happened"]
    for variant in s.variants:
        st.caption(variant.name)
        rows = phase_table(s, result.engine.measurements(variant.name))
        st.dataframe(pd.DataFrame(rows, columns=header), hide_index=True, width="stretch")
    st.subheader("What happened")
    event_log(result.engine.log(), limit=40)
