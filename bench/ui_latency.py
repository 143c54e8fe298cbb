"""How fast the playground answers a click in a real browser, and how busy it keeps the browser, against a bare
Streamlit page timed in the same run.

Both apps run under `streamlit run` on free 127.0.0.1 ports (the README's flags); Debian's Chromium drives them through
Playwright (headless, no GPU, every request not to 127.0.0.1 blocked).

(a) Click-to-visible: from the click's pointerdown (a listener in the page) to the first animation frame in which its
    effect is on screen, measured inside the page. On the playground: 💀 kill with target "user" until the sync
    diagram's User Service box reads down, then 💚 revive until it reads up again, ROUNDS times each, paused, at 1×
    and at 20× — with the sidebar's buttons (the page reruns) and with the menu of the User Service's box in the
    diagram (only the playground view reruns; the menu is opened first, the click on its verb is timed). The menu's
    click is drawn at once in the browser, marked pending: its row times that, and the row "server confirmed" the
    same clicks until the server's data shows the state with no pending mark. On the bare
    page (`st.button` and `st.write` of a click count): until the new count shows.
(b) Main-thread busy: Chromium's own TaskDuration (Performance.getMetrics over the DevTools protocol) over
    BUSY_WINDOW_S seconds without input, as a share of the wall time, at each speed.
(c) Recorded once: the playground's "save as scenario" file after the clicks holds one timeline action per click.
(d) Layout, paused after a kill, at 1280×800, 1440×1000 and 900×800: the playground view's layout, the main area's
    scroll height, where the lowest of the main charts (failed requests, latency) ends, and the elements whose text is
    cut short (wider than their box, with an ellipsis or hidden).

Run:  .venv/bin/python -m bench.ui_latency   (about 2 minutes on 2 cores)
"""

from __future__ import annotations

import contextlib
import os
import statistics
import subprocess
import sys
import tempfile
import time
import tomllib
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import httpx

from sandbox.live.processes.ports import free_port
from sandbox.ui.launch import APP_PATH, stop_server, streamlit_argv

ROOT = Path(__file__).resolve().parents[1]
APP = APP_PATH
BARE_APP = '''import streamlit as st

st.session_state.setdefault("clicks", 0)


def click():
    st.session_state.clicks += 1


st.button("click", on_click=click, key="click")
st.write(f"clicks: {st.session_state.clicks}")
'''
CHROMIUM = os.environ.get("SANDBOX_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--no-first-run", "--disable-sync",
                 "--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE 127.0.0.1"]
VIEWPORT = {"width": 1280, "height": 800}
ROUNDS = 12
BUSY_WINDOW_S = 10.0
SETTLE_S = 3.0
TARGET_P50_MS = 300.0
TARGET_BUSY_1X = 0.30
HEALTH_TIMEOUT_S = 60.0

PROBE_JS = """condition => new Promise((resolve, reject) => {
  let clicked = null;
  document.addEventListener('pointerdown', () => { clicked = performance.now(); }, {capture: true, once: true});
  const check = new Function('return (' + condition + ')()');
  const started = performance.now();
  const frame = () => {
    if (clicked !== null && check()) resolve(performance.now() - clicked);
    else if (performance.now() - started > 20000) reject(new Error('not visible after 20 s: ' + condition));
    else requestAnimationFrame(frame);
  };
  requestAnimationFrame(frame);
})"""
"""Resolves with the milliseconds from the next pointerdown to the first frame where `condition` holds."""

USER_IS = """() => {{ const box = document.querySelector('section[data-variant="sync"] [data-part="user"]');
  return !!box && box.dataset.health === '{health}'; }}"""
USER_CONFIRMED = USER_IS.replace("=== '{health}'", "=== '{health}' && !box.dataset.pending")
"""The server's own answer: the box in that state and no longer marked pending (a click on the diagram's menu draws
its effect at once, pending, and the next data from the server confirms it)."""
TARGET_MENU_P50_MS = 100.0
LAYOUTS = ({"width": 1280, "height": 800}, {"width": 1440, "height": 1000}, {"width": 900, "height": 800})
LAYOUT_JS = """() => {
  const main = document.querySelector('[data-testid="stMain"]');
  const latency = Array.from(document.querySelectorAll('.pol-chart[data-chart="latency"]'),
    chart => chart.getBoundingClientRect().bottom);
  const cut = Array.from(main.querySelectorAll('*')).filter(e => {
    const style = getComputedStyle(e);
    const clips = style.textOverflow === 'ellipsis' || ['hidden', 'clip'].includes(style.overflowX);
    return clips && e.scrollWidth > e.clientWidth + 1 && e.innerText?.trim();
  }).length;
  return {mode: document.querySelector('.pol-live').dataset.mode, height_px: main.scrollHeight,
          charts_end: Math.max(...latency), cut};
}"""
COUNT_IS = """() => Array.from(document.querySelectorAll('[data-testid="stMarkdown"]'))
  .some(e => e.innerText.trim() === 'clicks: {count}')"""


@contextlib.contextmanager
def served(script: Path, log: Path) -> Iterator[str]:
    """`script` served as `post-office-lab open` serves the sandbox (loopback, no statistics, 1 MB uploads) on a free
    port until the block ends, this tree's code first on the path; stopped by its process id."""
    port = free_port()
    argv = [*streamlit_argv(port, headless=True), "--server.fileWatcherType", "none"]
    argv[argv.index(str(APP))] = str(script)
    with log.open("w") as out:
        process = subprocess.Popen(argv, cwd=ROOT, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                   env={**os.environ, "PYTHONUNBUFFERED": "1", "PYTHONPATH": os.pathsep.join(
                                       filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))})
    try:
        deadline = time.monotonic() + HEALTH_TIMEOUT_S
        with httpx.Client(trust_env=False, timeout=1.0) as client:
            while True:
                with contextlib.suppress(httpx.HTTPError):
                    if client.get(f"http://127.0.0.1:{port}/_stcore/health").text == "ok":
                        break
                if process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"{script} did not start:\n{log.read_text(errors='replace')[-2000:]}")
                time.sleep(0.1)
        yield f"http://127.0.0.1:{port}"
    finally:
        stop_server(process)


def new_page(browser):
    context = browser.new_context(viewport=VIEWPORT, service_workers="block", accept_downloads=True)
    context.route(lambda url: urlsplit(url).scheme not in ("data", "blob", "about")
                  and urlsplit(url).hostname != "127.0.0.1", lambda route: route.abort("blockedbyclient"))
    context.set_default_timeout(30_000)
    return context, context.new_page()


def timed_click(page, button, condition: str) -> float:
    """Milliseconds from clicking `button` to `condition` holding on screen."""
    page.evaluate(f"() => {{ window.__probe = ({PROBE_JS})({condition!r}); }}")
    button.click()
    return float(page.evaluate("() => window.__probe"))


def timed_click_confirmed(page, button, health: str) -> tuple[float, float]:
    """Milliseconds from clicking `button` to the User Service shown in `health`, and to the server confirming it."""
    page.evaluate(f"() => {{ window.__probe = ({PROBE_JS})({USER_IS.format(health=health)!r}); "
                  f"window.__confirmed = ({PROBE_JS})({USER_CONFIRMED.format(health=health)!r}); }}")
    button.click()
    return float(page.evaluate("() => window.__probe")), float(page.evaluate("() => window.__confirmed"))


def busy_share(page, seconds: float) -> float:
    """The main thread's busy share over `seconds` without input (Chromium's TaskDuration)."""
    cdp = page.context.new_cdp_session(page)
    cdp.send("Performance.enable")

    def task_s() -> float:
        return next(m["value"] for m in cdp.send("Performance.getMetrics")["metrics"] if m["name"] == "TaskDuration")

    before, started = task_s(), time.perf_counter()
    time.sleep(seconds)
    share = (task_s() - before) / (time.perf_counter() - started)
    cdp.detach()
    return share


def p95(values: list[float]) -> float:
    return statistics.quantiles(values, n=100, method="inclusive")[94]


def playground_rows(browser, url: str) -> tuple[list[tuple[str, list[float], float]], int, int, list[dict]]:
    """(speed, click-to-visible ms, busy share) per speed; clicks made and actions the saved scenario holds; the
    layout at each size."""
    context, page = new_page(browser)
    page.goto(f"{url}/?tour=done")
    page.wait_for_selector('section[data-variant="sync"] [data-part="user"]')
    kill = page.locator(".st-key-do_kill").get_by_role("button")
    revive = page.locator(".st-key-do_revive").get_by_role("button")
    sync_user = page.locator('section[data-variant="sync"] [data-part="user"]')

    def from_menu(verb: str):
        sync_user.click()
        return page.locator(".pol-menu").get_by_role("menuitem", name=verb)

    rows, clicks = [], 0
    for speed in ("pause", "1×", "20×"):
        page.get_by_role("radiogroup").get_by_role("radio", name=speed, exact=True).click()
        page.wait_for_function("s => document.querySelector('.pol-clock-line')?.innerText.includes('speed ' + s)",
                               arg=speed)
        time.sleep(SETTLE_S)
        busy = busy_share(page, BUSY_WINDOW_S)
        sidebar, menu, confirmed = [], [], []
        for _ in range(ROUNDS):
            sidebar.append(timed_click(page, kill, USER_IS.format(health="down")))
            sidebar.append(timed_click(page, revive, USER_IS.format(health="up")))
            for verb, health in (("kill", "down"), ("revive", "up")):
                shown, answered = timed_click_confirmed(page, from_menu(verb), health)
                menu.append(shown)
                confirmed.append(answered)
            clicks += 4
        rows.append((f"{speed}, sidebar button", sidebar, busy))
        rows.append((f"{speed}, the diagram's menu", menu, busy))
        rows.append((f"{speed}, the menu, server confirmed", confirmed, busy))
    page.get_by_role("radiogroup").get_by_role("radio", name="pause", exact=True).click()
    time.sleep(1.0)
    with page.expect_download() as download:
        page.locator(".st-key-save").get_by_role("button").click()
    saved = tomllib.loads(Path(download.value.path()).read_text())
    kill.click()
    clicks += 1
    layouts = []
    for size in LAYOUTS:
        page.set_viewport_size(size)
        time.sleep(1.0)
        layouts.append({**size, **page.evaluate(LAYOUT_JS)})
    context.close()
    return rows, clicks - 1, len(saved.get("timeline", [])), layouts


def bare_row(browser, url: str) -> tuple[list[float], float]:
    context, page = new_page(browser)
    page.goto(url)
    page.wait_for_function(COUNT_IS.format(count=0))
    time.sleep(SETTLE_S)
    busy = busy_share(page, BUSY_WINDOW_S)
    button = page.locator(".st-key-click").get_by_role("button")
    samples = [timed_click(page, button, COUNT_IS.format(count=n)) for n in range(1, 2 * ROUNDS + 1)]
    context.close()
    return samples, busy


def main() -> None:
    from playwright.sync_api import sync_playwright

    began = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="ui_latency_") as tmp, sync_playwright() as playwright:
        bare_script = Path(tmp) / "bare.py"
        bare_script.write_text(BARE_APP)
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            with served(bare_script, Path(tmp) / "bare.log") as url:
                bare_samples, bare_busy = bare_row(browser, url)
            with served(APP, Path(tmp) / "app.log") as url:
                rows, clicks, recorded, layouts = playground_rows(browser, url)
        finally:
            browser.close()
    print(f"click-to-visible in Chromium at {VIEWPORT['width']}×{VIEWPORT['height']}, {2 * ROUNDS} clicks per row "
          f"(Python {sys.version.split()[0]})")
    print(f"{'page':<42} {'p50 ms':>8} {'p95 ms':>8} {'max ms':>8} {'main thread busy':>17}")
    print(f"{'bare Streamlit page (button + text)':<42} {statistics.median(bare_samples):>8.0f} "
          f"{p95(bare_samples):>8.0f} {max(bare_samples):>8.0f} {bare_busy:>16.0%}")
    for speed, samples, busy in rows:
        label = f"playground {speed}"
        print(f"{label:<42} {statistics.median(samples):>8.0f} {p95(samples):>8.0f} {max(samples):>8.0f} "
              f"{busy:>16.0%}")
    _, one_x, one_x_busy = next(r for r in rows if r[0] == "1×, sidebar button")
    fast, calm = statistics.median(one_x) <= TARGET_P50_MS, one_x_busy <= TARGET_BUSY_1X
    print(f"targets at 1× (sidebar): p50 ≤ {TARGET_P50_MS:g} ms {'met' if fast else 'NOT met'}; "
          f"busy ≤ {TARGET_BUSY_1X:.0%} {'met' if calm else 'NOT met'}")
    menu_p50 = {speed: statistics.median(samples) for speed, samples, _ in rows
                if speed.endswith("the diagram's menu")}
    at_once = all(v <= TARGET_MENU_P50_MS for k, v in menu_p50.items() if not k.startswith("pause"))
    print(f"target for the diagram's menu (shown at once, pending): p50 ≤ {TARGET_MENU_P50_MS:g} ms at 1× and 20× "
          f"{'met' if at_once else 'NOT met'}")
    print(f"recorded once: {clicks} clicks, {recorded} actions in the saved scenario"
          f" ({'each click once' if clicks == recorded else 'MISMATCH'})")
    print()
    print("layout, paused after a kill (2 variants)")
    print(f"{'viewport':<12} {'view':<10} {'page height':>12} {'main charts end':>16} {'text cut short':>15}")
    for layout in layouts:
        viewport = f"{layout['width']}×{layout['height']}"
        print(f"{viewport:<12} {layout['mode']:<10} {layout['height_px']:>9} px "
              f"{layout['charts_end']:>13.0f} px {layout['cut']:>15}")
    print(f"benchmark wall time: {time.perf_counter() - began:.0f} s")


if __name__ == "__main__":
    main()
