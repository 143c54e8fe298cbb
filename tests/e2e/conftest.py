"""Fixtures for the browser tests: the sandbox under `streamlit run`, Debian's Chromium, and a fresh visit.

`streamlit run sandbox/ui/app.py` on a free 127.0.0.1 port, driven by Debian's Chromium through Playwright for
Python (never `playwright install`). Skipped without Chromium or Playwright, failed instead with
SANDBOX_REQUIRE_LIVE=1. Every request the page makes to anything but 127.0.0.1 is blocked and fails the test.
With SANDBOX_UPDATE_SCREENSHOTS=1, `shots` is docs/ (the README's pictures); otherwise the test's temporary folder,
so a test run leaves the tree as it was.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest

from sandbox.live.processes.ports import free_port
from sandbox.ui.launch import APP_PATH, stop_server, streamlit_argv
from tests.helpers import unavailable

ROOT = Path(__file__).resolve().parents[2]
APP = APP_PATH
DOCS = ROOT / "docs"
CHROMIUM = os.environ.get("SANDBOX_CHROMIUM", "/usr/bin/chromium")  # Debian's; the GitHub workflow names Chrome
INSTALL_CHROMIUM = "apt-get install chromium"
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
    "--no-first-run", "--disable-sync",
    # belt and braces for the browser's own requests, which page routes never see: no name resolves but loopback
    "--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE 127.0.0.1",
]
VIEWPORT = {"width": 1280, "height": 800}
START_TIMEOUT_S = 60.0
START_ATTEMPTS = 3
ACTION_TIMEOUT_MS = 15_000
LOCAL_SCHEMES = {"data", "blob", "about"}




def _answers(process: subprocess.Popen, port: int, log_path: Path) -> bool:
    """Wait (bounded) until our Streamlit answers its health check on `port`; False if it exited first."""
    deadline = time.monotonic() + START_TIMEOUT_S
    with httpx.Client(trust_env=False, timeout=2.0) as client:
        while time.monotonic() < deadline:
            if process.poll() is not None:
                return False
            with contextlib.suppress(httpx.HTTPError):
                healthy = client.get(f"http://127.0.0.1:{port}/_stcore/health").text == "ok"
                # the log names the port only once *our* server listens on it, not someone else's
                if healthy and f"127.0.0.1:{port}" in log_path.read_text(errors="replace"):
                    return True
            time.sleep(0.2)
    return False


@pytest.fixture(scope="module")
def app_url(tmp_path_factory):
    """The sandbox under `streamlit run` on a free loopback port; stopped by its process id afterwards."""
    log_path = tmp_path_factory.mktemp("streamlit") / "streamlit.log"
    for _ in range(START_ATTEMPTS):
        port = free_port()
        with log_path.open("w") as log:
            # the command `post-office-lab open` runs (loopback, no statistics, 1 MB uploads), this tree's code first
            process = subprocess.Popen(
                [*streamlit_argv(port, headless=True), "--server.fileWatcherType", "none"],
                cwd=ROOT, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                env={**os.environ, "PYTHONUNBUFFERED": "1",
                     "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))})
        try:
            if _answers(process, port, log_path):
                yield f"http://127.0.0.1:{port}"
                return
        finally:
            stop_server(process)
        if f"Port {port} is not available" not in log_path.read_text(errors="replace"):
            break  # not a lost race for the port: trying again will not help
    pytest.fail(f"streamlit run {APP.relative_to(ROOT)} did not answer /_stcore/health within {START_TIMEOUT_S:g} s;"
                f" its output:\n{log_path.read_text(errors='replace')[-3000:]}")


@pytest.fixture(scope="module")
def browser():
    try:
        from playwright.sync_api import Error, sync_playwright
    except ImportError:
        unavailable("Playwright for Python is not installed", ".venv/bin/pip install -r requirements-dev.txt")
    if not os.access(CHROMIUM, os.X_OK):
        unavailable(f"Chromium is not installed at {CHROMIUM}", INSTALL_CHROMIUM)
    with sync_playwright() as playwright:
        try:
            chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, timeout=30_000)
        except Error as exc:
            unavailable(f"Chromium at {CHROMIUM} did not start ({str(exc).splitlines()[0]})", INSTALL_CHROMIUM)
        try:
            yield chromium
        finally:
            chromium.close()


def _loopback(url: str) -> bool:
    parts = urlsplit(url)
    return parts.scheme in LOCAL_SCHEMES or parts.hostname == "127.0.0.1"


@dataclass
class Visit:
    """A fresh browser session on the app, with every request that tried to leave 127.0.0.1 and every page error."""

    page: Any
    url: str
    left_loopback: list[str] = field(default_factory=list)
    page_errors: list[str] = field(default_factory=list)

    def assert_clean(self) -> None:
        from playwright.sync_api import expect

        expect(self.page.get_by_test_id("stException")).to_have_count(0)
        assert not self.left_loopback, f"the page tried to reach beyond 127.0.0.1: {self.left_loopback}"
        assert not self.page_errors, f"errors in the page: {self.page_errors}"


@pytest.fixture
def visit(browser, app_url):
    """A new browser context at VIEWPORT (1280×800); a test changes the size with `visit.page.set_viewport_size`."""
    context = browser.new_context(viewport=VIEWPORT, service_workers="block", accept_downloads=True)
    context.set_default_timeout(ACTION_TIMEOUT_MS)
    seen = Visit(page=None, url=app_url)

    def block(route) -> None:
        seen.left_loopback.append(route.request.url)
        route.abort("blockedbyclient")

    def block_socket(socket) -> None:
        seen.left_loopback.append(socket.url)
        socket.close()

    try:
        context.route(lambda url: not _loopback(url), block)
        context.route_web_socket(lambda url: not _loopback(url), block_socket)
        seen.page = context.new_page()
        seen.page.on("pageerror", lambda exc: seen.page_errors.append(str(exc)))
        yield seen
    finally:
        context.close()


@pytest.fixture
def shots(tmp_path) -> Path:
    """Where screenshots go: docs/ when asked to refresh the README's pictures, else a temporary folder."""
    return DOCS if os.environ.get("SANDBOX_UPDATE_SCREENSHOTS") == "1" else tmp_path
