"""Per-browser-session state: each session owns its own playground, runs and progress."""

from __future__ import annotations

import functools
import secrets
import time
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

import streamlit as st
from streamlit.runtime.scriptrunner_utils.script_run_context import get_script_run_ctx

from sandbox.grade.tasks import task_folders
from sandbox.playground import Playground
from sandbox.teach.blocks import LessonError
from sandbox.teach.cards import Card, load_cards
from sandbox.teach.lessons import Lesson, load_lessons
from sandbox.teach.progress import Progress, ProgressError, parse_progress

PLAYGROUND = "playground"
PROGRESS = "progress"
TOKEN = "pg"
"""The query parameter naming this browser tab's playground, so a refresh finds it again."""
SHELF_SIZE = 24
"""Playgrounds kept for a refresh to find; the least recently opened goes first."""


@st.cache_resource
def _shelf() -> OrderedDict[str, Playground]:
    """Every session's playground by its token, shared by the sessions of this server."""
    return OrderedDict()


def _shelve(token: str, pg: Playground) -> None:
    shelf = _shelf()
    shelf[token] = pg
    shelf.move_to_end(token)
    while len(shelf) > SHELF_SIZE:
        shelf.popitem(last=False)


def playground() -> Playground:
    """This session's playground: the one the tab's URL names (after a refresh), else a new one, named in the URL."""
    if PLAYGROUND not in st.session_state:
        token = st.query_params.get(TOKEN, "")
        found = _shelf().get(token) if token else None
        if found is None:
            token, found = secrets.token_urlsafe(9), Playground()
        _shelve(token, found)
        st.session_state[PLAYGROUND], st.session_state[TOKEN] = found, token
    st.query_params[TOKEN] = st.session_state[TOKEN]
    return st.session_state[PLAYGROUND]


def replace_playground(new: Playground) -> None:
    st.session_state[PLAYGROUND] = new
    _shelve(st.session_state[TOKEN], new)


def touched() -> None:
    """The learner did something: the playground's idle pause starts counting again."""
    playground().touch(time.monotonic())


def in_fragment_run() -> bool:
    """Whether Streamlit is running only a fragment (the playground view's timer) rather than the page."""
    ctx = get_script_run_ctx()
    return ctx is not None and bool(ctx.fragment_ids_this_run)


def page_click(callback: Callable[..., None]) -> Callable[..., None]:
    """A callback of a button outside the playground view, run once per click. Streamlit may hand the click to a timer's
    run of the playground view's fragment that overtakes the click's own run of the page, and then to the page's run as
    well; the call in the fragment's run is dropped, and the page's run applies the click."""

    @functools.wraps(callback)
    def once(*args: Any, **kwargs: Any) -> None:
        if not in_fragment_run():
            callback(*args, **kwargs)

    return once


@st.cache_resource
def lessons() -> list[Lesson] | str:
    """Every lesson (shared by all sessions: they never change while the app runs), or the loader's message."""
    try:
        return load_lessons()
    except LessonError as exc:
        return str(exc)


@st.cache_resource
def cards() -> list[Card] | str:
    """Every interview card, or the loader's message."""
    try:
        return load_cards()
    except LessonError as exc:
        return str(exc)


def progress() -> Progress:
    if PROGRESS not in st.session_state:
        st.session_state[PROGRESS] = Progress()
    return st.session_state[PROGRESS]


def load_progress(data: bytes) -> str | None:
    """Replace this session's progress with a saved file's; the problem in words when it cannot be read."""
    loaded_lessons, loaded_cards = lessons(), cards()  # each a list, or the loader's message
    known_lessons = loaded_lessons if isinstance(loaded_lessons, list) else []
    known_cards = loaded_cards if isinstance(loaded_cards, list) else []
    try:
        loaded = parse_progress(data.decode("utf-8"), {lesson.id: len(lesson.steps) for lesson in known_lessons},
                                {card.id: len(card.key_points) for card in known_cards},
                                frozenset(folder.name for folder in task_folders()))
    except UnicodeDecodeError:
        return "not a progress file: it is not text"
    except ProgressError as exc:
        return str(exc)
    st.session_state[PROGRESS] = loaded
    return None
