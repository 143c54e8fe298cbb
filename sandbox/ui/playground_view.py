"""The playground view: a small Streamlit component (st.components.v2, no iframe) that draws the playground from the
data of `sandbox.present.playground_view` in the browser. Its script and styles are the two files beside this one,
committed as they are: nothing is built or downloaded."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import streamlit as st

_HERE = Path(__file__).parent
KEY = "view"
_component = st.components.v2.component(
    "post_office_playground_view", js=(_HERE / "playground_view.js").read_text(encoding="utf-8"),
    css=(_HERE / "playground_view.css").read_text(encoding="utf-8"), isolate_styles=False)


def draw(data: dict[str, Any], on_act: Callable[[], None]) -> None:
    """Draw the view; a click on a part of a diagram (its menu: kill, revive, hang, heal) calls `on_act`, which
    finds the request in `st.session_state[KEY].act`: {"id", "verb", "target", "variant"}."""
    _component(data=data, key=KEY, height="content", on_act_change=on_act)
