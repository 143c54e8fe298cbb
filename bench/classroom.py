"""How many learners a classroom serves: K concurrent playground sessions through `open --workers N`'s real nginx
and Streamlit workers, for N = 1 and N = 2, at 1× and at 5×.

The clients are real Chromium contexts (Debian's Chromium through Playwright, headless, every request not to
127.0.0.1 blocked): the playground's timer is a Streamlit fragment the browser reruns over its websocket, so a
client that is not a browser would have to reimplement Streamlit's protocol, and its load would not be the real
one. Contexts share one Chromium, so K of them cost far less than K browsers; they do share this machine's cores
with the server, which makes every reading pessimistic (the browsers' drawing competes with the workers).

Learners are spread evenly over the workers: learner i holds a cookie the proxy sends to worker i mod N (a real
classroom's cookies spread at random, about evenly). Per (N, K, speed):
- server tick p95: every playground tick's wall time inside the workers (the lock, the engine's step, drawing the
  view), written by the workers with SANDBOX_TICK_LOG (sandbox/ui/tick_log.py) over MEASURE_S seconds;
- click-to-visible p50: learner 0 kills and revives the User Service with the sidebar's buttons, ROUNDS times each,
  timed in the page from pointerdown to the first frame showing it (bench.ui_latency's probe);
- core per session: the workers' CPU seconds (user + system, /proc) per wall second over the level, per session;
  CPU time, unlike wall time, is not inflated by others' work on the machine, so it bounds the learners one core
  can carry even when the tick times are not trustworthy;
- memory: the workers' resident memory (VmRSS, all workers together) with K sessions, and per session added since
  the level before (since no session for the first level, which also pays each worker's first run of the page:
  its imports and caches).
A level is served when its tick p95 is within BUDGET_MS; the table ends with the most sessions served by each N,
their ratio, and the learners one core serves (N = 1's count). The load average is printed before and after: on a
machine others share, a reading taken with a load above the core count is not trustworthy.

Run:  .venv/bin/python -m bench.classroom [--sessions 2,4,6] [--seconds 20] [--budget-ms 250]
      (about 6 minutes with the defaults; --sessions 1 to 16 each, --seconds 5 to 120, --budget-ms 50 to 5000)
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import httpx

from bench.ui_latency import CHROMIUM, CHROMIUM_ARGS, USER_IS, new_page, p95, timed_click
from sandbox.live.processes.ports import free_port
from sandbox.ui import classroom
from sandbox.ui.tick_log import TICK_LOG_ENV

ROOT = Path(__file__).resolve().parents[1]
SPEEDS = ("1×", "5×")
WORKER_COUNTS = (1, 2)
ROUNDS = 4
SETTLE_S = 3.0
SESSIONS_RANGE = range(1, 17)
SECONDS_RANGE = range(5, 121)
BUDGET_RANGE = range(50, 5001)
COOKIE_TRIES = 256
OPEN_TIMEOUT_MS = 90_000


def _arguments(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.classroom", description=__doc__.split("\n\n")[0])
    parser.add_argument("--sessions", default="2,4,6", help="the session counts K to try, ascending, 1 to 16 each")
    parser.add_argument("--seconds", type=int, default=20, help="how long each level is measured, 5 to 120")
    parser.add_argument("--budget-ms", type=int, default=250, help="the tick p95 a served level keeps, 50 to 5000")
    args = parser.parse_args(argv)
    try:
        args.levels = sorted({int(k) for k in args.sessions.split(",")})
    except ValueError:
        parser.error(f"--sessions {args.sessions!r}: give whole numbers separated by commas, e.g. 2,4,6")
    for name, values, allowed in (("--sessions", args.levels, SESSIONS_RANGE), ("--seconds", [args.seconds],
                                  SECONDS_RANGE), ("--budget-ms", [args.budget_ms], BUDGET_RANGE)):
        if not all(v in allowed for v in values):
            parser.error(f"{name} out of range: use {allowed.start} to {allowed.stop - 1}")
    return args


def _rss_mb(pids: list[int]) -> float:
    total_kb = 0
    for pid in pids:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                total_kb += int(line.split()[1])
    return total_kb / 1024


def _cpu_s(pids: list[int]) -> float:
    """CPU seconds (user + system) the processes have used: unlike wall time, others' load does not inflate it."""
    ticks = 0
    for pid in pids:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        ticks += int(fields[11]) + int(fields[12])  # utime, stime: fields 14 and 15 of proc(5)
    return ticks / os.sysconf("SC_CLK_TCK")


def _cookies(url: str, ports: list[int]) -> list[str]:
    """One cookie value per worker (in the order of `ports`) that the proxy sends to that worker."""
    found: dict[str, str] = {}
    with httpx.Client(trust_env=False, timeout=10) as client:
        for n in range(COOKIE_TRIES):
            value = f"bench-{n}"
            answer = client.get(url + "/_stcore/health", headers={"Cookie": f"{classroom.COOKIE}={value}"})
            found.setdefault(answer.headers[classroom.WORKER_HEADER], value)
            if len(found) == len(ports):
                break
    return [found[f"127.0.0.1:{port}"] for port in ports]


def _ticks_ms(folder: Path, offsets: dict[Path, int]) -> list[float]:
    """Every tick written since `offsets` (file -> lines already seen), and the new offsets in place."""
    values: list[float] = []
    for log in folder.glob("ticks-*.txt"):
        lines = log.read_text().splitlines()
        values += [float(line) for line in lines[offsets.get(log, 0):] if line]
        offsets[log] = len(lines)
    return values


def _set_speed(page, speed: str) -> None:
    page.get_by_role("radiogroup").get_by_role("radio", name=speed, exact=True).click()
    page.wait_for_function("s => document.querySelector('.pol-clock-line')?.innerText.includes('speed ' + s)",
                           arg=speed)


def _clicks_ms(page) -> list[float]:
    kill = page.locator(".st-key-do_kill").get_by_role("button")
    revive = page.locator(".st-key-do_revive").get_by_role("button")
    samples = []
    for _ in range(ROUNDS):
        samples.append(timed_click(page, kill, USER_IS.format(health="down")))
        samples.append(timed_click(page, revive, USER_IS.format(health="up")))
    return samples


def _level(learners: list, speed: str, folder: Path, offsets: dict[Path, int], seconds: int,
           pids: list[int]) -> dict:
    """Every learner at `speed`; the ticks and the workers' CPU share per session over `seconds`, and learner 0's
    clicks."""
    for _, page in learners:
        _set_speed(page, speed)
    time.sleep(SETTLE_S)
    _ticks_ms(folder, offsets)
    cpu_before, wall_before = _cpu_s(pids), time.monotonic()
    time.sleep(seconds)
    core_share = (_cpu_s(pids) - cpu_before) / (time.monotonic() - wall_before) / len(learners)
    ticks = _ticks_ms(folder, offsets)
    clicks = _clicks_ms(learners[0][1])
    return {"speed": speed, "ticks": len(ticks), "tick_p95_ms": p95(ticks) if len(ticks) > 1 else float("nan"),
            "click_p50_ms": statistics.median(clicks), "core_share": core_share}


def _rows_for(browser, workers: int, args: argparse.Namespace) -> list[dict]:
    """Every (K, speed) row for `workers` workers. A level where a page, a change of speed or a click is not shown
    within OPEN_TIMEOUT_MS (a click: the probe's 20 s) is one row with speed "-" and an endless tick p95, and ends
    the ramp: the server no longer keeps up."""
    from playwright.sync_api import Error as PlaywrightError

    rows: list[dict] = []
    with tempfile.TemporaryDirectory(prefix="bench_classroom_") as tmp:
        folder = Path(tmp)
        env = {**os.environ, TICK_LOG_ENV: str(folder),
               "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))}
        port = free_port()
        with classroom.classroom(workers, port, env=env, extra_flags=("--server.fileWatcherType", "none")) as running:
            url = f"http://127.0.0.1:{port}"
            cookies = _cookies(url, running.ports)
            pids = [process.pid for process in running.processes[:-1]]
            before_mb, before_sessions = _rss_mb(pids), 0
            learners: list[tuple[object, object]] = []
            offsets: dict[Path, int] = {}
            try:
                for sessions in args.levels:
                    try:
                        while len(learners) < sessions:
                            context, page = new_page(browser)
                            context.set_default_timeout(OPEN_TIMEOUT_MS)
                            learners.append((context, page))
                            context.add_cookies([{"name": classroom.COOKIE, "url": url,
                                                  "value": cookies[(len(learners) - 1) % workers]}])
                            page.goto(url + "/?tour=done")
                            page.wait_for_selector('section[data-variant="sync"] [data-part="user"]')
                        level = [_level(learners, speed, folder, offsets, args.seconds, pids) for speed in SPEEDS]
                    except PlaywrightError:  # a page, a speed or a click not shown in time: this level is not served
                        rows.append({"workers": workers, "sessions": sessions, "speed": "-", "ticks": 0,
                                     "tick_p95_ms": float("inf"), "click_p50_ms": float("inf"),
                                     "core_share": float("nan"), "rss_mb": _rss_mb(pids), "mb_per_added": float("nan")})
                        break
                    rss_mb = _rss_mb(pids)
                    for row in level:
                        rows.append({"workers": workers, "sessions": sessions, **row, "rss_mb": rss_mb,
                                     "mb_per_added": (rss_mb - before_mb) / (sessions - before_sessions)})
                    before_mb, before_sessions = rss_mb, sessions
            finally:
                for context, _ in learners:
                    context.close()  # type: ignore[attr-defined]
    return rows


def _served(rows: list[dict], workers: int, speed: str, budget_ms: float) -> int:
    """The most sessions whose level kept the tick p95 within budget (0 if none did)."""
    return max((r["sessions"] for r in rows if r["workers"] == workers and r["speed"] == speed
                and r["tick_p95_ms"] <= budget_ms), default=0)


def main(argv: list[str] | None = None) -> None:
    from playwright.sync_api import sync_playwright

    args = _arguments(argv)
    began = time.perf_counter()
    load_before = os.getloadavg()
    rows: list[dict] = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            for workers in WORKER_COUNTS:
                rows += _rows_for(browser, workers, args)
        finally:
            browser.close()
    load_after = os.getloadavg()
    cores = os.cpu_count() or 1
    print(f"classroom: K Chromium sessions through nginx to N Streamlit workers, {args.seconds} s per level, "
          f"{2 * ROUNDS} clicks per level (Python {sys.version.split()[0]}, {cores} cores)")
    print(f"{'workers':>7} {'sessions':>8} {'speed':>5} {'ticks':>6} {'tick p95 ms':>12} {'click p50 ms':>13} "
          f"{'core/session':>13} {'workers MB':>11} {'MB/added session':>17}")
    for r in rows:
        print(f"{r['workers']:>7} {r['sessions']:>8} {r['speed']:>5} {r['ticks']:>6} {r['tick_p95_ms']:>12.0f} "
              f"{r['click_p50_ms']:>13.0f} {r['core_share']:>13.1%} {r['rss_mb']:>11.0f} {r['mb_per_added']:>17.1f}")
    print(f"served (tick p95 ≤ {args.budget_ms} ms), of the levels tried {args.levels}:")
    for speed in SPEEDS:
        one, two = (_served(rows, n, speed, args.budget_ms) for n in WORKER_COUNTS)
        ratio = f"{two / one:.2f}×" if one else "n/a (1 worker served no level)"
        verdict = "met" if one and two / one >= 1.6 else "NOT met"
        print(f"  {speed}: 1 worker {one}, 2 workers {two}: {ratio} (target ≥ 1.6×: {verdict})")
    print(f"learners one core serves at 1×: {_served(rows, 1, '1×', args.budget_ms)} "
          f"(at 5×: {_served(rows, 1, '5×', args.budget_ms)}) within the tick budget, of the levels tried")
    for speed in SPEEDS:
        shares = [r["core_share"] for r in rows if r["speed"] == speed and r["core_share"] > 0]
        if shares:
            share = statistics.median(shares)
            print(f"  by CPU time at {speed}: a session uses {share:.1%} of a core (median over levels), so one core "
                  f"could carry at most {1 / share:.0f} sessions with nothing to spare")
    trust = "trustworthy" if max(load_before[0], load_after[0]) < cores else \
        f"NOT trustworthy: the load average exceeded the {cores} cores (others' work competed)"
    print(f"load average (1 min) before {load_before[0]:.1f}, after {load_after[0]:.1f}: {trust}")
    print(f"benchmark wall time: {time.perf_counter() - began:.0f} s")


if __name__ == "__main__":
    main()
