"""Playground: the variants side by side on the simulation, running, for the learner to break.

The controls are Streamlit widgets; everything that moves is one component (sandbox/ui/playground_view.py) in a fragment
that a timer reruns every second. A click on a control reruns the page, a click in the view (a part's menu) reruns the
fragment; either applies it and redraws without moving time: only the timer's runs move time.
"""

import time

import streamlit as st

from sandbox.model.commands import DOWN, LATENCY, POISON, RATE, TARGETS, VERBS, Kill, Load, Poison, Revive
from sandbox.model.errors import ScenarioError
from sandbox.model.knobs import KNOBS, READS_PER_S, WRITES_PER_S
from sandbox.model.scenario import SEED
from sandbox.playground import HISTORY_S, MAIN_KNOBS, MAX_VARIANTS, PRESETS, SPEEDS, Playground
from sandbox.present.names import knob_label, target_label
from sandbox.present.playground_view import view_command, view_data
from sandbox.present.tour import STEPS, TARGET, WATCHED_TILE, tour_step
from sandbox.ui import session, tick_log
from sandbox.ui.playground_view import KEY as VIEW
from sandbox.ui.playground_view import draw as draw_view

TICK_S = 1.0
ALL = "every variant"
TOUR = "tour"  # session state of the guided first run: {"open": bool, "watched": bool}
TO_LESSON = "tour_to_lesson"  # the tour's "open lesson 1" was clicked

pg = session.playground()


def _scope() -> str | None:
    chosen = st.session_state.get("scope", ALL)
    return None if chosen == ALL else chosen


def _remember(notes: list[str]) -> None:
    for note in notes:
        st.toast(note, icon="ℹ️")
    session.touched()


@session.page_click
def _act(verb: str) -> None:
    target = st.session_state["target"]
    state = st.session_state
    fields = {  # the inputs a verb reads are on the page whenever its button is
        "restart": lambda: {"down_s": state["down_s"]},
        "latency": lambda: {"ms": state["latency_ms"], "jitter_ms": state["jitter_ms"]},
        "errors": lambda: {"rate": state["error_pct"] / 100.0},
    }.get(verb, dict)()
    with pg.lock:
        _remember(pg.act(VERBS[verb](target=target, variant=_scope(), **fields)))  # type: ignore[call-arg]


@session.page_click
def _poison() -> None:
    with pg.lock:
        _remember(pg.act(Poison(int(st.session_state["poison_count"]), variant=_scope())))


@session.page_click
def _load() -> None:
    with pg.lock:
        _remember(pg.act(Load(reads_per_s=float(st.session_state["reads_per_s"]),
                              writes_per_s=float(st.session_state["writes_per_s"]), variant=_scope())))


@session.page_click
def _set_knob() -> None:
    key = st.session_state["knob_key"]
    try:
        with pg.lock:
            _remember(pg.set_knob(key, st.session_state[f"knob_value:{key}"], _scope()))
    except ScenarioError as exc:
        st.toast(exc.problem, icon="⚠️")


@session.page_click
def _heal_all() -> None:
    with pg.lock:
        _remember(pg.heal_everything() or ["nothing was broken"])


@session.page_click
def _step() -> None:
    with pg.lock:
        speed, pg.speed = pg.speed, SPEEDS["1×"]
        pg.tick(TICK_S)
        pg.speed = speed
    session.touched()


def _restart() -> None:
    session.replace_playground(Playground(tuple(st.session_state["presets"]), seed=int(st.session_state["seed"])))
    st.session_state["speed"] = "1×"
    st.session_state.pop("scrub_s", None)
    session.touched()


def _speed() -> None:
    pg.speed = SPEEDS[st.session_state["speed"]]
    st.session_state.pop("scrub_s", None)
    session.touched()


def _knob_input(key: str) -> None:
    knob = KNOBS[key]
    scope = _scope()
    current = pg.knobs(pg.variants[0].name if scope is None else scope).get(key)
    widget_key = f"knob_value:{key}"
    name = knob_label(key)
    if knob.choices:
        st.selectbox(name, knob.choices, index=knob.choices.index(current), key=widget_key, help=knob.doc)
    elif knob.kind is bool:
        st.toggle(name, value=current, key=widget_key, help=knob.doc)
    elif knob.range is not None and knob.range.whole:
        st.number_input(name, value=int(current), min_value=int(knob.range.minimum),
                        max_value=int(knob.range.maximum), step=1, key=widget_key,
                        help=f"{knob.doc}; {knob.range}")
    elif knob.range is not None:
        st.number_input(name, value=float(current), min_value=float(knob.range.minimum),
                        max_value=float(knob.range.maximum), format="%g", key=widget_key,
                        help=f"{knob.doc}; {knob.range}")


def _more_faults() -> None:
    st.subheader("Slow, fail, restart, poison")
    st.number_input("latency (ms)", int(LATENCY.minimum), int(LATENCY.maximum), 2000, 100, key="latency_ms",
                    help=f"added to every call the target answers; {LATENCY}")
    st.number_input("jitter (ms)", int(LATENCY.minimum), int(LATENCY.maximum), 200, 50, key="jitter_ms",
                    help=f"each call's added latency varies by up to this much; {LATENCY}")
    st.button("🐢 add latency", on_click=_act, args=("latency",), key="do_latency")
    st.slider("error rate (%)", int(RATE.minimum * 100), int(RATE.maximum * 100), 50, key="error_pct",
              help="the share of the target's calls that fail")
    st.button("💥 inject errors", on_click=_act, args=("errors",), key="do_errors")
    st.number_input("down for (s)", float(DOWN.minimum), float(DOWN.maximum), 10.0, 1.0, format="%g", key="down_s",
                    help=f"a restart: the target is down this long, then back; {DOWN}")
    st.button("🔁 restart (a deploy)", on_click=_act, args=("restart",), key="do_restart")
    st.number_input("malformed messages", int(POISON.minimum), int(POISON.maximum), 5, key="poison_count",
                    help=f"published to cache-invalidation, where the cache-worker cannot handle them; {POISON}")
    st.button("☠️ publish poison", on_click=_poison, key="do_poison")


def _load_and_knobs() -> None:
    st.subheader("Load")
    knobs = pg.knobs(pg.variants[0].name)
    st.number_input(knob_label("load.reads_per_s"), float(READS_PER_S.minimum), float(READS_PER_S.maximum),
                    float(knobs.load.reads_per_s), 5.0, format="%g", key="reads_per_s", help=str(READS_PER_S))
    st.number_input(knob_label("load.writes_per_s"), float(WRITES_PER_S.minimum), float(WRITES_PER_S.maximum),
                    float(knobs.load.writes_per_s), 1.0, format="%g", key="writes_per_s", help=str(WRITES_PER_S))
    st.button("📈 apply load", on_click=_load, key="do_load")
    st.subheader("Knobs")
    others = sorted((k for k in KNOBS if k not in MAIN_KNOBS and not k.startswith("load.")), key=knob_label)
    key = st.selectbox("knob", [*MAIN_KNOBS, *others], key="knob_key", format_func=knob_label,
                       help="the main knobs first; `python -m sandbox knobs` lists them all by their keys")
    st.caption(f"{KNOBS[key].doc} (in a scenario file: `{key}`)")
    _knob_input(key)
    st.button("⚙️ set knob", on_click=_set_knob, key="do_set")


def controls() -> None:
    """The sidebar: the everyday faults always; the rest when asked for (fewer widgets is a faster click, and less
    to read on a first visit)."""
    with st.sidebar:
        st.subheader("Break something")
        st.selectbox("in", [ALL, *(v.name for v in pg.variants)], key="scope")
        st.selectbox("target", TARGETS, key="target", index=TARGETS.index("user"), format_func=target_label)
        a, b = st.columns(2)
        for column, verb, icon in ((a, "kill", "💀"), (b, "revive", "💚"), (a, "hang", "🕳️"), (b, "heal", "🩹")):
            column.button(f"{icon} {verb}", on_click=_act, args=(verb,), width="stretch", key=f"do_{verb}")
        st.button("✨ heal everything", on_click=_heal_all, type="primary", width="stretch", key="heal_all")
        if st.toggle("more: latency, errors, restart, poison, load, knobs", key="more_controls"):
            _more_faults()
            _load_and_knobs()


def _variants_popover() -> None:
    with st.popover("⚙️ variants & seed"):
        st.multiselect(f"variants (1 to {MAX_VARIANTS})", list(PRESETS), default=list(pg.presets),
                       max_selections=MAX_VARIANTS, key="presets",
                       help="\n".join(f"- **{n}**: {p[2]}" for n, p in PRESETS.items()))
        st.number_input("seed", int(SEED.minimum), int(SEED.maximum), pg.base.seed, key="seed",
                        help=f"the same seed replays the same run; {SEED}")
        chosen = tuple(st.session_state.get("presets") or ())
        changed = chosen != pg.presets or st.session_state.get("seed", pg.base.seed) != pg.base.seed
        st.button("↺ restart with these", on_click=_restart, key="reset", disabled=not chosen,
                  type="primary" if changed else "secondary")
        st.caption("A change applies when you restart: the playground starts again from 0 s with these variants "
                   "and seed, and its recording begins anew." if changed else
                   "Restarting starts again from 0 s; save the recording first if you want it.")


def header() -> None:
    if st.session_state.pop("paused_idle", False):
        st.toast("Paused after 10 minutes without input; pick a speed to go on.", icon="⏸️")
    if st.session_state.get("speed") != pg.speed_name:  # the playground paused itself, or a refresh
        st.session_state["speed"] = pg.speed_name
    with st.container(horizontal=True, vertical_alignment="center", gap="small"):
        st.markdown("# Playground", width="content")
        st.segmented_control("speed", list(SPEEDS), key="speed", on_change=_speed,
                             required=True, label_visibility="collapsed")
        st.button("⏭ step 1 s", on_click=_step, key="step", help="advance one second of scenario time")
        _variants_popover()
        st.download_button("💾 save as scenario", data=pg.recording_toml, file_name="playground.toml",
                           mime="application/toml", on_click="ignore", key="save",
                           help="a scenario TOML that `python -m sandbox run playground.toml` replays to the same "
                                "numbers")


def _tour_state() -> dict:
    return st.session_state.setdefault(TOUR, {"open": st.query_params.get(TOUR) != "done", "watched": False})


def _close_tour() -> None:
    _tour_state()["open"] = False
    st.query_params[TOUR] = "done"


@session.page_click
def _tour_act(command_type: type) -> None:
    with pg.lock:
        pg.act(command_type(target=TARGET))
    session.touched()


@session.page_click
def _want_lesson() -> None:
    """The tour's last button, as a callback (a click that lands in a timer's run of the view is applied once, by the
    page's run); the page then leaves for the lesson."""
    st.session_state[TO_LESSON] = True


def tour_highlight() -> tuple[str, ...]:
    """The tiles the guided first run points at now."""
    state = _tour_state()
    if not state["open"] or tour_step(pg.recorded, state["watched"]) != 1:
        return ()
    return (WATCHED_TILE,)


def tour() -> None:
    """The guided first run, while it is open."""
    state = _tour_state()
    if not state["open"]:
        return
    index = tour_step(pg.recorded, state["watched"])
    st.session_state["tour_step"] = index
    step = STEPS[index]
    with st.container(border=True, key="tour", horizontal=True, vertical_alignment="center", gap="small"):
        st.markdown(f"**First run {index + 1}/{len(STEPS)} · {step.title}.** :small[{step.text}]", width=560)
        if index == 0:
            st.button("💀 kill the User Service", type="primary", on_click=_tour_act,
                      args=(Kill,), key="tour_kill")
        elif index == 1:
            st.button("seen it →", on_click=lambda: state.update(watched=True), key="tour_next")
        elif index == 2:
            st.button("💚 revive the User Service", type="primary", on_click=_tour_act,
                      args=(Revive,), key="tour_revive")
        else:
            st.button("📚 open lesson 1", type="primary", on_click=_want_lesson, key="tour_lesson")
        st.button("skip the tour", on_click=_close_tour, key="tour_skip", type="tertiary")
    if st.session_state.pop(TO_LESSON, False):
        _close_tour()
        lessons = session.lessons()
        if isinstance(lessons, list) and lessons:
            st.session_state["lesson_id"] = lessons[0].id
        st.switch_page("views/lessons.py")


def _scrub_window() -> tuple[int, int] | None:
    """The seconds a paused playground can be scrubbed over; None while it runs."""
    end = int(pg.now)
    start = max(0, end - HISTORY_S)
    return None if pg.speed > 0 or end - start < 2 else (start, end)


def scrubbed_second() -> int | None:
    """The second the scrubber shows (kept within the window), or None for now."""
    window = _scrub_window()
    if window is None:
        st.session_state.pop("scrub_s", None)
        return None
    start, end = window
    chosen = st.session_state.get("scrub_s", end)
    if chosen == st.session_state.get("scrub_end") or not start <= chosen <= end:
        chosen = end  # the slider was at "now" (or fell out of the window): it stays at now as time moves
    st.session_state["scrub_s"], st.session_state["scrub_end"] = chosen, end
    return None if chosen == end else chosen


def scrubber() -> None:
    """While paused, a slider back over the last HISTORY_S seconds."""
    window = _scrub_window()
    if window is not None:
        start, end = window
        st.select_slider(f"look back over the last {end - start} s", options=range(start, end + 1), key="scrub_s",
                         format_func=lambda s: f"{s:,} s" if s < end else f"{s:,} s (now)",
                         label_visibility="collapsed",
                         help="paused: drag back to see the diagram, tiles and story as they were at that second")


def _view_act() -> None:
    """A part of a diagram was clicked and a verb chosen: apply it once (the click's id is kept), and draw without
    moving time."""
    request = st.session_state[VIEW].act
    seen = st.session_state.setdefault("view_clicks", set())
    st.session_state["view_click"] = True
    if not isinstance(request, dict) or request.get("id") in seen:
        return
    seen.add(request.get("id"))
    try:
        command = view_command(request, [v.name for v in pg.variants])
    except ScenarioError as exc:
        st.toast(exc.problem, icon="⚠️")
        return
    with pg.lock:
        _remember(pg.act(command))


def live(at_s: int | None, highlight: tuple[str, ...]) -> None:
    started = time.perf_counter()
    fragment_run = session.in_fragment_run()  # the page's runs (a click on a control) draw and move no time
    ticking = fragment_run and not st.session_state.pop("view_click", False)  # nor does a click in the view
    paused_now = False
    with pg.lock:
        if ticking and pg.idle(time.monotonic()):
            pg.speed, paused_now = 0.0, True
            st.session_state["paused_idle"] = True
        elif ticking:
            pg.tick(TICK_S)
        if pg.at_limit:
            st.warning(f"This playground stopped: {pg.limit_reason}. Save it as a scenario if you want it, then "
                       "restart.")
        draw_view(view_data(pg, HISTORY_S, at_s, highlight), on_act=_view_act)
        tour = _tour_state()
        tour_moved = tour["open"] and tour_step(pg.recorded, tour["watched"]) != st.session_state.get(
            "tour_step")
    if ticking:
        tick_log.record((time.perf_counter() - started) * 1000)
    if fragment_run and (paused_now or (ticking and pg.at_limit) or tour_moved):
        st.rerun(scope="app")  # the page around the view changes too: the timer stops, or the tour moves on


top = st.container()  # drawn after the playground view, so a click's effect reaches the browser first
running = pg.speed > 0 and not pg.at_limit
st.fragment(live, run_every=TICK_S if running else None)(scrubbed_second(), tour_highlight())
with top:
    header()
    tour()
    scrubber()
controls()
