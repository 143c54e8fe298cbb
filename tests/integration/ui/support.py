"""Driving the app in-process with Streamlit's AppTest."""

from __future__ import annotations

import json
from typing import Any

from streamlit.testing.v1 import AppTest

from sandbox.ui.launch import APP_PATH

APP = str(APP_PATH)


def app(page: str | None = None, **query: str) -> AppTest:
    """The app, run once, on `page` (a file under sandbox/ui/views/) when given, with `query` in its URL."""
    at = AppTest.from_file(APP, default_timeout=60)
    for name, value in query.items():
        at.query_params[name] = value
    at.run()
    if page is not None:
        at.switch_page(f"views/{page}.py").run()
    assert not at.exception, at.exception
    return at


def view_data(at: AppTest) -> dict[str, Any]:
    """The data the playground view component drew in the last run."""
    [view] = at.get("bidi_component")
    return json.loads(view.proto.json)


def variant_view(at: AppTest, name: str) -> dict[str, Any]:
    return next(v for v in view_data(at)["variants"] if v["name"] == name)


def tile(at: AppTest, variant: str, label: str) -> dict[str, Any]:
    """One headline tile of one variant: {"label", "value", "tone", "help", "cue"}."""
    return next(t for t in variant_view(at, variant)["tiles"] if t["label"] == label)


def step(at: AppTest, seconds: int) -> AppTest:
    """Move the paused-or-running playground on by `seconds` with the page's own "step 1 s" button (AppTest does not
    fire the timer that runs it)."""
    for _ in range(seconds):
        at.button(key="step").click().run()
    assert not at.exception, at.exception
    return at
