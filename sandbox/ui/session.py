"""Per-browser-session state: each session owns its own playground, runs and progress."""

from __future__ import annotations

import time

import streamlit as st

from sandbox.playground import Playground
from sandbox.teach.blocks import LessonError
from sandbox.teach.cards import Card, load_cards
from sandbox.teach.lessons import Lesson, load_lessons
from sandbox.teach.progress import Progress, ProgressError, parse_progress

PLAYGROUND = "playground"
PROGRESS = "progress"


def playground() -> Playground:
    if PLAYGROUND not in st.session_state:
        st.session_state[PLAYGROUND] = Playground()
    return st.session_state[PLAYGROUND]


def replace_playground(new: Playground) -> None:
    st.session_state[PLAYGROUND] = new


def touched() -> None:
    """The learner did something: the playground's idle pause starts counting again."""
    playground().touch(time.monotonic())


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
