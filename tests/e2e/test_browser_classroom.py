"""A classroom through the sticky proxy: two browser sessions on `open --workers 2`, each keeping its own playground.

Two Chromium contexts (two learners, two cookie jars) open the playground through nginx. The second learner's cookie
is one the proxy hashes to the other worker, so the two run on different processes. One breaks a part; after a
reload of both, the first still sees it broken and its log names the kill, the second sees its own untouched
playground, and each page came from the same worker as before the reload.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import httpx
import pytest

from sandbox.ui import classroom
from tests.e2e.conftest import ACTION_TIMEOUT_MS, VIEWPORT, Visit, _loopback
from tests.e2e.test_browser import CHARTS_PER_VARIANT, DRAWN_JS, click, part_health, wait_for
from tests.helpers import classroom_of_two

pytestmark = pytest.mark.browser
COOKIE_TRIES = 64


@pytest.fixture(scope="module")
def classroom_url():
    with classroom_of_two() as running:
        yield running


@contextlib.contextmanager
def learner(browser, url: str, cookie: str | None = None) -> Iterator[Visit]:
    """A browser context of its own (a learner), every request beyond 127.0.0.1 blocked and recorded."""
    context = browser.new_context(viewport=VIEWPORT, service_workers="block")
    context.set_default_timeout(ACTION_TIMEOUT_MS)
    seen = Visit(page=None, url=url)

    def block(route) -> None:
        seen.left_loopback.append(route.request.url)
        route.abort("blockedbyclient")

    try:
        context.route(lambda u: not _loopback(u), block)
        if cookie:
            context.add_cookies([{"name": classroom.COOKIE, "value": cookie, "url": url}])
        seen.page = context.new_page()
        seen.page.on("pageerror", lambda exc: seen.page_errors.append(str(exc)))
        yield seen
    finally:
        context.close()


def open_page(visit: Visit, reload: bool = False) -> str:
    """Open (or reload) the playground and wait until it is drawn; the worker that served the page."""
    page = visit.page
    response = page.reload() if reload else page.goto(visit.url + "/?tour=done")
    assert response is not None and response.ok
    page.wait_for_function(DRAWN_JS, arg=2 * CHARTS_PER_VARIANT, timeout=30_000)
    return response.headers[classroom.WORKER_HEADER.lower()]


def cookie_on_another_worker(url: str, worker: str) -> str:
    """A cookie value the proxy sends to a worker other than `worker`."""
    with httpx.Client(trust_env=False, timeout=10) as client:
        for n in range(COOKIE_TRIES):
            value = f"learner-{n}"
            answer = client.get(url + "/_stcore/health", headers={"Cookie": f"{classroom.COOKIE}={value}"})
            if answer.headers[classroom.WORKER_HEADER] != worker:
                return value
    raise AssertionError(f"no cookie of {COOKIE_TRIES} reached another worker than {worker}")


def test_two_learners_on_two_workers_each_keep_their_own_playground_across_a_reload(browser, classroom_url):
    url, running = classroom_url
    with learner(browser, url) as first:
        first_worker = open_page(first)
        with learner(browser, url, cookie_on_another_worker(url, first_worker)) as second:
            second_worker = open_page(second)
            assert {first_worker, second_worker} == {f"127.0.0.1:{p}" for p in running.ports}

            click(first.page, "do_kill")
            wait_for(lambda: part_health(first.page, "sync", "user") == "down", 15, "the first learner's kill")
            assert part_health(second.page, "sync", "user") == "up"

            assert open_page(first, reload=True) == first_worker
            assert open_page(second, reload=True) == second_worker
            wait_for(lambda: part_health(first.page, "sync", "user") == "down", 15, "the kill kept across the reload")
            assert "kill user" in first.page.locator(".pol-log").inner_text()
            assert part_health(second.page, "sync", "user") == "up"
            assert "kill user" not in second.page.locator(".pol-log").inner_text()
            for visit in (first, second):
                visit.assert_clean()
