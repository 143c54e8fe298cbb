"""Per-browser-session state: each session owns its own playground, runs and progress."""

from __future__ import annotations

import time

import streamlit as st

from sandbox.playground import Playground

PLAYGROUND = "playground"


def playground() -> Playground:
    if PLAYGROUND not in st.session_state:
        st.session_state[PLAYGROUND] = Playground()
    return st.session_state[PLAYGROUND]


def replace_playground(new: Playground) -> None:
    st.session_state[PLAYGROUND] = new


def touched() -> None:
    """The learner did something: the playground's idle pause starts counting again."""
    playground().touch(time.monotonic())
