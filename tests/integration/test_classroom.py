"""`post-office-lab open --workers N`: N Streamlit processes behind a sticky nginx, run for real on loopback.

Skipped without nginx (failed instead with SANDBOX_REQUIRE_LIVE=1); .ci/run installs it."""

from __future__ import annotations

import socket
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from sandbox.live.processes.ports import free_port
from sandbox.ui import classroom
from sandbox.ui.launch import LaunchError
from tests.helpers import classroom_of_two

ROOT = Path(__file__).resolve().parents[2]
COOKIES = 20


def sandbox(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "sandbox", *args], cwd=ROOT, capture_output=True, text=True,
                          timeout=120)


@pytest.mark.parametrize("workers", [0, classroom.MAX_WORKERS + 1, -3])
def test_a_number_of_workers_out_of_range_is_one_clear_refusal(workers):
    done = sandbox("open", "--workers", str(workers), "--port", str(free_port()))
    assert done.returncode == 2
    assert done.stderr.strip() == (f"error: --workers {workers} is out of range: use 1 to {classroom.MAX_WORKERS} "
                                   f"(two per core of this machine's {classroom.MAX_WORKERS // 2})")
    assert not done.stdout


def test_a_port_in_use_is_one_clear_refusal_before_anything_starts():
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        done = sandbox("open", "--workers", "2", "--port", str(port))
    assert done.returncode == 2
    (line,) = done.stderr.splitlines()
    assert line.startswith(f"error: port {port} on 127.0.0.1 is already in use")


def test_without_nginx_the_message_says_how_to_install_it(monkeypatch):
    monkeypatch.setattr(classroom.shutil, "which", lambda name: None)
    monkeypatch.setattr(classroom, "NGINX_PATHS", ("/nonexistent/nginx",))
    with pytest.raises(LaunchError, match=r"needs nginx .* not installed: apt-get install nginx"):
        classroom.find_nginx()


def test_behind_a_proxy_others_reach_the_workers_refuse_learners_code_unless_allowed():
    assert classroom.worker_env(loopback=False, allow_code=False, env={})[classroom.ALLOW_CODE_ENV] == "0"
    assert classroom.worker_env(loopback=False, allow_code=True, env={})[classroom.ALLOW_CODE_ENV] == "1"
    assert classroom.ALLOW_CODE_ENV not in classroom.worker_env(loopback=True, allow_code=False,
                                                                env={classroom.ALLOW_CODE_ENV: "1"})


@pytest.fixture(scope="module")
def two_workers():
    with classroom_of_two() as (url, running):
        yield url, running
    assert all(process.poll() is not None for process in running.processes), "a process outlived the classroom"


def worker_of(response: httpx.Response) -> str:
    return response.headers[classroom.WORKER_HEADER]


def as_browser(cookie: str) -> dict[str, str]:
    """The Cookie header of a browser that already holds the proxy's cookie `cookie`."""
    return {"Cookie": f"{classroom.COOKIE}={cookie}"}


def test_a_new_browser_gets_the_cookie_and_stays_on_the_worker_that_served_its_page(two_workers):
    url, running = two_workers
    with httpx.Client(trust_env=False, timeout=10) as browser:
        first = browser.get(url + "/")
        assert first.status_code == 200 and "streamlit" in first.text.lower()
        assert classroom.COOKIE in browser.cookies
        worker = worker_of(first)
        assert worker in {f"127.0.0.1:{p}" for p in running.ports}
        for path in ("/", "/_stcore/health", "/_stcore/host-config", "/"):
            again = browser.get(url + path)
            assert worker_of(again) == worker, path
            assert not any(classroom.COOKIE in c for c in again.headers.get_list("set-cookie")), "set once"


def test_browsers_spread_over_both_workers_and_each_cookie_keeps_its_worker(two_workers):
    url, running = two_workers
    seen: dict[str, str] = {}
    with httpx.Client(trust_env=False, timeout=10) as client:
        for n in range(COOKIES):
            cookie = f"browser-{n}"
            seen[cookie] = worker_of(client.get(url + "/_stcore/health", headers=as_browser(cookie)))
        for cookie, worker in seen.items():
            assert worker_of(client.get(url + "/_stcore/health", headers=as_browser(cookie))) == worker
    assert set(seen.values()) == {f"127.0.0.1:{p}" for p in running.ports}


def test_a_websocket_upgrade_reaches_the_cookie_s_worker(two_workers):
    url, _ = two_workers
    with httpx.Client(trust_env=False, timeout=10) as client:
        worker = worker_of(client.get(url + "/_stcore/health", headers=as_browser("ws")))
        upgrade = client.get(url + "/_stcore/stream", headers={
            **as_browser("ws"), "Connection": "Upgrade", "Upgrade": "websocket", "Sec-WebSocket-Version": "13",
            "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ==", "Sec-WebSocket-Protocol": "streamlit"})
    assert upgrade.status_code == 101
    assert worker_of(upgrade) == worker
