"""Lessons: predict → act → observe → explain, one step at a time, on the simulation."""

import secrets

import streamlit as st

from sandbox.model.metrics import label
from sandbox.model.periods import fault_periods
from sandbox.present.charts import comparison_spec, moments_legend
from sandbox.present.evidence import evidence, evidence_spec
from sandbox.present.names import moment_words
from sandbox.teach.choices import choice_order
from sandbox.teach.code_refs import CodeRefError, excerpt
from sandbox.teach.lesson_run import LessonRun
from sandbox.teach.measures import measured_words
from sandbox.teach.review import to_review
from sandbox.ui import session, widgets

OPEN_LESSON = "open_lesson"  # another page (a challenge, the mock interview) asks for a lesson by its id here

lessons = session.lessons()
progress = session.progress()
# this learner's order of every step's choices: random per session, stable within it
choice_seed = st.session_state.setdefault("choice_seed", secrets.randbelow(2**31))


def _run(lesson) -> LessonRun:
    """The lesson's stepper for this session, brought to the step the learner's progress says."""
    runs = st.session_state.setdefault("lesson_runs", {})
    run = runs.get(lesson.id)
    if run is None:
        run = runs[lesson.id] = LessonRun(lesson)
        for _ in range(progress.lesson(lesson.id).step):
            run.next_step()
    return run


def _mark(lesson) -> str:
    mine = progress.lessons.get(lesson.id)
    if mine is None:
        return "○"
    return "✅" if mine.completed else "◐"


def _predict(lesson, run: LessonRun) -> None:
    mine = progress.lesson(lesson.id)
    mine.answers[run.step_index] = st.session_state[f"choice:{lesson.id}:{run.step_index}"]
    run.play_step()
    if run.done:
        mine.completed = True


def _next(lesson, run: LessonRun) -> None:
    run.next_step()
    progress.lesson(lesson.id).step = run.step_index


def _reset(lesson, run: LessonRun) -> None:
    run.reset()
    progress.lessons.pop(lesson.id, None)
    for key in [k for k in st.session_state if isinstance(k, str) and k.startswith(f"choice:{lesson.id}:")]:
        del st.session_state[key]


def _observe(run: LessonRun) -> None:
    """The evidence: a chart of each metric the step checks, as its check reads it with its bound drawn; then what
    the step watches, second by second. Both over the step's own seconds."""
    step = run.step
    engine = run.engine
    start_s, end_s = run.step_window()
    timeline = run.step_scenario.timeline
    marks = [(a.at, moment_words(a)) for a in timeline if start_s <= a.at < end_s]
    periods = fault_periods([a for a in timeline if a.at < end_s])
    items = evidence(run.verdicts or [], engine.measurements, end_s)
    st.caption("Each check's chart: the line is the value the check reads, as its window fills second by second — "
               "its last point is what the check read; the red dashes are the check's bound.")
    variants = [v.name for v in run.step_scenario.variants]
    for column, item in zip(st.columns(2) * len(items), items, strict=False):
        column.vega_lite_chart(evidence_spec(item, (start_s, end_s), periods, marks, all_variants=variants),
                               width="stretch")
    legend = moments_legend(marks, (start_s, end_s))
    st.caption(f"This step ran from {start_s:g} s to {end_s:g} s" + (f"; on the charts: {legend}" if legend else ""))
    frames = [f for f in engine.frames() if start_s <= f["t"] < end_s]
    with st.expander("second by second: " + ", ".join(label(metric) for metric in step.watch)):
        for column, metric in zip(st.columns(2) * len(step.watch), step.watch, strict=False):
            column.vega_lite_chart(comparison_spec(frames, metric, variants, (start_s, end_s), periods, marks),
                                   width="stretch")


def _restore(key: str, step, saved) -> None:
    """Put a saved prediction back into its widget, if it still fits the step."""
    if key in st.session_state or saved is None:
        return
    if step.number is not None:
        st.session_state[key] = float(saved)
    elif saved == int(saved) and 0 <= saved < len(step.choices):
        st.session_state[key] = int(saved)


def _marked(step, choice: int, chosen) -> str:
    """A choice as shown once the step has run: the right answer and the learner's pick marked."""
    text = step.choices[choice]
    if choice == step.answer:
        return f"✅ {text} — the answer" + (", your pick" if choice == chosen else "")
    if choice == chosen:
        return f"❌ {text} — your pick"
    return text


def _prediction_input(lesson, step, index: int, key: str, disabled: bool) -> None:
    """The learner's prediction: a choice (shuffled per learner) or a number; once the step has run, locked, with
    the right answer and the pick marked."""
    if step.number is None:
        order = choice_order(choice_seed, lesson.id, index, len(step.choices))
        chosen = st.session_state.get(key)
        st.radio("your prediction", order, index=None, key=key, disabled=disabled, label_visibility="collapsed",
                 format_func=(lambda i: _marked(step, i, chosen)) if disabled else (lambda i: step.choices[i]))
        return
    number = step.number
    st.number_input(f"your prediction ({number.unit})", min_value=0.0, value=None, step=None, key=key,
                    disabled=disabled, placeholder="type a number",
                    help=f"a number of 0 or more; it counts when within ± {number.tolerance:g} of the answer")


def _verdict(step, chosen) -> None:
    """Right or wrong, and why: the wrong choice's own explanation, or how far off the number was."""
    number = step.number
    if number is not None:
        answer = f"{number.answer:g} {number.unit} (± {number.tolerance:g})"
        if step.is_right(chosen):
            st.success(f"You predicted it: {chosen:g} {number.unit}; the answer is {answer}. {step.why}", icon="🎯")
        else:
            side = "high" if chosen > number.answer else "low"
            st.error(f"Not quite — you said {chosen:g} {number.unit}, too {side}: the answer is {answer}. {step.why}",
                     icon="🔍")
        st.info(f"The working: {number.estimate.explain()}", icon="🧮")
        return
    right = step.choices[step.answer]
    if step.is_right(chosen):
        st.success(f"You predicted it: {right}. {step.why}", icon="🎯")
    else:
        st.error(f"Not quite — you chose “{step.choices[chosen]}”. {step.wrong[chosen]} The answer: “{right}”. "
                 f"{step.why}", icon="🔍")


def _code(step) -> None:
    if not step.code:
        return
    st.markdown("**The lab's own code for it** (read from the source that runs):")
    for ref in step.code:
        try:
            shown = excerpt(ref)
        except CodeRefError as exc:
            st.warning(f"code reference {ref.ref} no longer resolves: {exc}")
            continue
        st.caption(shown.caption)
        st.code(shown.text, language="python")


def _step(lesson, run: LessonRun) -> None:
    step = run.step
    index = run.step_index
    st.progress((index + run.played) / len(lesson.steps),
                text=f"step {index + 1} of {len(lesson.steps)}: {step.title}")
    st.markdown(f"### {index + 1}. {step.title}")
    st.markdown(f"**Predict.** {step.predict}")
    key = f"choice:{lesson.id}:{index}"
    saved = progress.lessons.get(lesson.id)
    _restore(key, step, saved.answers.get(index) if saved is not None else None)
    _prediction_input(lesson, step, index, key, run.played)
    if step.hint and not run.played:
        with st.expander("a hint"):
            st.markdown(step.hint)
    chosen = st.session_state.get(key)
    verdicts = run.verdicts  # None until the step is played
    if verdicts is None:
        if step.run:
            act = f"play the scenario `{step.run}`"
        else:
            act = "; ".join(moment_words(a) for a in step.actions) or "change nothing"
        st.markdown(f"**Act.** {act}, then watch for {step.observe_s:g} s.")
        st.button("▶ lock in my prediction and run it", type="primary", disabled=chosen is None,
                  on_click=_predict, args=(lesson, run), key="play_step")
        return
    _verdict(step, chosen)
    if step.number is not None:
        words = measured_words(run.measured(), step.number.answer, step.number.unit)
        if words:
            st.caption(words)
    st.markdown("**Observe: what the run shows** (checked on every run), and each check's chart:")
    widgets.verdicts(verdicts, run.step_window()[1])
    _observe(run)
    for note in sorted(set(run.notes)):
        st.caption(f"note: {note}")
    st.markdown("**Explain.**")
    st.markdown(step.explain)
    _code(step)
    if run.done:
        st.success("Lesson complete. Pick the next one on the left, try a challenge, or play in the Playground.",
                   icon="🎉")
    else:
        st.button("next step →", type="primary", on_click=_next, args=(lesson, run), key="next_step")


def _open(lesson_id: str) -> None:
    st.session_state["lesson_id"] = lesson_id


def _to_review(known: list) -> None:
    """What to go over again: the lessons behind this learner's wrong predictions and short interview answers."""
    cards = session.cards()
    items = to_review(progress, known, [] if isinstance(cards, str) else cards)
    with st.sidebar:
        st.subheader("To review")
        if not items:
            st.caption("Nothing yet: a wrong prediction, or an interview card graded short, brings its lesson here.")
        for item in items:
            st.button(f"🔁 {item.title}", key=f"to_review:{item.lesson_id}", on_click=_open, args=(item.lesson_id,))
            st.caption("; ".join(item.reasons))


def _progress_files() -> None:
    with st.sidebar:
        st.subheader("Your progress")
        st.download_button("⬇️ save progress", progress.to_json(), "post-office-lab-progress.json",
                           mime="application/json", on_click="ignore", key="save_progress")
        upload = st.file_uploader("load progress", type=["json"], key="load_progress")
        if upload is not None and st.session_state.get("loaded_progress") != upload.file_id:
            message = session.load_progress(upload.getvalue())
            st.session_state["loaded_progress"] = upload.file_id
            if message:
                st.error(message)
            else:
                st.session_state.pop("lesson_runs", None)
                st.rerun()


st.title("📚 Lessons")
if isinstance(lessons, str):
    st.error(lessons)
    st.stop()
_progress_files()
_to_review(lessons)
by_id = {lesson.id: lesson for lesson in lessons}
ids = list(by_id)
if st.session_state.get(OPEN_LESSON) in by_id:
    st.session_state["lesson_id"] = st.session_state.pop(OPEN_LESSON)
chosen_id = st.sidebar.radio("lesson", ids, key="lesson_id",
                             format_func=lambda i: f"{ids.index(i) + 1}. {by_id[i].title}")
st.sidebar.caption(" ".join(f"{ids.index(i) + 1}{_mark(by_id[i])}" for i in ids) + "  (✅ done · ◐ started)")
lesson = by_id[chosen_id]
run = _run(lesson)
st.header(lesson.title)
st.markdown(f"**Goal:** {lesson.goal}")
if run.step_index == 0 and not run.played:
    st.markdown(lesson.intro)
_step(lesson, run)
st.button("↺ start this lesson again", on_click=_reset, args=(lesson, run), key="reset_lesson")
