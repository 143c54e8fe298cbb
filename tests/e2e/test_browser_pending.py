"""A click on a part's menu shows at once: the part is drawn in its new state, marked pending, in the same task as
the click (before any answer from the server can arrive); the server's answer then confirms it, and the action is
recorded once."""

from __future__ import annotations

import pytest

from tests.e2e.test_browser import open_playground, part_health, saved_timeline, set_speed, wait_for

pytestmark = pytest.mark.browser

CLICK_AND_LOOK_JS = """([variant, verb]) => {
  document.querySelector(`.pol-menu button[data-verb="${verb}"]`).click();
  const box = document.querySelector(`section[data-variant="${variant}"] [data-part="user"]`);
  return {health: box.dataset.health, pending: box.dataset.pending ?? null, label: box.getAttribute('aria-label')};
}"""
"""Click a verb of the open menu and read the User Service's box in the same task: nothing from the server yet."""


def pending(page, variant: str) -> str | None:
    return page.locator(f'section[data-variant="{variant}"] [data-part="user"]').get_attribute("data-pending")


def test_a_kill_from_the_menu_is_drawn_at_once_as_pending_then_confirmed_and_recorded_once(visit):
    page = open_playground(visit)
    set_speed(page, "pause")
    page.locator('section[data-variant="sync"] [data-part="user"]').click()
    seen = page.evaluate(CLICK_AND_LOOK_JS, ["sync", "kill"])
    assert seen["health"] == "down" and seen["pending"] == "true", seen
    assert "not yet confirmed" in seen["label"]
    assert part_health(page, "queue", "user") == "down", "without `only`, the click shows in every variant"
    wait_for(lambda: pending(page, "sync") is None and part_health(page, "sync", "user") == "down", 10,
             "the server to confirm the kill")
    assert pending(page, "queue") is None and part_health(page, "queue", "user") == "down"
    assert [(a["do"], a["target"]) for a in saved_timeline(page)] == [("kill", "user")]
    visit.assert_clean()


def test_a_click_that_changes_nothing_is_not_marked_pending(visit):
    page = open_playground(visit)
    set_speed(page, "pause")
    page.locator('section[data-variant="sync"] [data-part="user"]').click()
    seen = page.evaluate(CLICK_AND_LOOK_JS, ["sync", "revive"])
    assert seen == {"health": "up", "pending": None, "label": seen["label"]}
    visit.assert_clean()
