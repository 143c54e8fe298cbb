"""Playground: the variants side by side on the simulation, running, for the learner to break."""

import time

import streamlit as st

from sandbox.model.commands import TARGETS, VERBS, Load, Poison
from sandbox.model.errors import ScenarioError
from sandbox.model.knobs import KNOBS
from sandbox.model.periods import fault_periods
from sandbox.playground import MAIN_KNOBS, MAX_VARIANTS, PRESETS, SPEEDS, Playground
from sandbox.present.charts import PANEL_KEYS, variant_specs
from sandbox.present.diagram import topology_dot
from sandbox.present.headlines import headlines
from sandbox.present.names import variant_title
from sandbox.ui import session, widgets

TICK_S = 1.0
WINDOW_S = 120

pg = session.playground()
ALL = "every variant"


def _scope() -> str | None:
    chosen = st.session_state.get("scope", ALL)
    return None if chosen == ALL else chosen


def _remember(notes: list[str]) -> None:
    st.session_state["notes"] = notes
    session.touched()


def _act(verb: str) -> None:
    target = st.session_state["target"]
    fields = {
        "restart": {"down_s": st.session_state["down_s"]},
        "latency": {"ms": st.session_state["latency_ms"], "jitter_ms": st.session_state["jitter_ms"]},
        "errors": {"rate": st.session_state["error_pct"] / 100.0},
    }.get(verb, {})
    _remember(pg.act(VERBS[verb](target=target, variant=_scope(), **fields)))  # type: ignore[call-arg]


def _poison() -> None:
    _remember(pg.act(Poison(int(st.session_state["poison_count"]), variant=_scope())))


def _load() -> None:
    _remember(pg.act(Load(reads_per_s=float(st.session_state["reads_per_s"]),
                          writes_per_s=float(st.session_state["writes_per_s"]), variant=_scope())))


def _set_knob() -> None:
    key = st.session_state["knob_key"]
    try:
        _remember(pg.set_knob(key, st.session_state[f"knob_value:{key}"], _scope()))
    except ScenarioError as exc:
        st.session_state["notes"] = [exc.problem]


def _heal_all() -> None:
    _remember(pg.heal_everything() or ["nothing was broken"])


def _step() -> None:
    speed, pg.speed = pg.speed, 1.0
    pg.tick(TICK_S)
    pg.speed = speed
    session.touched()


def _reset() -> None:
    session.replace_playground(Playground(tuple(st.session_state["presets"]), seed=int(st.session_state["seed"])))
    st.session_state["notes"] = []
    st.session_state["speed"] = "1×"
    session.touched()


def _speed() -> None:
    pg.speed = SPEEDS[st.session_state["speed"] or "pause"]
    session.touched()


def _knob_input(key: str) -> None:
    knob = KNOBS[key]
    current = pg.knobs(pg.variants[0].name if _scope() is None else _scope()).get(key)
    widget_key = f"knob_value:{key}"
    if knob.choices:
        st.selectbox("value", knob.choices, index=knob.choices.index(current), key=widget_key)
    elif knob.kind is bool:
        st.toggle("value", value=current, key=widget_key)
    elif knob.range is not None and knob.range.whole:
        st.number_input("value", value=int(current), min_value=int(knob.range.minimum),
                        max_value=int(knob.range.maximum), step=1, key=widget_key)
    elif knob.range is not None:
        st.number_input("value", value=float(current), min_value=float(knob.range.minimum),
                        max_value=float(knob.range.maximum), key=widget_key)


def controls() -> None:
    with st.sidebar:
        st.subheader("Break something")
        st.selectbox("on", [ALL, *(v.name for v in pg.variants)], key="scope")
        st.selectbox("target", TARGETS, key="target", index=TARGETS.index("user"))
        a, b = st.columns(2)
        a.button("💀 kill", on_click=_act, args=("kill",), width="stretch", key="do_kill")
        b.button("💚 revive", on_click=_act, args=("revive",), width="stretch", key="do_revive")
        a.button("🕳️ hang", on_click=_act, args=("hang",), width="stretch", key="do_hang")
        b.button("🩹 heal", on_click=_act, args=("heal",), width="stretch", key="do_heal")
        with st.expander("latency, errors, restart, poison"):
            st.number_input("latency (ms)", 0.0, 60000.0, 2000.0, 100.0, key="latency_ms")
            st.number_input("jitter (ms)", 0.0, 60000.0, 200.0, 50.0, key="jitter_ms")
            st.button("🐢 add latency", on_click=_act, args=("latency",), key="do_latency")
            st.slider("error rate (%)", 0, 100, 50, key="error_pct")
            st.button("💥 inject errors", on_click=_act, args=("errors",), key="do_errors")
            st.number_input("down for (s)", 1.0, 600.0, 10.0, 1.0, key="down_s")
            st.button("🔁 restart (a deploy)", on_click=_act, args=("restart",), key="do_restart")
            st.number_input("malformed messages", 1, 1000, 5, key="poison_count")
            st.button("☠️ publish poison", on_click=_poison, key="do_poison")
        st.button("✨ heal everything", on_click=_heal_all, type="primary", width="stretch", key="heal_all")

        st.subheader("Load")
        knobs = pg.knobs(pg.variants[0].name)
        st.number_input("reads per second", 0.0, 2000.0, float(knobs.load.reads_per_s), 5.0, key="reads_per_s")
        st.number_input("writes per second", 0.0, 500.0, float(knobs.load.writes_per_s), 1.0, key="writes_per_s")
        st.button("📈 apply load", on_click=_load, key="do_load")

        st.subheader("Knobs")
        others = sorted(k for k in KNOBS if k not in MAIN_KNOBS and not k.startswith("load."))
        key = st.selectbox("knob", [*MAIN_KNOBS, *others], key="knob_key",
                           help="the main knobs first; `python -m sandbox knobs` lists them all")
        st.caption(KNOBS[key].doc)
        _knob_input(key)
        st.button("⚙️ set knob", on_click=_set_knob, key="do_set")


def header() -> None:
    st.title("📮 Playground")
    st.caption("Two versions of one blog flow run side by side on the simulation. Break a part in the sidebar "
               "and watch the sync side cascade while the queue side keeps serving. Every action is recorded.")
    top = st.columns([3, 2, 1, 1, 2], vertical_alignment="bottom")
    with top[0]:
        st.multiselect("variants (restarts the playground)", list(PRESETS), default=list(pg.presets),
                       max_selections=MAX_VARIANTS, key="presets",
                       format_func=lambda name: name, help="\n".join(f"- **{n}**: {p[2]}" for n, p in PRESETS.items()))
    with top[1]:
        speed_name = next((n for n, s in SPEEDS.items() if s == pg.speed), "1×")
        st.segmented_control("speed", list(SPEEDS), default=speed_name, key="speed", on_change=_speed)
    top[2].number_input("seed", 0, 10_000, pg.base.seed, key="seed")
    top[3].button("⏭ step 1 s", on_click=_step, key="step", help="advance one second of scenario time")
    with top[4]:
        a, b = st.columns(2)
        a.button("↺ reset", on_click=_reset, key="reset", disabled=not st.session_state.get("presets"))
        b.download_button("💾 save as scenario", data=pg.recording_toml, file_name="playground.toml",
                          mime="application/toml", on_click="ignore", key="save",
                          help="a scenario TOML that `python -m sandbox run playground.toml` replays to the "
                               "same numbers")
    for note in st.session_state.get("notes", []):
        st.info(note, icon="ℹ️")


def variant_column(name: str, statuses, specs: dict[str, dict[str, dict]]) -> None:
    status = statuses[name]
    st.markdown(f"### {variant_title(name, status.architecture)}")
    st.graphviz_chart(topology_dot(status), width="stretch")
    for row in (items := headlines(pg.engine.measurements(name), status, pg.now))[:3], items[3:]:
        for column, item in zip(st.columns(len(row)), row, strict=True):
            marker = {True: "🟢 ", False: "🔴 ", None: ""}[item.healthy]
            column.metric(marker + item.label, item.value, help=item.help, border=True)
    for key in PANEL_KEYS:
        st.vega_lite_chart(specs[key][name], width="stretch")
    with st.expander("predicted by queueing theory"):
        for load in pg.predicted_loads(name):
            st.markdown(("🔥 " if load.utilisation >= 1 else "• ") + load.explain())
        st.caption("utilisation = arrival rate × how long each request holds a worker ÷ workers; "
                   "the hold time counts every synchronous call the request waits on")


def live() -> None:
    if st.session_state.pop("full_run", False):
        pass  # a click re-ran the whole page: draw, but only a timer's run moves time
    elif pg.idle(time.monotonic()):
        pg.speed = 0.0
        st.session_state["notes"] = ["Paused after 10 minutes without input; pick a speed to go on."]
    else:
        pg.tick(TICK_S)
    if pg.at_limit:
        st.warning("This playground reached two hours of scenario time. Save it as a scenario if you want it, "
                   "then reset.")
    st.markdown(f"**t = {pg.now:,.1f} s** · speed {next((n for n, s in SPEEDS.items() if s == pg.speed), '?')}")
    statuses = pg.engine.status()
    start, frames = pg.recent_frames(WINDOW_S)
    names = [v.name for v in pg.variants]
    periods = {name: fault_periods(pg.recorded, name) for name in names}
    specs = {key: variant_specs(frames, names, key, (float(start), max(pg.now, start + 10)), periods)
             for key in PANEL_KEYS}
    for column, variant in zip(st.columns(len(pg.variants)), pg.variants, strict=True):
        with column:
            variant_column(variant.name, statuses, specs)
    st.subheader("What happened")
    widgets.event_log(pg.engine.log())


controls()
header()
st.session_state["full_run"] = True
running = pg.speed > 0 and not pg.at_limit
st.fragment(live, run_every=TICK_S if running else None)()
