"""Scenarios: pick or upload one, read it, run it on either engine, check its expectations."""

import json

import streamlit as st

from sandbox.catalog import load_scenario, scenario_paths
from sandbox.engine import ENGINES, LabError, RunTooLong, live_broker, run_isolated
from sandbox.model.errors import ScenarioError
from sandbox.model.scenario import parse_scenario_text
from sandbox.present.broker_version import broker_note
from sandbox.present.html_report import html_report
from sandbox.present.markdown import inert_markdown
from sandbox.present.report import run_document
from sandbox.ui import widgets
from sandbox.ui.launch import MAX_UPLOAD_MB

RUN = "scenario_run"
# a simulated run on this server stops after this much wall-clock time (the catalogue's take well under 1 s)
SIM_WALL_CAP_S = 60.0
# a live run stops after this much: its `[live] duration` plus a minute to start the lab fits every catalogue scenario
LIVE_WALL_CAP_S = 600.0


def _chosen_scenario():
    """The scenario the learner picked or uploaded, or None after showing why there is none."""
    source = st.radio("scenario", ["from the catalogue", "upload a TOML file"], horizontal=True,
                      label_visibility="collapsed", key="source")
    if source == "upload a TOML file":
        upload = st.file_uploader("scenario file", type=["toml"], key="upload", max_upload_size=MAX_UPLOAD_MB,
                                  help=f"a scenario is a few kilobytes of TOML; files up to {MAX_UPLOAD_MB} MB are "
                                       "taken")
        if upload is None:
            st.info("Upload a scenario file — the format is in the README and in every file of `scenarios/`.")
            return None
        try:
            return parse_scenario_text(upload.getvalue().decode("utf-8"), upload.name, default_id="uploaded")
        except UnicodeDecodeError:
            st.error(f"{upload.name}: not a text file; a scenario is TOML in UTF-8")
        except ScenarioError as exc:
            st.error(str(exc))
        return None
    catalogue = {}
    for path in scenario_paths():
        try:
            scenario = load_scenario(path)
        except ScenarioError as exc:
            st.error(str(exc))
            continue
        catalogue[scenario.id] = scenario
    picked = st.selectbox("scenario", list(catalogue), key="scenario_id",
                          format_func=lambda sid: f"{sid} — {catalogue[sid].title}")
    return catalogue[picked]


def _describe(scenario, expanded: bool) -> None:
    with st.expander(f"**{inert_markdown(scenario.title)}** — what it does", expanded=expanded):
        st.markdown(inert_markdown(scenario.summary))
        left, right = st.columns(2)
        with left:
            st.markdown("**Variants**")
            for v in scenario.variants:
                knobs = ", ".join(f"`{k} = {val}`" for k, val in v.knobs.items())
                st.markdown(f"- **{inert_markdown(v.name)}** ({v.architecture}){': ' + knobs if knobs else ''}")
        with right:
            st.markdown(f"**Timeline** ({scenario.duration_s:g} s)")
            for a in scenario.timeline:
                st.markdown(f"- {a.at:g} s — {a.describe()}")
            if not scenario.timeline:
                st.markdown("- nothing happens: the steady state")


def _engine_choice() -> str:
    engine = st.segmented_control("engine", list(ENGINES), format_func=ENGINES.__getitem__, default="sim",
                                  key="engine", required=True) or "sim"  # required: never None
    if engine == "live":
        reason, broker = live_broker()
        if reason:
            st.warning(f"The live lab is unavailable: {reason}", icon="🔌")
            return ""
        st.caption(f"The lab runs real processes, {broker} (as its server properties say) and Redis on the wall "
                   "clock (the scenario's `[live] duration`); the simulation's prediction is drawn dashed beside it. "
                   + broker_note(broker))
    return engine


def _run(scenario, engine: str) -> None:
    """Run in a process of its own under a wall-clock and memory cap, so that this session's run cannot stall
    another learner's on the same server."""
    cap_s = LIVE_WALL_CAP_S if engine == "live" else SIM_WALL_CAP_S
    try:
        with st.spinner("running on the live lab…" if engine == "live" else "simulating…"):
            result = run_isolated(scenario, engine, wall_cap_s=cap_s)
            prediction = None
            if engine == "live":
                prediction = run_isolated(scenario.on_live_clock(), wall_cap_s=SIM_WALL_CAP_S).engine.frames()
    except (LabError, ScenarioError, RunTooLong) as exc:
        st.error(str(exc))
        return
    st.session_state[RUN] = (result, prediction)


def _show(result, prediction) -> None:
    s = result.scenario
    widgets.run_result(result, prediction)
    a, b = st.columns(2)
    a.download_button("⬇️ run as JSON", json.dumps(run_document(result), indent=1), f"{s.id}.json",
                      mime="application/json", on_click="ignore", key="download_json")
    b.download_button("⬇️ report (HTML with the charts)", lambda: html_report(result, prediction), f"{s.id}.html",
                      mime="text/html", on_click="ignore", key="download_html")


st.title("🎬 Scenarios")
st.caption("A scenario is data: a load, variants, a timeline of faults and the expectations it must meet. "
           "Run one and check the claims yourself.")
scenario = _chosen_scenario()
if scenario is not None:
    played = st.session_state.get(RUN)
    shown = played is not None and played[0].scenario.id == scenario.id
    with st.container(horizontal=True, vertical_alignment="bottom"):
        engine = _engine_choice()
        clicked = st.button("▶ run", type="primary", disabled=not engine, key="run")
    _describe(scenario, expanded=not shown and not clicked)
    if clicked:
        _run(scenario, engine)
        played, shown = st.session_state.get(RUN), True
    if shown and played is not None:
        _show(*played)
