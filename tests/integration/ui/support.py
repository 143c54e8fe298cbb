"""Driving the app in-process with Streamlit's AppTest."""

from __future__ import annotations

from streamlit.testing.v1 import AppTest

from sandbox.ui.launch import APP_PATH

APP = str(APP_PATH)


def app(page: str | None = None) -> AppTest:
    """The app, run once, on `page` (a file under sandbox/ui/views/) when given."""
    at = AppTest.from_file(APP, default_timeout=60).run()
    if page is not None:
        at.switch_page(f"views/{page}.py").run()
    assert not at.exception, at.exception
    return at


def metric_values(at: AppTest, label: str) -> list[str]:
    """The values of every metric tile whose label ends with `label`, in page order (one per variant)."""
    return [m.value for m in at.metric if m.label.endswith(label)]
