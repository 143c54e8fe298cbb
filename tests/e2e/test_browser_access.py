"""Everyone can use it, on every screen, in a real browser: axe-core finds nothing serious on the six pages, keyboard
focus survives the playground's redraws, the keyboard alone breaks and mends a part, three variants sit side by
side at 1280 px, a phone gets a readable diagram and the comparison one swipe away, and no label leaves its chart.

axe-core comes bundled in axe-playwright-python (nothing is downloaded); the fixtures (the server, Chromium, a visit,
where screenshots go) are in conftest.py. With SANDBOX_UPDATE_SCREENSHOTS=1 this writes docs/playground-three.png,
docs/playground-keyboard.png and docs/playground-phone.png.
"""

from __future__ import annotations

import re

import pytest

from tests.e2e.conftest import VIEWPORT
from tests.e2e.test_browser import (
    CUT_SHORT_JS,
    DRAWN_JS,
    click,
    clock_s,
    open_playground,
    part_health,
    screenshot_main,
    set_speed,
    three_variants,
    wait_for,
)

pytestmark = pytest.mark.browser
SERIOUS = ("serious", "critical")

SETTLED_JS = """() => !document.querySelector('[data-testid="stStatusWidget"]')
  && !document.querySelector('[data-stale="true"]')"""
"""Streamlit has finished the run: no "running" widget, no element faded while it is replaced."""

TEXTS_OUTSIDE = """svg => { const box = svg.getBoundingClientRect();
  return Array.from(svg.querySelectorAll('text')).filter(text => {
    const r = text.getBoundingClientRect();
    return r.width > 0 && (r.left < box.left - 3 || r.right > box.right + 3 || r.top < box.top - 3
      || r.bottom > box.bottom + 3);
  }).map(text => `${svg.dataset.chart || 'chart'}: ${text.textContent.trim()}`); }"""
"""The texts of one chart whose box reaches past the chart's by more than a font's leading (3 px): a label cut
short at the edge ("revive u") is a word's width out."""
OUTSIDE_JS = f"selector => Array.from(document.querySelectorAll(selector)).flatMap({TEXTS_OUTSIDE})"
OUTSIDE_ONE_JS = f"chart => ({TEXTS_OUTSIDE})(chart.querySelector('svg'))"

OVERLAPS_JS = """() => Array.from(document.querySelectorAll('svg.pol-chart-svg')).flatMap(svg => {
  const labels = Array.from(svg.querySelectorAll('.pol-mark-label'), t => t.getBoundingClientRect());
  const hits = [];
  labels.forEach((a, i) => labels.slice(i + 1).forEach(b => {
    if (a.left < b.right && b.left < a.right && a.top < b.bottom && b.top < a.bottom) hits.push(svg.dataset.chart);
  }));
  return hits;
})"""
"""Every chart where two moment numbers overlap."""

FOCUS_JS = """() => { const e = document.activeElement; return e ? {id: e.id, fresh: !e.__seen,
  label: e.getAttribute('aria-label') || e.innerText?.trim().slice(0, 40) || '', tag: e.tagName} : null; }"""
MARK_FOCUSED_JS = "() => { document.activeElement.__seen = true; }"
TAB_STOPS = 70
"""More Tab presses than the paused playground has stops (about 45): a walk this long goes round it all."""


def settle(page) -> None:
    page.wait_for_function(SETTLED_JS, timeout=30_000)
    page.wait_for_timeout(600)


def serious_violations(page) -> list[str]:
    """axe-core's serious and critical violations on the page as it is, one line each with where."""
    from axe_playwright_python.sync_playwright import Axe

    settle(page)
    violations = Axe().run(page).response["violations"]
    return [f"{v['impact']} {v['id']}: {[n['target'] for n in v['nodes'][:4]]}" for v in violations
            if v["impact"] in SERIOUS]


def go(page, name: str) -> None:
    page.get_by_test_id("stSidebarNav").get_by_role("link", name=name).click()
    settle(page)


def test_axe_finds_nothing_serious_on_the_six_pages_in_use(visit):
    from playwright.sync_api import expect

    page = open_playground(visit, query="")  # the guided run open
    found = {"Playground (tour)": serious_violations(page)}
    click(page, "tour_skip")
    set_speed(page, "20×")
    click(page, "do_kill")
    wait_for(lambda: part_health(page, "sync", "user") == "down", 10, "the User Service down")
    page.locator('section[data-variant="queue"] [data-part="user"]').click()  # its menu open
    found["Playground (kill, menu)"] = serious_violations(page)
    page.keyboard.press("Escape")
    set_speed(page, "pause")
    found["Playground (paused)"] = serious_violations(page)

    go(page, "Scenarios")
    found["Scenarios"] = serious_violations(page)
    click(page, "run")
    expect(page.get_by_role("heading", name=re.compile("expectations hold"))).to_be_visible(timeout=30_000)
    found["Scenarios (a run)"] = serious_violations(page)

    go(page, "Lessons")
    found["Lessons"] = serious_violations(page)
    page.get_by_role("radiogroup", name="your prediction").locator("label").first.click()
    click(page, "play_step")
    expect(page.get_by_test_id("stVegaLiteChart").first).to_be_visible(timeout=30_000)
    found["Lessons (a step run)"] = serious_violations(page)

    go(page, "Challenges")
    found["Challenges"] = serious_violations(page)
    click(page, "try_challenge")
    expect(page.get_by_role("heading", name="Try 1")).to_be_visible(timeout=30_000)
    found["Challenges (a try)"] = serious_violations(page)

    go(page, "Interview")
    found["Interview"] = serious_violations(page)
    click(page, "reveal")
    found["Interview (the answer)"] = serious_violations(page)

    go(page, "About")
    found["About"] = serious_violations(page)
    assert {page_name: lines for page_name, lines in found.items() if lines} == {}
    visit.assert_clean()


def test_keyboard_focus_survives_five_redraws_of_the_running_playground(visit):
    page = open_playground(visit)
    box = page.locator('section[data-variant="sync"] [data-part="user"]')
    box.focus()
    box_id = box.get_attribute("id")
    assert box_id and page.evaluate(FOCUS_JS)["id"] == box_id
    redraws = 0
    while redraws < 5:
        page.evaluate(MARK_FOCUSED_JS)  # a redraw that replaces the box replaces this marked node

        def replaced() -> dict | None:
            now = page.evaluate(FOCUS_JS)
            return now if now and now["fresh"] else None

        focused = wait_for(replaced, 15, f"redraw {redraws + 1} to replace the focused part")
        assert focused["id"] == box_id, f"focus lost at redraw {redraws + 1}: now on {focused}"
        redraws += 1
    visit.assert_clean()


def test_the_keyboard_alone_reaches_every_control_and_breaks_and_mends_a_part(visit, shots):
    from playwright.sync_api import expect

    page = open_playground(visit)
    set_speed(page, "pause")
    seen: list[dict] = []
    for _ in range(TAB_STOPS):  # round the whole page, and on round again to the diagram's User Service
        page.keyboard.press("Tab")
        seen.append(page.evaluate(FOCUS_JS) or {})
    while seen[-1].get("id") != "pol-box-sync-user" and len(seen) < 2 * TAB_STOPS:
        page.keyboard.press("Tab")
        seen.append(page.evaluate(FOCUS_JS) or {})
    labels = " | ".join(f.get("label", "") for f in seen)
    for control in ("Scenarios", "About", "target", "kill", "revive", "hang", "heal", "heal everything", "more:",
                    "pause", "20×", "step 1 s", "variants & seed", "save as scenario", "Author Service:",
                    "Blog Service:", "RabbitMQ:", "cache-worker:", "the messages one by one"):
        assert control in labels, f"{control!r} is never reached by Tab: {labels}"
    assert seen[-1].get("id") == "pol-box-sync-user", f"the diagram's User Service never takes the focus: {labels}"

    page.keyboard.press("Enter")  # its menu, focus on the first verb
    menu = page.locator(".pol-menu")
    expect(menu.get_by_role("menuitem", name="kill")).to_be_focused()
    page.keyboard.press("ArrowDown")
    page.keyboard.press("ArrowDown")
    expect(menu.get_by_role("menuitem", name="hang")).to_be_focused()
    screenshot_main(page, shots / "playground-keyboard.png")
    page.keyboard.press("Enter")
    wait_for(lambda: part_health(page, "sync", "user") == "hung", 10, "the User Service hung by keyboard")
    expect(menu).to_have_count(0)
    wait_for(lambda: page.evaluate(FOCUS_JS)["id"] == "pol-box-sync-user", 5, "the focus back on the part")

    page.keyboard.press(" ")  # Space opens it too; the last item is "only in sync", the one before it "heal"
    page.keyboard.press("End")
    page.keyboard.press("Enter")
    expect(menu.get_by_role("menuitemcheckbox")).to_have_attribute("aria-checked", "true")
    page.keyboard.press("ArrowUp")
    page.keyboard.press("Enter")
    wait_for(lambda: part_health(page, "sync", "user") == "up", 10, "sync's User Service healed by keyboard")
    page.keyboard.press("Escape")

    sidebar_kill = page.locator(".st-key-do_kill").get_by_role("button")
    for _ in range(60):  # back through the page to the sidebar's kill button, by Shift+Tab only
        page.keyboard.press("Shift+Tab")
        if sidebar_kill.evaluate("b => b === document.activeElement"):
            break
    expect(sidebar_kill).to_be_focused()
    page.keyboard.press("Enter")
    wait_for(lambda: part_health(page, "queue", "user") == "down", 10, "a kill from the sidebar by keyboard")
    visit.assert_clean()


def test_three_variants_sit_side_by_side_at_1280_with_every_label_inside(visit, shots):
    page = open_playground(visit)
    set_speed(page, "pause")  # a page that does not redraw under the pointer while the variants are picked
    three_variants(page)
    set_speed(page, "5×")  # three variants at 20× can outrun a busy two-core machine
    wait_for(lambda: clock_s(page) >= 30, 45, "some history")
    for _ in range(3):  # moments close together, to try the numbers' rows
        click(page, "do_kill")
        page.wait_for_timeout(250)
        click(page, "do_revive")
        page.wait_for_timeout(250)
    click(page, "do_kill")
    wait_for(lambda: clock_s(page) >= 80, 45, "the cascade")
    set_speed(page, "pause")
    page.wait_for_timeout(800)
    assert page.locator(".pol-live").get_attribute("data-mode") == "columns"
    names = ("sync", "queue", "queue-outbox")
    boxes = [page.locator(f'section[data-variant="{name}"]').bounding_box() for name in names]
    assert len({round(b["y"]) for b in boxes}) == 1, boxes  # one row
    assert boxes[0]["x"] < boxes[1]["x"] < boxes[2]["x"] and boxes[2]["x"] + boxes[2]["width"] <= VIEWPORT["width"]
    assert all(b["width"] >= 250 for b in boxes), boxes
    for name in names:  # the compact diagram, its text big enough to read
        diagram = page.locator(f'section[data-variant="{name}"] .pol-svg')
        assert diagram.get_attribute("viewBox") == "0 0 340 250"
        title = diagram.locator(".pol-title").first.bounding_box()
        assert title["height"] >= 9, (name, title)
        latency = page.locator(f'section[data-variant="{name}"] .pol-chart[data-chart="latency"]').bounding_box()
        assert latency["y"] + latency["height"] <= VIEWPORT["height"] + 120, (name, latency)  # the story fits
    assert page.evaluate(CUT_SHORT_JS) == []
    assert page.evaluate(OUTSIDE_JS, "svg.pol-chart-svg") == []
    assert page.evaluate(OVERLAPS_JS) == []
    assert page.evaluate(OUTSIDE_JS, "svg.pol-svg") == []  # nor a diagram's words past its diagram
    screenshot_main(page, shots / "playground-three.png")

    page.locator('section[data-variant="queue-outbox"] [data-part="cache-worker"]').click()  # the rightmost part
    menu = page.locator(".pol-menu").bounding_box()
    assert menu and menu["x"] >= 0 and menu["x"] + menu["width"] <= VIEWPORT["width"], menu
    assert menu["y"] + menu["height"] <= VIEWPORT["height"], menu
    visit.assert_clean()


def test_the_charts_of_scenarios_and_lessons_keep_their_labels_inside(visit):
    from playwright.sync_api import expect

    page = visit.page
    page.goto(visit.url + "/?tour=done")
    go(page, "Scenarios")
    picker = page.get_by_role("combobox", name="scenario")
    picker.click()
    page.get_by_role("option", name=re.compile(r"^broker-cluster — ")).click()  # six moments, three variants
    click(page, "run")
    expect(page.get_by_role("heading", name=re.compile("expectations hold"))).to_be_visible(timeout=30_000)
    assert _every_chart_keeps_its_labels(page, 15) == 15  # five panels of three variants
    go(page, "Lessons")
    page.get_by_role("radiogroup", name="your prediction").locator("label").first.click()
    click(page, "play_step")
    expect(page.get_by_test_id("stVegaLiteChart").first).to_be_visible(timeout=30_000)
    assert _every_chart_keeps_its_labels(page, 3) >= 3
    visit.assert_clean()


def _every_chart_keeps_its_labels(page, at_least: int) -> int:
    """Bring each Vega-Lite chart of the page into view (they draw when seen) and assert none of its texts reaches
    past it; returns how many were looked at (once there are `at_least`; a folded expander's are not seen)."""
    page.wait_for_function("n => document.querySelectorAll('[data-testid=\"stVegaLiteChart\"]').length >= n",
                           arg=at_least, timeout=30_000)
    settle(page)
    charts = page.get_by_test_id("stVegaLiteChart")
    looked = 0
    for index in range(charts.count()):
        chart = charts.nth(index)
        if chart.evaluate("c => c.closest('details') && !c.closest('details').open"):
            continue  # in a folded expander
        chart.scroll_into_view_if_needed()
        chart.locator("svg").first.wait_for()
        outside = chart.evaluate(OUTSIDE_ONE_JS)
        assert outside == [], (index, outside)
        looked += 1
    return looked


def test_a_phone_reads_the_diagram_and_swipes_to_the_comparison(browser, app_url, shots):
    from tests.e2e.conftest import ACTION_TIMEOUT_MS

    context = browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True,
                                  device_scale_factor=2, service_workers="block")
    context.set_default_timeout(ACTION_TIMEOUT_MS)
    context.route(lambda url: not url.startswith(("http://127.0.0.1", "data:", "blob:", "about:")),
                  lambda route: route.abort("blockedbyclient"))
    try:
        page = context.new_page()
        page.goto(app_url + "/?tour=done")
        page.wait_for_function(DRAWN_JS, arg=10, timeout=30_000)
        page.wait_for_timeout(800)
        assert page.locator(".pol-live").get_attribute("data-mode") == "swipe"
        sync, queue = (page.locator(f'section[data-variant="{v}"]') for v in ("sync", "queue"))
        first = sync.bounding_box()
        assert first["x"] >= 0 and first["x"] + first["width"] <= 390, first
        title = sync.locator(".pol-svg .pol-title").first.bounding_box()
        assert title["height"] >= 10, title  # about 6 px before: the full diagram squeezed into a phone
        main = page.get_by_test_id("stMain")
        assert main.evaluate("m => m.scrollWidth <= m.clientWidth"), "the page itself scrolls sideways"
        screenshot_main(page, shots / "playground-phone.png")
        grid = page.locator(".pol-grid")
        grid.evaluate("g => g.scrollBy({left: g.clientWidth, behavior: 'instant'})")  # one swipe
        page.wait_for_timeout(400)
        shown = queue.bounding_box()
        assert 0 <= shown["x"] < 40 and shown["x"] + shown["width"] <= 390, shown
    finally:
        context.close()
