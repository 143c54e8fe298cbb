"""The live view: a small Streamlit component (st.components.v2, no iframe) that draws the playground from the data
of `sandbox.present.live_view` in the browser. Its script and styles are the two files beside this one, committed
as they are: nothing is built or downloaded."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import streamlit as st

_HERE = Path(__file__).parent
_component = st.components.v2.component(
    "post_office_live_view", js=(_HERE / "live_view.js").read_text(encoding="utf-8"),
    css=(_HERE / "live_view.css").read_text(encoding="utf-8"), isolate_styles=False)


def live_view(data: dict[str, Any]) -> None:
    _component(data=data, key="live", height="content")
