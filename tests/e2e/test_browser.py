"""The sandbox in a real browser: the playground's cascade, and a scenario run with its verdicts.

`streamlit run sandbox/ui/app.py` on a free 127.0.0.1 port, driven by Debian's Chromium through Playwright for
Python (never `playwright install`). Skipped without Chromium or Playwright, failed instead with
SANDBOX_REQUIRE_LIVE=1. Every request the page makes to anything but 127.0.0.1 is blocked and fails the test.
With SANDBOX_UPDATE_SCREENSHOTS=1 it writes docs/playground-cascade.png and docs/scenarios.png, the screenshots
the README shows; otherwise they go to the test's temporary folder, so a test run leaves the tree as it was.
"""

from __future__ import annotations

import contextlib
import os
import re
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest

from sandbox.live.ports import free_port
from tests.helpers import unavailable

pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parents[2]
APP = ROOT / "sandbox" / "ui" / "app.py"
DOCS = ROOT / "docs"
CHROMIUM = os.environ.get("SANDBOX_CHROMIUM", "/usr/bin/chromium")  # Debian's; the GitHub workflow names Chrome
INSTALL_CHROMIUM = "apt-get install chromium"
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
    "--no-first-run", "--disable-sync",
    # belt and braces for the browser's own requests, which page routes never see: no name resolves but loopback
    "--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE 127.0.0.1",
]
VIEWPORT = {"width": 1600, "height": 2200}
START_TIMEOUT_S = 60.0
START_ATTEMPTS = 3
ACTION_TIMEOUT_MS = 15_000
CASCADE_TIMEOUT_S = 45.0
LOCAL_SCHEMES = {"data", "blob", "about"}

TILES_JS = """() => Array.from(document.querySelectorAll('[data-testid="stColumn"]'), column => {
  const heading = Array.from(column.querySelectorAll('h3'))
    .find(h => h.closest('[data-testid="stColumn"]') === column);
  if (!heading) return null;
  return {
    name: heading.textContent.trim().split(/\\s+/)[0],
    tiles: Array.from(column.querySelectorAll('[data-testid="stMetric"]'), tile => ({
      label: tile.querySelector('[data-testid="stMetricLabel"]').innerText.trim(),
      value: tile.querySelector('[data-testid="stMetricValue"]').innerText.trim(),
    })),
  };
}).filter(Boolean)"""
"""Every variant column (a column whose own first-level heading names the variant) with its metric tiles, read in
one go so that a rerun of the page cannot change the DOM between two reads."""

CROP_BOTTOM_JS = """charts => Math.max(...Array.from(document.querySelectorAll('[data-testid="stColumn"]'), column => {
  const drawn = column.querySelectorAll('[data-testid="stVegaLiteChart"]');
  return drawn.length >= charts ? drawn[charts - 1].getBoundingClientRect().bottom : 0;
}))"""
"""The bottom of the lowest column's `charts`-th chart: the pictures keep the latency and error charts."""

CHARTS_DRAWN_JS = """count => {
  const main = document.querySelector('[data-testid="stMain"]');
  const charts = main.querySelectorAll('[data-testid="stVegaLiteChart"]');
  return charts.length === count && Array.from(charts).every(c => c.querySelector('svg, canvas'))
    && !main.querySelector('[data-testid="stSkeleton"], [data-stale="true"]');
}"""


# --- the server -------------------------------------------------------------------------------------------------

def _stop(process: subprocess.Popen) -> None:
    """Stop the process we started, by its id: SIGTERM, then SIGKILL if it lingers."""
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=5)


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
            process = subprocess.Popen(
                [sys.executable, "-m", "streamlit", "run", str(APP), "--server.port", str(port),
                 "--server.address", "127.0.0.1", "--server.headless", "true", "--browser.gatherUsageStats", "false",
                 "--server.fileWatcherType", "none"],
                cwd=ROOT, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                env={**os.environ, "PYTHONUNBUFFERED": "1"})
        try:
            if _answers(process, port, log_path):
                yield f"http://127.0.0.1:{port}"
                return
        finally:
            _stop(process)
        if f"Port {port} is not available" not in log_path.read_text(errors="replace"):
            break  # not a lost race for the port: trying again will not help
    pytest.fail(f"streamlit run {APP.relative_to(ROOT)} did not answer /_stcore/health within {START_TIMEOUT_S:g} s;"
                f" its output:\n{log_path.read_text(errors='replace')[-3000:]}")


# --- the browser ------------------------------------------------------------------------------------------------

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
    context = browser.new_context(viewport=VIEWPORT, service_workers="block")
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


# --- reading the page -------------------------------------------------------------------------------------------

def wait_for(condition: Callable[[], Any], timeout_s: float, what: str, every_s: float = 0.3) -> Any:
    """Poll `condition` until it returns something truthy, bounded in time."""
    deadline = time.monotonic() + timeout_s
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout_s:g} s waiting for {what}")
        time.sleep(every_s)


def clock_s(page) -> float:
    """The playground's scenario clock, from the line `t = 1,234.0 s · speed 1×`."""
    text = page.locator("strong").filter(has_text=re.compile(r"^t = [\d,.]+ s$")).inner_text()
    return float(text.removeprefix("t = ").removesuffix(" s").replace(",", ""))


@dataclass(frozen=True)
class Tile:
    label: str
    value: str

    @property
    def light(self) -> str:
        return self.label[0] if self.label[:1] in ("🟢", "🔴") else ""

    @property
    def percent(self) -> float | None:
        return float(self.value.removesuffix("%")) if self.value.endswith("%") else None


def tiles(page) -> dict[str, dict[str, Tile]]:
    """{variant: {label without its light: tile}} for every variant column on the page."""
    columns = page.evaluate(TILES_JS)
    names = [c["name"] for c in columns]
    assert len(names) == len(set(names)), f"two columns claim the same variant: {names}"
    return {c["name"]: {t["label"].removeprefix("🟢").removeprefix("🔴").strip(): Tile(t["label"], t["value"])
                        for t in c["tiles"]} for c in columns}


def reads_ok(snapshot: dict[str, dict[str, Tile]], variant: str) -> Tile | None:
    return snapshot.get(variant, {}).get("reads ok")


def screenshot_main(page, path: Path, charts: int, keep_charts: int = 2) -> None:
    """The main area (no sidebar) once its `charts` are drawn, down to each column's first `keep_charts` charts and
    within the viewport (full-page shots show skeletons)."""
    page.wait_for_function(CHARTS_DRAWN_JS, arg=charts, timeout=ACTION_TIMEOUT_MS)
    page.wait_for_timeout(300)  # let Vega finish painting
    box = page.get_by_test_id("stMainBlockContainer").bounding_box()
    assert box is not None
    bottom = page.evaluate(CROP_BOTTOM_JS, keep_charts) or box["y"] + box["height"]
    path.parent.mkdir(exist_ok=True)
    page.screenshot(path=str(path), full_page=False, clip={  # 4 px in: no sidebar edge
        "x": box["x"] + 4, "y": box["y"], "width": box["width"] - 4,
        "height": min(bottom + 16, box["y"] + box["height"], VIEWPORT["height"]) - box["y"]})


# --- the journeys -----------------------------------------------------------------------------------------------

@pytest.fixture
def shots(tmp_path) -> Path:
    """Where screenshots go: docs/ when asked to refresh the README's pictures, else a temporary folder."""
    return DOCS if os.environ.get("SANDBOX_UPDATE_SCREENSHOTS") == "1" else tmp_path


def test_playground_kill_user_cascades_on_sync_while_queue_keeps_serving(visit, shots):
    from playwright.sync_api import expect

    page = visit.page
    page.goto(visit.url)
    sidebar = page.get_by_test_id("stSidebar")

    # the simulation runs on its own: the clock moves without any input
    wait_for(lambda: clock_s(page) >= 1, 15, "the playground's first tick")
    first = clock_s(page)
    time.sleep(2)
    later = wait_for(lambda: (t := clock_s(page)) > first and t, 15, f"the clock to move past t = {first:g} s")
    assert later > first

    expect(sidebar.get_by_role("combobox", name="target")).to_have_value("user")
    page.get_by_role("radiogroup", name="speed").get_by_role("radio", name="20×").click()
    expect(page.get_by_text(re.compile(r"· speed 20×$"))).to_be_visible()
    start = clock_s(page)
    wait_for(lambda: clock_s(page) >= start + 40, 15, "two ticks at 20× (some history for the charts)")

    page.locator(".st-key-do_kill").get_by_role("button").click()
    killed_at = clock_s(page)
    seen: list[dict[str, dict[str, Tile]]] = []

    def sync_red() -> bool:
        snapshot = tiles(page)
        seen.append(snapshot)
        sync = reads_ok(snapshot, "sync")
        return bool(sync and sync.percent is not None and sync.percent < 50 and sync.light == "🔴")

    try:
        wait_for(sync_red, CASCADE_TIMEOUT_S, "the sync column's 'reads ok' to fall below 50% with 🔴")
    except AssertionError as exc:
        raise AssertionError(f"{exc}; last tiles: {seen[-1] if seen else None}") from None

    # a little further into the cascade, then pause for a still picture whose 120 s charts show the kill
    wait_for(lambda: clock_s(page) >= killed_at + 20, 15, "the cascade to go on")
    page.get_by_role("radiogroup", name="speed").get_by_role("radio", name="pause").click()
    expect(page.get_by_text(re.compile(r"· speed pause$"))).to_be_visible()
    seen.append(tiles(page))
    screenshot_main(page, shots / "playground-cascade.png", charts=8)

    final = seen[-1]
    sync = reads_ok(final, "sync")
    assert sync and sync.percent is not None and sync.percent < 50 and sync.light == "🔴", final
    for snapshot in seen:  # the queue side stays green the whole time
        queue = reads_ok(snapshot, "queue")
        assert queue and queue.percent is not None and queue.percent >= 99 and queue.light == "🟢", snapshot
    visit.assert_clean()


def test_scenarios_page_runs_user_down_and_every_expectation_holds(visit, shots):
    from playwright.sync_api import expect

    page = visit.page
    page.goto(visit.url)
    page.get_by_test_id("stSidebarNav").get_by_role("link", name="Scenarios").click()

    picker = page.get_by_role("combobox", name="scenario")
    picker.click()
    page.get_by_role("option", name=re.compile(r"^user-down — ")).click()
    expect(picker).to_have_value(re.compile(r"^user-down — "))
    page.locator(".st-key-run").get_by_role("button").click()

    verdict = page.get_by_role("heading", name=re.compile(r"expectations hold"))
    expect(verdict).to_be_visible(timeout=30_000)
    held, total = map(int, re.search(r"(\d+)/(\d+) expectations hold", verdict.inner_text()).groups())
    assert verdict.inner_text().startswith("✅") and held == total > 0, verdict.inner_text()
    screenshot_main(page, shots / "scenarios.png", charts=8)
    visit.assert_clean()


def test_a_lesson_opens_and_its_first_step_completes(visit):
    from playwright.sync_api import expect

    from sandbox.teach.lessons import load_lessons

    first = load_lessons()[0]
    step = first.steps[0]
    page = visit.page
    page.goto(visit.url)
    page.get_by_test_id("stSidebarNav").get_by_role("link", name="Lessons").click()
    expect(page.get_by_role("heading", name=first.title)).to_be_visible()
    expect(page.get_by_role("heading", name=f"1. {step.title}")).to_be_visible()

    page.get_by_role("radiogroup", name="your prediction").get_by_text(step.choices[step.answer]).click()
    page.locator(".st-key-play_step").get_by_role("button").click()

    expect(page.get_by_text(re.compile(r"^You predicted it"))).to_be_visible(timeout=30_000)
    checks = page.get_by_text(re.compile(r"^✅ "))
    expect(checks.first).to_be_visible()
    assert checks.count() == len(step.expectations)
    expect(page.locator(".st-key-next_step").get_by_role("button")).to_be_visible()
    visit.assert_clean()
