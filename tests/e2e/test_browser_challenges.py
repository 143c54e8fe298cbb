"""A challenge solved in a real browser: the learner changes a knob on the Challenges page, tries it, and every goal
holds on every judged seed; the page then shows what the design cost against par ("you used 2 cache-workers; par
is 2"), and a design that passes with more is over par.

After each try the page brings the verdict into the window (it used to land below the fold). The reference
solution stays closed until the learner has tried a design of their own. With SANDBOX_UPDATE_SCREENSHOTS=1 it
writes docs/challenge-verdict.png and docs/challenge-par.png. Reuses the Streamlit server and the Chromium of
test_browser.py (Debian's /usr/bin/chromium through Playwright,
never `playwright install`, every request not to 127.0.0.1 blocked).
"""

from __future__ import annotations

import re

import pytest

from sandbox.teach.challenges import load_challenges
from tests.e2e.conftest import VIEWPORT
from tests.e2e.test_browser import app_url, browser, screenshot_main, visit  # noqa: F401 (the fixtures it uses)

pytestmark = pytest.mark.browser

CHALLENGE = next(c for c in load_challenges() if c.id == "drain-the-spike")


def test_a_challenge_is_solved_by_changing_a_knob_and_each_verdict_comes_into_view(visit, shots):  # noqa: F811
    from playwright.sync_api import expect

    page = visit.page
    page.goto(visit.url)
    page.get_by_test_id("stSidebarNav").get_by_role("link", name="Challenges").click()
    page.get_by_test_id("stSidebar").get_by_text(CHALLENGE.title).click()
    expect(page.get_by_role("heading", name=CHALLENGE.title)).to_be_visible()

    consumers = page.locator(".st-key-drain-the-spike__consumer_count").locator("input")
    expect(consumers).to_have_value("1")
    expect(page.get_by_text("the reference solution", exact=True)).to_have_count(0)
    page.locator(".st-key-try_challenge").get_by_role("button").click()
    verdict = page.get_by_text(re.compile(r"^Not yet: 1 of 2 goals hold on every seed"))
    expect(verdict).to_be_visible(timeout=30_000)
    page.wait_for_timeout(800)  # the page scrolls the verdict into view once it is drawn
    box = verdict.bounding_box()  # in the window without a scroll by hand: it was below the fold at y = 832
    assert box is not None and box["y"] >= 0 and box["y"] + box["height"] <= VIEWPORT["height"], box
    screenshot_main(page, shots / "challenge-verdict.png")

    consumers.fill("2")
    consumers.press("Enter")
    expect(consumers).to_have_value("2")
    page.locator(".st-key-try_challenge").get_by_role("button").click()
    solved = page.get_by_text(re.compile(r"^Solved: all 2 goals hold on all \d+ seeds with queue; consumer.count = 2"))
    expect(solved).to_be_visible(timeout=30_000)
    page.wait_for_timeout(800)
    box = solved.bounding_box()
    assert box is not None and box["y"] >= 0 and box["y"] + box["height"] <= VIEWPORT["height"], box
    checks = page.get_by_text(re.compile(r"^✅ "))
    expect(checks).to_have_count(len(CHALLENGE.scenario.expectations))
    expect(page.get_by_text("the reference solution", exact=True)).to_be_visible()
    expect(page.get_by_text("you used 2 cache-workers; par is 2 — at par")).to_be_visible()

    consumers.fill("3")
    consumers.press("Enter")
    expect(consumers).to_have_value("3")
    page.locator(".st-key-try_challenge").get_by_role("button").click()
    expect(page.get_by_text(re.compile(r"^Solved: all 2 goals hold on all \d+ seeds with queue; consumer.count = 3"))
           ).to_be_visible(timeout=30_000)
    over = page.get_by_text("you used 3 cache-workers; par is 2 — over par")
    expect(over).to_be_visible()
    page.wait_for_timeout(800)
    box = over.bounding_box()
    assert box is not None and box["y"] >= 0 and box["y"] + box["height"] <= VIEWPORT["height"], box
    screenshot_main(page, shots / "challenge-par.png")
    visit.assert_clean()
