"""One server, many learners: an uploaded scenario's heaviest allowed run stalls nobody, and its text fetches nothing.

The worst run the request budget allows is uploaded on the Scenarios page and run. Meanwhile the server's health
check is asked every 0.2 s with a 1 s timeout, the bound a classroom's load balancer would use (before the request
budget, an upload at 10 million reads/s had it time out for 30 s); it must answer every time. The run goes in a
process of its own (`run_isolated`), so its memory and wall time are capped too; those caps are tested in
tests/integration/test_isolated_runs.py. The upload's summary and `why` hold Markdown
images pointing off the machine: the page must draw them as text and request nothing beyond 127.0.0.1.
"""

from __future__ import annotations

import re
import threading
import time
from pathlib import Path

import httpx

from tests.e2e.test_browser import click

HEALTH_TIMEOUT_S = 1.0
HEALTH_EVERY_S = 0.2
RUN_TIMEOUT_MS = 120_000
WORST_ALLOWED = """
title = "worst allowed"
summary = "One variant at the budget's edge. ![pixel](http://example.invalid/pixel.png)"
duration = 300
[load]
reads_per_s = 950
writes_per_s = 0
[variants.queue]
architecture = "queue"
[[expect]]
variant = "queue"
metric = "read.error_rate"
below = 0.5
why = "nothing breaks ![beacon](http://example.invalid/beacon.png)"
"""


class HealthPoller(threading.Thread):
    """Asks the server's health check until stopped; keeps every failure (a timeout included) with its moment, in
    seconds since the poller was made."""

    def __init__(self, url: str) -> None:
        super().__init__(daemon=True)
        self.url = url + "/_stcore/health"
        self.answered = 0
        self.failures: list[str] = []
        self.stopping = threading.Event()
        self.started_at = time.monotonic()

    def run(self) -> None:
        with httpx.Client(trust_env=False, timeout=HEALTH_TIMEOUT_S) as client:
            while not self.stopping.wait(HEALTH_EVERY_S):
                at = f"{time.monotonic() - self.started_at:.1f} s"
                try:
                    if client.get(self.url).text == "ok":
                        self.answered += 1
                    else:
                        self.failures.append(f"{at}: not ok")
                except httpx.HTTPError as exc:
                    self.failures.append(f"{at}: {exc!r}")


def test_the_heaviest_allowed_upload_stalls_no_one_and_fetches_nothing(visit, tmp_path: Path):
    from playwright.sync_api import expect

    upload = tmp_path / "worst.toml"
    upload.write_text(WORST_ALLOWED)
    page = visit.page
    page.goto(visit.url + "/?tour=done")
    page.get_by_test_id("stSidebarNav").get_by_role("link", name="Scenarios").click()
    page.get_by_text("upload a TOML file").click()
    page.get_by_test_id("stFileUploaderDropzoneInput").set_input_files(upload)
    expect(page.get_by_text("worst allowed").first).to_be_visible()

    poller = HealthPoller(visit.url)
    poller.start()
    try:
        click(page, "run")
        verdict = page.get_by_role("heading", name=re.compile(r"expectations hold"))
        expect(verdict).to_be_visible(timeout=RUN_TIMEOUT_MS)
    finally:
        poller.stopping.set()
        poller.join()
    assert verdict.inner_text().startswith("✅ 1/1"), verdict.inner_text()
    assert poller.answered > 0 and not poller.failures, poller.failures
    page.get_by_text("worst allowed — what it does").click()
    expect(page.get_by_text(re.compile(r"!\[pixel\]\(http://example\.invalid/pixel\.png\)"))).to_be_visible()
    expect(page.get_by_text(re.compile(r"!\[beacon\]"))).to_be_visible()
    visit.assert_clean()
