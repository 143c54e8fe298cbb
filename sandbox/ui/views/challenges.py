"""Challenges: a broken system and a goal; change the design (not the timeline) until every goal holds."""

import streamlit as st

from sandbox.model.knobs import KNOBS
from sandbox.model.periods import fault_periods
from sandbox.present.charts import comparison_spec
from sandbox.present.names import knob_label
from sandbox.teach.challenge_run import (
    JUDGED_SEEDS,
    Attempt,
    against_par,
    attempt,
    is_real_attempt,
    reference_opens,
)
from sandbox.teach.challenges import VARIANT, Challenge, ChallengeError, load_challenges
from sandbox.teach.lessons import lesson_ids
from sandbox.ui import code_challenge, widgets

OPEN_LESSON = "open_lesson"  # the lessons page opens the lesson whose id it finds here


@st.cache_resource(show_spinner="working out par: the reference design on every seed…")
def _reference(challenge_id: str) -> Attempt:
    """The reference design's try on the judged seeds: the par every cost is compared with (the same for all)."""
    challenge = next(c for c in load_challenges() if c.id == challenge_id)
    return attempt(challenge, challenge.solution)


@st.cache_resource
def _challenges() -> list[Challenge] | str:
    """Every challenge (shared by all sessions: they never change while the app runs), or the loader's message."""
    try:
        return load_challenges()
    except ChallengeError as exc:
        return str(exc)


def _key(challenge: Challenge, name: str) -> str:
    """A widget's key: the challenge's id and the knob, so each challenge keeps its own design."""
    return f"{challenge.id}__{name.replace('.', '_')}"


def _step(knob_range) -> float | int:
    """How much one click of the number input's arrows changes the value."""
    if knob_range.whole:
        return 1
    if knob_range.maximum >= 1000:
        return 10.0
    return 0.5 if knob_range.maximum >= 10 else 0.05


def _start_values(challenge: Challenge) -> None:
    """Fill the design's widgets with the start design (the first visit, or back to the start)."""
    start = challenge.knobs_of(challenge.start)
    st.session_state[_key(challenge, "architecture")] = challenge.start.architecture
    for name in challenge.constraints.knobs:
        value = start.get(name)
        st.session_state[_key(challenge, name)] = value


def _editor(challenge: Challenge) -> None:
    constraints = challenge.constraints
    if _key(challenge, "architecture") not in st.session_state:
        _start_values(challenge)
    if len(constraints.architectures) > 1:
        st.radio("architecture", constraints.architectures, key=_key(challenge, "architecture"), horizontal=True,
                 help="sync: services call each other over HTTP and wait for the answer; queue: services "
                      "exchange messages through RabbitMQ and a worker consumes them")
    else:
        st.caption(f"architecture: {constraints.architectures[0]} (fixed by the rules)")
    for name in constraints.knobs:
        knob = KNOBS[name]
        key = _key(challenge, name)
        if knob.choices:
            st.selectbox(knob_label(name), knob.choices, key=key, help=f"{knob.doc} (`{name}`)")
        elif knob.range is None:
            st.toggle(knob_label(name), key=key, help=f"{knob.doc} (`{name}`)")
        else:
            allowed = constraints.input_range(name)
            kind = int if allowed.whole else float
            low, high = kind(allowed.minimum), kind(allowed.maximum)
            st.number_input(knob_label(name), min_value=low, max_value=high, step=_step(allowed), key=key,
                            format=None if allowed.whole else "%g",
                            help=f"{knob.doc} (`{name}`). Allowed here: {allowed}.")


def _try(challenge: Challenge) -> None:
    changes = {name: st.session_state[_key(challenge, name)] for name in challenge.constraints.knobs}
    design = challenge.with_changes(st.session_state[_key(challenge, "architecture")], changes)
    result = attempt(challenge, design)
    st.session_state["challenge_attempt"] = (challenge.id, result)
    tries = st.session_state.setdefault("challenge_tries", {})
    tries[challenge.id] = tries.get(challenge.id, 0) + 1
    if is_real_attempt(challenge, result):
        real = st.session_state.setdefault("challenge_real_tries", {})
        real[challenge.id] = real.get(challenge.id, 0) + 1
    if result.passed:
        st.session_state.setdefault("challenges_solved", set()).add(challenge.id)


def _more_hint(challenge: Challenge) -> None:
    key = f"hints:{challenge.id}"
    st.session_state[key] = min(st.session_state.get(key, 0) + 1, len(challenge.hints))


def _result(challenge: Challenge, tried: Attempt) -> None:
    if tried.result is None:
        st.error("This design breaks the rules, so it did not run:\n\n" + "\n".join(f"- {v}" for v in tried.violations),
                 icon="🚫")
        return
    result = tried.result
    assert result is not None
    goals, seeds = len(result.verdicts), len(tried.runs)
    if tried.passed:
        st.success(f"Solved: all {goals} goals hold on all {seeds} seeds with {tried.design.describe()}.", icon="🏆")
    else:
        failed = ", ".join(str(seed) for seed in tried.failed_seeds)
        st.error(f"Not yet: {tried.held} of {goals} goals hold on every seed with {tried.design.describe()}. "
                 f"It failed on {len(tried.failed_seeds)} of {seeds} seeds ({failed}); below is seed {tried.seed}.",
                 icon="🔧")
    spent = against_par(challenge, tried, _reference(challenge.id)) if tried.passed and challenge.costs else []
    if spent:
        st.markdown("**What it cost**, against par (the reference design):")
        for line in spent:
            verdict = "at par" if line.yours == line.par else "under par" if line.yours < line.par else "over par"
            st.markdown(f"- ⛳ {line.describe()} — **{verdict}**")
    widgets.verdicts(result.verdicts, challenge.scenario.duration_s)
    frames = result.engine.frames()
    timeline = challenge.scenario.timeline
    marks = [(a.at, a.describe()) for a in timeline]
    periods = fault_periods(list(timeline))
    for column, metric in zip(st.columns(min(len(challenge.watch), 2)) * 2, challenge.watch, strict=False):
        with column:
            spec = comparison_spec(frames, metric, [VARIANT], (0.0, challenge.scenario.duration_s), periods, marks)
            st.vega_lite_chart(spec, width="stretch")


st.title("🧩 Challenges")
if code_challenge.chosen():
    code_challenge.page()
    st.stop()
challenges = _challenges()
if isinstance(challenges, str):
    st.error(challenges)
    st.stop()
by_id = {c.id: c for c in challenges}
ids = list(by_id)
solved = st.session_state.get("challenges_solved", set())
# the labels never change (a ✅ in one would make the browser see new options and fall back to the first)
chosen_id = st.sidebar.radio("challenge", ids, key="challenge_id",
                             format_func=lambda i: f"{ids.index(i) + 1}. {by_id[i].title}")
numbers = ", ".join(str(ids.index(i) + 1) for i in ids if i in solved)
st.sidebar.caption(f"{len(solved)} of {len(ids)} solved in this session" + (f": ✅ {numbers}" if numbers else ""))
challenge = by_id[chosen_id]
st.header(challenge.title)
if challenge.id in solved:
    st.caption("solved in this session ✅")
st.markdown(challenge.brief)
if challenge.lesson_id and st.button(f"📚 the lesson behind it: {lesson_ids()[challenge.lesson_id]}",
                                    key="challenge_lesson"):
    st.session_state[OPEN_LESSON] = challenge.lesson_id
    st.switch_page("views/lessons.py")

goal, rules = st.columns(2)
with goal:
    st.markdown("**The goal** (every line must hold):")
    for e in challenge.scenario.expectations:
        st.markdown(f"- {e.describe(challenge.scenario.duration_s).removeprefix(VARIANT + ' ')} — {e.why}")
    events = "; ".join(f"{a.at:g} s {a.describe()}" for a in challenge.scenario.timeline)
    st.caption(f"What happens, and when: {events}")
with rules:
    st.markdown("**The rules**: what you may change, and within what.")
    for line in challenge.constraints.describe():
        st.markdown(f"- {line}")

st.subheader("Your design")
_editor(challenge)
left, right = st.columns([1, 1])
st.caption(f"Every try runs the challenge on {JUDGED_SEEDS} seeds (different timings and failures); it is solved "
           "only when every goal holds on all of them.")
left.button("▶ try it", type="primary", on_click=_try, args=(challenge,), key="try_challenge")
right.button("↺ back to the start design", on_click=_start_values, args=(challenge,), key="reset_design")

shown = st.session_state.get(f"hints:{challenge.id}", 0)
for number, hint in enumerate(challenge.hints[:shown], start=1):
    st.info(f"Hint {number}: {hint}", icon="💡")
if shown < len(challenge.hints):
    st.button(f"💡 a hint ({shown + 1} of {len(challenge.hints)})", on_click=_more_hint, args=(challenge,),
              key="more_hint")

last = st.session_state.get("challenge_attempt")
tries = st.session_state.get("challenge_tries", {}).get(challenge.id, 0)
if last is not None and last[0] == challenge.id:
    widgets.scroll_here(f"{challenge.id}:{tries}", key="verdict_scroll")
    st.subheader(f"Try {tries}")
    _result(challenge, last[1])
real_tries = st.session_state.get("challenge_real_tries", {}).get(challenge.id, 0)
if reference_opens(challenge.id in solved, real_tries, shown, len(challenge.hints)):
    with st.expander("the reference solution"):
        st.markdown(f"**{challenge.solution.describe()}**")
        st.markdown(challenge.solution_why)
        if challenge.tempting:
            st.markdown("**Tempting, and wrong** (each fails the goal named; `python -m sandbox check` proves it):")
            for tempting in challenge.tempting:
                st.markdown(f"- *{tempting.name}* ({tempting.design.describe()}): {tempting.why} — "
                            f"caught by `{tempting.fails}`")
else:
    st.caption("The reference solution opens once you have tried a design of your own (changed from the start, "
               "within the rules) and read every hint, or solved the challenge.")
