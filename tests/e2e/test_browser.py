"""The sandbox in a real browser at 1280×800: the playground's cascade on one screen, honest axes, one action per
click, the queue as letters, the guided first run, a refresh, a scenario run with its verdicts, and a lesson.

The fixtures (the server, Chromium, a visit, where screenshots go) are in conftest.py. With
SANDBOX_UPDATE_SCREENSHOTS=1 this writes docs/playground-cascade.png, docs/playground-messages.png and
docs/scenarios.png, the README's pictures, at 1280×800.
"""

from __future__ import annotations

import re
import time
import tomllib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from sandbox.teach.lessons import load_lessons
from tests.e2e import conftest
from tests.e2e.conftest import ACTION_TIMEOUT_MS, VIEWPORT

pytestmark = pytest.mark.browser
FIXTURES = ("app_url", "browser", "visit")


def __getattr__(name: str) -> Any:
    """The fixtures live in conftest.py; `from tests.e2e.test_browser import visit` (test_browser_challenges.py) still
    finds them here."""
    if name in FIXTURES:
        return getattr(conftest, name)
    raise AttributeError(name)

CASCADE_TIMEOUT_S = 45.0
CHARTS_PER_VARIANT = 5

TILES_JS = """() => Array.from(document.querySelectorAll('section[data-variant]'), section => ({
  name: section.dataset.variant,
  tiles: Array.from(section.querySelectorAll('.pol-tile'), tile => ({
    label: tile.dataset.tile, tone: tile.dataset.tone, highlighted: tile.classList.contains('pol-highlight'),
    value: tile.querySelector('.pol-tile-value').innerText.trim(),
    cue: tile.querySelector('.pol-cue')?.innerText.trim() ?? '',
  })),
}))"""
"""Every variant's tiles, read in one go so that a redraw cannot change the DOM between two reads."""

DRAWN_JS = """count => document.querySelectorAll('section[data-variant] .pol-chart-svg').length === count"""

CUT_SHORT_JS = """() => Array.from(document.querySelectorAll('[data-testid="stMain"] *')).filter(e => {
  const style = getComputedStyle(e);
  const clips = style.textOverflow === 'ellipsis' || ['hidden', 'clip'].includes(style.overflowX);
  return clips && e.scrollWidth > e.clientWidth + 1 && e.innerText?.trim();
}).map(e => `${e.tagName.toLowerCase()}.${e.className}: ${e.innerText.trim().slice(0, 40)}`)"""
"""Every element of the main area whose text is wider than its box and cut off (an ellipsis, or hidden)."""

DOMAINS_JS = """() => {
  const domains = {};
  for (const svg of document.querySelectorAll('section[data-variant] svg.pol-chart-svg')) {
    const variant = svg.closest('section').dataset.variant;
    (domains[svg.dataset.chart] ??= {})[variant] = svg.dataset.domain;
  }
  return domains;
}"""
"""{chart: {variant: "low,high"}} as drawn."""


# --- reading the page (other browser tests import these) ----------------------------------------------------------

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
    tone: str
    """ok, bad, or none (nothing to judge)."""
    cue: str = ""
    highlighted: bool = False

    @property
    def percent(self) -> float | None:
        return float(self.value.removesuffix("%")) if self.value.endswith("%") else None


def tiles(page) -> dict[str, dict[str, Tile]]:
    """{variant: {label: tile}} for every variant on the page."""
    return {v["name"]: {t["label"]: Tile(**t) for t in v["tiles"]} for v in page.evaluate(TILES_JS)}


def reads_ok(snapshot: dict[str, dict[str, Tile]], variant: str) -> Tile | None:
    return snapshot.get(variant, {}).get("reads ok")


def part_health(page, variant: str, part: str) -> str | None:
    box = page.locator(f'section[data-variant="{variant}"] [data-part="{part}"]')
    return box.get_attribute("data-health") if box.count() else None


def open_playground(visit, query: str = "?tour=done", variants: int = 2) -> Any:
    page = visit.page
    page.goto(visit.url + "/" + query)
    page.wait_for_function(DRAWN_JS, arg=CHARTS_PER_VARIANT * variants, timeout=30_000)
    return page


def set_speed(page, speed: str) -> None:
    from playwright.sync_api import expect

    page.get_by_role("radiogroup").get_by_role("radio", name=speed, exact=True).click()
    expect(page.locator(".pol-clock-line")).to_contain_text(f"speed {speed}")


def click(page, key: str) -> None:
    page.locator(f".st-key-{key}").get_by_role("button").click()


def saved_timeline(page) -> list[dict]:
    """The actions of the playground's "save as scenario" file."""
    with page.expect_download() as download:
        click(page, "save")
    return tomllib.loads(Path(download.value.path()).read_text())["timeline"]


def three_variants(page) -> None:
    """Restart the playground with queue-outbox as a third variant, and wait until all three are drawn."""
    page.get_by_role("button", name="variants & seed").click()
    page.get_by_role("combobox", name=re.compile("^variants")).click()
    page.get_by_role("option", name="queue-outbox", exact=True).click()
    page.keyboard.press("Escape")
    click(page, "reset")
    page.keyboard.press("Escape")
    page.wait_for_function(DRAWN_JS, arg=3 * CHARTS_PER_VARIANT, timeout=30_000)


def screenshot_main(page, path: Path) -> None:
    """The main area (no sidebar) as the viewport shows it, once the view has painted."""
    page.wait_for_timeout(400)
    box = page.get_by_test_id("stMain").bounding_box()
    assert box is not None
    path.parent.mkdir(exist_ok=True)
    size = page.viewport_size
    page.screenshot(path=str(path), clip={"x": box["x"] + 4, "y": 0, "width": size["width"] - box["x"] - 4,
                                          "height": size["height"]})


# --- the journeys --------------------------------------------------------------------------------------------------

def test_playground_kill_user_cascades_on_sync_while_queue_keeps_serving(visit, shots):
    from playwright.sync_api import expect

    page = open_playground(visit)
    sidebar = page.get_by_test_id("stSidebar")

    # the simulation runs on its own: the clock moves without any input
    wait_for(lambda: clock_s(page) >= 1, 15, "the playground's first tick")
    first = clock_s(page)
    wait_for(lambda: clock_s(page) > first, 15, f"the clock to move past t = {first:g} s")

    expect(sidebar.get_by_role("combobox", name="target")).to_have_value("User Service")  # the diagram's name
    set_speed(page, "20×")
    start = clock_s(page)
    wait_for(lambda: clock_s(page) >= start + 40, 15, "two ticks at 20× (some history for the charts)")

    click(page, "do_kill")
    killed_at = clock_s(page)
    seen: list[dict[str, dict[str, Tile]]] = []

    def sync_red() -> bool:
        snapshot = tiles(page)
        seen.append(snapshot)
        sync = reads_ok(snapshot, "sync")
        return bool(sync and sync.percent is not None and sync.percent < 50 and sync.tone == "bad")

    try:
        wait_for(sync_red, CASCADE_TIMEOUT_S, "the sync column's 'reads ok' to fall below 50% and turn red")
    except AssertionError as exc:
        raise AssertionError(f"{exc}; last tiles: {seen[-1] if seen else None}") from None

    # a little further into the cascade, then pause for a still picture whose 120 s charts show the kill
    wait_for(lambda: clock_s(page) >= killed_at + 20, 15, "the cascade to go on")
    set_speed(page, "pause")
    seen.append(tiles(page))
    screenshot_main(page, shots / "playground-cascade.png")

    final = seen[-1]
    sync = reads_ok(final, "sync")
    assert sync and sync.percent is not None and sync.percent < 50 and sync.cue.endswith("pts vs queue"), final
    assert part_health(page, "sync", "user") == "down"
    assert page.locator('[data-variant="sync"] .pol-story').inner_text().startswith("The User Service is down")
    for snapshot in seen:  # the queue side stays green the whole time
        queue = reads_ok(snapshot, "queue")
        assert queue and queue.percent is not None and queue.percent >= 99 and queue.tone == "ok", snapshot
    visit.assert_clean()


def test_the_story_fits_one_screen_and_nothing_is_cut_short(visit, tmp_path):
    page = open_playground(visit)
    click(page, "do_kill")
    page.wait_for_timeout(1500)
    assert page.evaluate(CUT_SHORT_JS) == [], "cut short at 1280×800"
    for variant in ("sync", "queue"):  # the diagram, the tiles and the main charts on the first screen
        latency = page.locator(f'section[data-variant="{variant}"] .pol-chart[data-chart="latency"]')
        box = latency.bounding_box()
        assert box is not None and box["y"] + box["height"] <= VIEWPORT["height"], (variant, box)
    tops = [page.locator(f'section[data-variant="{v}"] .pol-chart[data-chart="errors"]').bounding_box()["y"]
            for v in ("sync", "queue")]
    assert tops[0] == tops[1]  # aligned column to column

    page.set_viewport_size({"width": 1440, "height": 1000})
    page.wait_for_timeout(800)
    assert page.evaluate(CUT_SHORT_JS) == [], "cut short at 1440×1000"
    screenshot_main(page, tmp_path / "playground-1440.png")

    click(page, "do_revive")
    three_variants(page)
    for size in ({"width": 1440, "height": 1000}, {"width": 1280, "height": 800}):
        page.set_viewport_size(size)
        page.wait_for_timeout(800)
        assert page.evaluate(CUT_SHORT_JS) == [], f"cut short with three variants at {size}"

    page.set_viewport_size({"width": 900, "height": 800})
    page.wait_for_timeout(800)
    assert page.locator(".pol-live").get_attribute("data-mode") == "swipe"  # one variant a screen, side by side
    assert page.evaluate(CUT_SHORT_JS) == [], "cut short at 900 px"
    main = page.get_by_test_id("stMain")
    assert main.evaluate("m => m.scrollWidth <= m.clientWidth"), "the page scrolls sideways at 900 px"
    screenshot_main(page, tmp_path / "playground-900.png")
    visit.assert_clean()


def test_compared_variants_share_each_charts_axis(visit):
    page = open_playground(visit)
    set_speed(page, "20×")
    click(page, "do_kill")
    wait_for(lambda: clock_s(page) >= 60, 20, "a minute of cascade")
    set_speed(page, "pause")
    domains = page.evaluate(DOMAINS_JS)
    assert set(domains) == {"errors", "latency", "queue", "staleness", "stale"}
    for chart, by_variant in domains.items():
        assert set(by_variant) == {"sync", "queue"} and len(set(by_variant.values())) == 1, (chart, by_variant)
    assert domains["errors"]["sync"] == "0,100"
    visit.assert_clean()


def test_each_click_is_recorded_once_even_at_20x(visit):
    page = open_playground(visit)
    set_speed(page, "20×")
    clicks = ["do_kill", "do_revive"] * 8 + ["do_hang", "do_heal"]
    for key in clicks:
        click(page, key)
        page.wait_for_timeout(150)
    set_speed(page, "pause")
    timeline = saved_timeline(page)
    assert [a["do"] for a in timeline] == [key.removeprefix("do_") for key in clicks]
    visit.assert_clean()


def test_a_part_of_the_diagram_is_broken_and_mended_from_its_menu(visit):
    from playwright.sync_api import expect

    page = open_playground(visit)
    set_speed(page, "pause")
    user = page.locator('section[data-variant="sync"] [data-part="user"]')
    user.click()
    menu = page.locator(".pol-menu")
    expect(menu).to_contain_text("User Service")
    menu.get_by_role("menuitem", name="kill").click()
    wait_for(lambda: part_health(page, "sync", "user") == "down" and part_health(page, "queue", "user") == "down",
             10, "the User Service down in both variants")
    expect(menu).to_have_count(0)
    page.locator('section[data-variant="queue"] [data-part="user"]').click()
    only = menu.get_by_role("menuitemcheckbox", name="only in queue")
    only.click()
    expect(only).to_have_attribute("aria-checked", "true")
    menu.get_by_role("menuitem", name="revive").click()
    wait_for(lambda: part_health(page, "queue", "user") == "up", 10, "queue's User Service back")
    assert part_health(page, "sync", "user") == "down"
    assert [(a["do"], a["target"], a.get("variant")) for a in saved_timeline(page)] == [
        ("kill", "user", None), ("revive", "user", "queue")]
    visit.assert_clean()


def test_after_a_cache_worker_kill_the_letters_count_what_the_queue_holds(visit, shots):
    page = open_playground(visit)
    page.get_by_test_id("stSidebar").get_by_role("combobox", name="target").click()
    page.get_by_role("option", name="cache-worker", exact=True).click()
    set_speed(page, "5×")
    click(page, "do_kill")
    wait_for(lambda: clock_s(page) >= 40, 20, "messages to pile up")
    set_speed(page, "pause")
    queue = page.locator('section[data-variant="queue"]')

    def count(state: str) -> int:
        return int(queue.locator(f'.pol-count[data-state="{state}"] b').inner_text().replace(",", ""))

    ready, unacked = count("ready"), count("unacked")
    broker = queue.locator('[data-part="broker"] text').nth(1).text_content()
    assert broker == f"{ready:,} ready · {unacked:,} unacked" and ready > 5
    assert tiles(page)["queue"]["queue depth"].value == f"{ready + unacked:,}"
    letters = queue.locator(".pol-letter")
    assert letters.count() >= 1 and letters.first.inner_text().startswith("✉ m")
    assert "ready" in letters.first.inner_text()
    more = queue.locator(".pol-letters").inner_text()
    if ready > 12:
        assert f"+{ready - 12:,} more ready" in more
    assert queue.locator(".pol-story").inner_text().startswith("The cache-worker is down")
    queue.locator(".pol-mail").scroll_into_view_if_needed()
    screenshot_main(page, shots / "playground-messages.png")
    visit.assert_clean()


def test_a_paused_playground_scrubs_back_to_before_the_kill(visit):
    page = open_playground(visit)
    set_speed(page, "20×")
    wait_for(lambda: clock_s(page) >= 40, 15, "some history")
    click(page, "do_kill")
    wait_for(lambda: clock_s(page) >= 100, 15, "the cascade")
    set_speed(page, "pause")
    assert part_health(page, "sync", "user") == "down"
    slider = page.locator(".st-key-scrub_s").get_by_role("slider")
    slider.focus()
    page.keyboard.press("Home")
    wait_for(lambda: part_health(page, "sync", "user") == "up", 10, "the diagram as it was before the kill")
    assert page.locator(".pol-cursor").count() == 2 * CHARTS_PER_VARIANT
    assert "showing the end of second" in page.locator(".pol-clock-line").inner_text()
    page.keyboard.press("End")
    wait_for(lambda: part_health(page, "sync", "user") == "down", 10, "the diagram now")
    visit.assert_clean()


def test_the_guided_first_run_completes_and_waits_for_the_learner(visit, shots):
    from playwright.sync_api import expect

    first = load_lessons()[0]
    page = open_playground(visit, query="")
    tour = page.locator(".st-key-tour")
    expect(tour).to_contain_text("1/4 · Kill the User Service")
    screenshot_main(page, shots / "playground-tour.png")
    set_speed(page, "20×")
    click(page, "tour_kill")
    expect(tour).to_contain_text("2/4 · Watch the two “reads ok” tiles")
    killed_at = clock_s(page)
    wait_for(lambda: all(reads_ok(tiles(page), v).highlighted for v in ("sync", "queue")), 10, "both tiles lit")
    wait_for(lambda: reads_ok(tiles(page), "sync").tone == "bad", 30, "sync's reads ok to turn red")
    wait_for(lambda: clock_s(page) >= killed_at + 40, 15, "40 s of scenario time, under 2 s of wall time at 20×")
    expect(tour).to_contain_text("2/4 · Watch the two “reads ok” tiles")  # it waits for "seen it"
    set_speed(page, "1×")
    click(page, "tour_next")
    expect(tour).to_contain_text("3/4 · Revive it")
    click(page, "tour_revive")
    expect(tour).to_contain_text("4/4 · Open lesson 1")
    assert part_health(page, "sync", "user") == "up"
    click(page, "tour_lesson")
    expect(page.get_by_role("heading", name=first.title)).to_be_visible()
    visit.assert_clean()


def test_a_refresh_keeps_the_playground(visit):
    page = open_playground(visit)
    click(page, "do_kill")
    wait_for(lambda: clock_s(page) >= 3, 15, "a few seconds")
    before = clock_s(page)
    page.reload()
    page.wait_for_function(DRAWN_JS, arg=2 * CHARTS_PER_VARIANT)
    assert clock_s(page) >= before
    assert "kill user" in page.locator(".pol-log").inner_text()
    assert part_health(page, "sync", "user") == "down"
    visit.assert_clean()


def test_scenarios_page_runs_user_down_and_every_expectation_holds(visit, shots):
    from playwright.sync_api import expect

    page = visit.page
    page.goto(visit.url + "/?tour=done")
    page.get_by_test_id("stSidebarNav").get_by_role("link", name="Scenarios").click()
    main = page.get_by_test_id("stMain")
    expect(main.get_by_role("heading", name="🎬 Scenarios")).to_be_visible()
    assert "wall-clock time" not in main.inner_text()  # the page's comments are not drawn above its title

    picker = page.get_by_role("combobox", name="scenario")
    picker.click()
    page.get_by_role("option", name=re.compile(r"^user-down — ")).click()
    expect(picker).to_have_value(re.compile(r"^user-down — "))
    click(page, "run")

    verdict = page.get_by_role("heading", name=re.compile(r"expectations hold"))
    expect(verdict).to_be_visible(timeout=30_000)
    held, total = map(int, re.search(r"(\d+)/(\d+) expectations hold", verdict.inner_text()).groups())
    assert verdict.inner_text().startswith("✅") and held == total > 0, verdict.inner_text()
    expect(page.get_by_text(re.compile(r"^why: ")).first).to_be_visible()
    box = verdict.bounding_box()  # the verdict leads: on the first screen, above every chart
    first_chart = page.get_by_test_id("stVegaLiteChart").first.bounding_box()
    assert box is not None and first_chart is not None
    assert box["y"] + box["height"] <= VIEWPORT["height"] and box["y"] < first_chart["y"]
    page.wait_for_function("() => document.querySelectorAll('[data-testid=\"stVegaLiteChart\"] svg').length >= 10",
                           timeout=ACTION_TIMEOUT_MS)
    screenshot_main(page, shots / "scenarios.png")
    visit.assert_clean()


def test_a_lesson_opens_and_its_first_step_completes(visit, shots):
    from playwright.sync_api import expect

    first = load_lessons()[0]
    step = first.steps[0]
    page = visit.page
    page.goto(visit.url + "/?tour=done")
    page.get_by_test_id("stSidebarNav").get_by_role("link", name="Lessons").click()
    expect(page.get_by_role("heading", name=first.title)).to_be_visible()
    expect(page.get_by_role("heading", name=f"1. {step.title}")).to_be_visible()

    page.get_by_role("radiogroup", name="your prediction").get_by_text(step.choices[step.answer]).click()
    click(page, "play_step")

    verdict = page.get_by_text(re.compile(r"^You predicted it"))
    expect(verdict).to_be_visible(timeout=30_000)
    expect(page.get_by_text(f"✅ {step.choices[step.answer]} — the answer, your pick")).to_be_visible()
    checks = page.get_by_text(re.compile(r"^✅ (?!.* — the answer)"))
    expect(checks.first).to_be_visible()
    assert checks.count() == len(step.expectations)
    page.wait_for_function("() => document.querySelectorAll('[data-testid=\"stVegaLiteChart\"] svg').length > 0",
                           timeout=ACTION_TIMEOUT_MS)
    box, chart = verdict.bounding_box(), page.get_by_test_id("stVegaLiteChart").first.bounding_box()
    assert box is not None and chart is not None and box["y"] < chart["y"]  # the verdict before the charts
    expect(page.locator(".st-key-next_step").get_by_role("button")).to_be_visible()
    page.get_by_role("heading", name=f"1. {step.title}").evaluate("heading => heading.scrollIntoView()")
    screenshot_main(page, shots / "lesson-step.png")
    visit.assert_clean()


def test_a_lesson_step_charts_what_its_checks_read_with_the_bound(visit, shots):
    """Lesson 10 step 2: the check reads the queue as ready + unacked (not a flat 'ready = 0' chart) and holds the two
    variants' stale reads to one bound; each chart draws the checked metric in the check's unit, bound included."""
    from playwright.sync_api import expect

    lesson = next(lesson for lesson in load_lessons() if lesson.id == "poison-and-duplicates")
    page = visit.page
    page.goto(visit.url + "/?tour=done")
    page.get_by_test_id("stSidebarNav").get_by_role("link", name="Lessons").click()
    page.get_by_test_id("stSidebar").get_by_text(lesson.title).click()
    expect(page.get_by_role("heading", name=lesson.title)).to_be_visible()
    for index in (0, 1):
        step = lesson.steps[index]
        page.get_by_role("radiogroup", name="your prediction").get_by_text(step.choices[step.answer]).click()
        click(page, "play_step")
        expect(page.get_by_text(re.compile(r"^You predicted it"))).to_be_visible(timeout=30_000)
        if index == 0:
            click(page, "next_step")
    charts = page.get_by_test_id("stVegaLiteChart")
    page.wait_for_function("() => document.querySelectorAll('[data-testid=\"stVegaLiteChart\"] svg').length >= 3",
                           timeout=ACTION_TIMEOUT_MS)
    titles = " | ".join(charts.evaluate_all("cs => cs.map(c => c.querySelector('svg')?.textContent ?? '')"))
    assert "messages queued at the end (messages)" in titles and "stale reads (%)" in titles, titles
    assert "≥ 5" in titles and "> 15" in titles and "< 15" in titles, titles  # the bounds, drawn on the charts
    page.get_by_text(re.compile(r"^Each check's chart")).evaluate("e => e.scrollIntoView()")
    screenshot_main(page, shots / "lesson-evidence.png")
    visit.assert_clean()
