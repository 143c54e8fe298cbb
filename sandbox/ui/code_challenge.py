"""The Challenges page's "write the code" part: a task, an editor, *run under fire*, a verdict per invariant, the
counterexample as a timeline and in the message view, the hints; the learner's code is kept in their progress.

The code runs in a confined child process (`sandbox.grade.isolated`), never in the server; a server that listens
beyond this machine refuses it unless its operator allowed it (`post-office-lab open --allow-code`).
"""

from __future__ import annotations

import ipaddress
import os

import pandas as pd
import streamlit as st
from streamlit_ace import st_ace

from sandbox.grade import grading
from sandbox.grade.cases import FAULT_WORDS
from sandbox.grade.grader import Counterexample, Report
from sandbox.grade.invariants import TITLES
from sandbox.grade.tasks import Task, TaskError, load_tasks
from sandbox.grade.timeline import WORDS, letters_at, timeline_rows
from sandbox.present.letters import whereabouts
from sandbox.teach.progress import CodeProgress
from sandbox.ui import session
from sandbox.ui.launch import ALLOW_CODE_ENV

KIND = "challenge_kind"
WRITE_THE_CODE = "✍️ write the code"
API = """
```python
from sandbox.grade.api import Nack, Reject, RetryLater, TemporaryFailure

def handle(message, ctx):
    message.body, message.id, message.redelivered, message.headers, message.retries
    message.json()                        # the body as JSON (ValueError if it is not)
    ctx.db.execute(sql, params)           # SQLite, one transaction per delivery: commits when you return
    ctx.redis.get / set(nx=, ex=) / delete / unlink / scan_iter / incr / sadd / sismember / hset / hget
    ctx.send_email(to, subject, body)     # the effect; TemporaryFailure when the relay refuses for now
    ctx.now()                             # seconds since the run started
    return                                # basic_ack
    raise Reject(requeue=False)           # basic_reject: to the dead-letter queue (requeue=True: back at once)
    raise Nack(requeue=True)              # basic_nack: the same here (4.3+ quorum queues count only rejects)
    raise RetryLater(3)                   # to the 3 s retry queue (tiers 1, 3, 10 s), then basic_ack
                                          # any other exception: basic_reject(requeue=True)
AUTO_ACK = False                          # True: basic_consume(auto_ack=True), acked before handle runs
```
"""


def code_allowed() -> bool:
    """Learners' code runs here: the server listens on loopback only, or its operator allowed code."""
    if os.environ.get(ALLOW_CODE_ENV) in ("1", "0"):  # 0: a worker on loopback behind a proxy others reach
        return os.environ[ALLOW_CODE_ENV] == "1"
    address = st.get_option("server.address") or ""
    if address == "localhost":
        return True
    try:
        return bool(address) and ipaddress.ip_address(address).is_loopback
    except ValueError:
        return False


def chosen() -> bool:
    """The sidebar's choice between the design challenges and the code tasks; True for the code tasks."""
    return st.sidebar.radio("kind", ["🎛️ design", WRITE_THE_CODE], key=KIND, horizontal=True,
                            label_visibility="collapsed") == WRITE_THE_CODE


@st.cache_resource
def _tasks() -> list[Task] | str:
    try:
        return load_tasks()
    except TaskError as exc:
        return str(exc)


def _editor_key(task: Task) -> str:
    return f"code_{task.id}_{st.session_state.get(f'code_version:{task.id}', 0)}"


def _reset(task: Task) -> None:
    st.session_state[f"code_version:{task.id}"] = st.session_state.get(f"code_version:{task.id}", 0) + 1
    session.progress().code.pop(task.id, None)
    st.session_state.pop(f"code_report:{task.id}", None)


def _run(task: Task, source: str) -> None:
    report = grading.grade_file(task, source, grading.seeds_of("sim", None, None), "my_handler.py")
    st.session_state[f"code_report:{task.id}"] = report
    mine = session.progress().code.setdefault(task.id, CodeProgress())
    mine.source = source
    mine.solved = mine.solved or report.passed


def _solved(task_id: str) -> bool:
    mine = session.progress().code.get(task_id)
    return mine is not None and mine.solved


def _plain(text: str) -> str:
    """Text for Markdown with its e-mail addresses left as text, not turned into mailto: links."""
    return text.replace("@", "\\@")


def _more_hint(task: Task) -> None:
    key = f"code_hints:{task.id}"
    st.session_state[key] = min(st.session_state.get(key, 0) + 1, len(task.hints))


def _report(task: Task, report: Report) -> None:
    if report.stopped:
        st.error(report.stopped, icon="🛑")
        return
    if report.passed:
        st.success(f"Passed under fire: every invariant held at all {len(report.seeds)} seeds "
                   f"({report.wall_s:.1f} s).", icon="🏆")
    else:
        held = sum(v.held for v in report.verdicts)
        st.error(f"Not yet: {held} of {len(report.verdicts)} invariants hold at every seed.", icon="🔧")
    for verdict in report.verdicts:
        if verdict.held:
            st.markdown(f"✅ **{TITLES[verdict.invariant]}**")
        else:
            seeds = report.failing_seeds[verdict.invariant]
            st.markdown(f"❌ **{TITLES[verdict.invariant]}** — fails at {len(seeds)} of {len(report.seeds)} seeds; "
                        f"seed {seeds[0]}: {_plain(verdict.detail)}")
    if report.printed:
        with st.expander("what your handler printed"):
            st.code(report.printed, language=None)
    counter = report.counterexample
    if counter is None:
        return
    st.subheader("The smallest failing case")
    st.markdown(f"Seed {counter.seed}, shrunk from {counter.found} to **{counter.shrunk}**, breaks "
                f"**{TITLES[counter.invariant]}**: {_plain(counter.detail)}.")  # the page grades on the simulation
    for fault in counter.faults:
        st.markdown(f"- ⚡ {fault}")
    st.dataframe(pd.DataFrame(timeline_rows(counter)), hide_index=True, width="stretch")
    st.caption(f"Replay it from a terminal: post-office-lab grade my_handler.py --task {task.id} "
               f"--seed {counter.seed}")
    _message_view(task, counter)


def _message_view(task: Task, counter: Counterexample) -> None:
    """The counterexample played step by step: where every message is after each event."""
    events = counter.events
    step = st.slider("play it, event by event", 0, len(events), len(events), key=f"code_step:{task.id}")
    if step:
        event = events[step - 1]
        st.markdown(f"**{event.at_s:.2f} s — {WORDS[event.kind]}** {event.words}")
    letters = letters_at(events, step)
    if not letters.shown:
        st.caption("No message is in the queue, held, or dead-lettered at this moment.")
        return
    st.dataframe(pd.DataFrame([{"message": letter.id, "where": whereabouts(letter), "deliveries": letter.deliveries}
                               for letter in letters.shown]), hide_index=True, width="stretch")


def page() -> None:
    tasks = _tasks()
    if isinstance(tasks, str):
        st.error(tasks)
        return
    progress = session.progress()
    by_id = {task.id: task for task in tasks}
    ids = list(by_id)
    chosen_id = st.sidebar.radio("code task", ids, key="code_task_id",
                                 format_func=lambda i: f"{ids.index(i) + 1}. {'✅ ' if _solved(i) else ''}"
                                                       f"{by_id[i].title}")
    task = by_id[chosen_id]
    st.header(task.title)
    st.markdown(task.brief)
    goal, fire = st.columns(2)
    with goal:
        st.markdown("**The goal** — every invariant, over every run's whole history:")
        for name in task.invariants:
            st.markdown(f"- {TITLES[name]}")
    with fire:
        st.markdown(f"**Under fire** — {grading.DEFAULT_SEEDS} seeded runs, each with some of: "
                    + ", ".join(words for kind, words in FAULT_WORDS.items() if kind in task.faults) + ".")
    with st.expander("the handler API in a minute"):
        st.markdown(API)
    if not code_allowed():
        st.warning("This server listens beyond this machine, so it does not run learners' code. Its operator can "
                   "allow it with `post-office-lab open --allow-code`; or run the sandbox on your own machine.",
                   icon="🔒")
        return
    saved = progress.code.get(task.id)
    first = saved.source if saved and saved.source else task.start
    if st.toggle("plain editor, for the keyboard", key="plain_editor",
                 help="The code editor keeps Tab for indenting, so the keyboard cannot leave it; in the plain editor "
                      "Tab moves on to the next control (indent with spaces)."):
        source = st.text_area("your handler", first, height=420, key=f"plain_{_editor_key(task)}")
    else:
        # 15 px: at 14, Chromium's monospace font draws an underscore below Ace's line box, where it cannot be seen
        source = st_ace(value=first, language="python", theme="chrome", keybinding="vscode", min_lines=16,
                        max_lines=40, font_size=15, tab_size=4, auto_update=True, key=_editor_key(task))
    left, right = st.columns([1, 1])
    left.button("🔥 run under fire", type="primary", on_click=_run, args=(task, source), key="run_under_fire",
                help=f"your handler at {grading.DEFAULT_SEEDS} seeds on the simulation, in a process of its own")
    right.button("↺ back to the starting file", on_click=_reset, args=(task,), key="reset_code")
    shown = st.session_state.get(f"code_hints:{task.id}", 0)
    for number, hint in enumerate(task.hints[:shown], start=1):
        st.info(f"Hint {number}: {hint}", icon="💡")
    if shown < len(task.hints):
        st.button(f"💡 a hint ({shown + 1} of {len(task.hints)})", on_click=_more_hint, args=(task,),
                  key="more_code_hint")
    report = st.session_state.get(f"code_report:{task.id}")
    if report is not None:
        _report(task, report)
    if _solved(task.id) or shown == len(task.hints):
        with st.expander("the reference, and the tempting wrong solutions"):
            st.markdown(task.reference_why)
            st.code(task.reference, language="python")
            for wrong in task.wrong:
                st.markdown(f"**{wrong.title}** — breaks *{TITLES[wrong.breaks]}*: {wrong.why}")
