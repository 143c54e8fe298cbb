"""Per-browser-session state: each session owns its own playground, runs and progress."""

from __future__ import annotations

import secrets
import time
from collections import OrderedDict

import streamlit as st

from sandbox.playground import Playground
from sandbox.teach.lessons import Card, Lesson, LessonError, load_cards, load_lessons
from sandbox.teach.progress import Progress, ProgressError, parse_progress

PLAYGROUND = "playground"
PROGRESS = "progress"
TOKEN = "pg"
"""The query parameter naming this browser tab's playground, so a refresh finds it again."""
SHELF_SIZE = 24
"""Playgrounds kept for a refresh to find; the least recently opened goes first."""
RENDER = "render"


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


def next_render() -> int:
    """Count this full run of the page: a button drawn in it names its clicks with the count (see `click`)."""
    st.session_state[RENDER] = st.session_state.get(RENDER, 0) + 1
    return st.session_state[RENDER]


def click(key: str) -> str:
    """A name for the next click of the button `key`: Streamlit may run a button's callback twice for one click
    (once in a timer's fragment run, once in the click's own run), and both runs see the same name."""
    return f"{key}:{st.session_state.get(RENDER, 0)}"


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
                                {card.id: len(card.key_points) for card in known_cards})
    except UnicodeDecodeError:
        return "not a progress file: it is not text"
    except ProgressError as exc:
        return str(exc)
    st.session_state[PROGRESS] = loaded
    return None
