"""`python -m sandbox lab up | status | down`: a standing lab an outside producer can drive, gone without a trace."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pika
import pytest

from sandbox.live.servers import START_RABBITMQ, LabUnavailable, check_rabbitmq
from tests.helpers import RABBITMQ_URL, one_at_a_time, unavailable

pytestmark = pytest.mark.live
ROOT = Path(__file__).resolve().parents[3]


def lab(action: str, lab_dir: Path) -> subprocess.CompletedProcess[str]:
    """`python -m sandbox lab ACTION` with its run folders in a temporary folder of its own: what a killed lab left is
    swept by the next lab of this test, not by a live run another test starts meanwhile."""
    temp = lab_dir / "tmp"
    temp.mkdir(exist_ok=True)
    return subprocess.run([sys.executable, "-m", "sandbox", "lab", action], cwd=ROOT, capture_output=True, text=True,
                          timeout=120, env={**os.environ, "SANDBOX_LAB_DIR": str(lab_dir), "TMPDIR": str(temp)})


def gone(pid: int, within_s: float = 10.0) -> bool:
    deadline = time.monotonic() + within_s
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
            with open(f"/proc/{pid}/stat") as stat:
                if stat.read().split()[2] == "Z":
                    return True
        except (ProcessLookupError, FileNotFoundError):
            return True
        time.sleep(0.1)
    return False


@pytest.fixture(autouse=True)
def the_only_standing_lab():
    """One standing lab per broker: no other test starts one meanwhile (on another pytest-xdist worker)."""
    with one_at_a_time("standing-lab"):
        yield


@pytest.fixture
def running_lab(tmp_path):
    try:
        check_rabbitmq(RABBITMQ_URL)
    except LabUnavailable as exc:
        unavailable(str(exc), START_RABBITMQ)
    started = lab("up", tmp_path)
    assert started.returncode == 0, started.stdout + started.stderr
    state = json.loads((tmp_path / "state.json").read_text())
    try:
        yield tmp_path, state
    finally:
        lab("down", tmp_path)


def test_up_status_and_a_producer_in_any_language_drives_the_worker(running_lab):
    lab_dir, state = running_lab
    again = lab("up", lab_dir)
    assert again.returncode == 2 and again.stderr.count("\n") == 1, "up again: refused in one line"
    assert f"a standing lab already runs: process {state['pid']}" in again.stderr
    report = lab("status", lab_dir).stdout
    assert report.count("healthy") == 6 and "NOT ANSWERING" not in report
    assert_serves(state)


def test_down_leaves_no_process_and_neither_does_killing_the_lab(tmp_path):
    try:
        check_rabbitmq(RABBITMQ_URL)
    except LabUnavailable as exc:
        unavailable(str(exc), START_RABBITMQ)
    for stop in ("down", "SIGKILL"):
        assert lab("up", tmp_path).returncode == 0
        state = json.loads((tmp_path / "state.json").read_text())
        children = list(state["processes"].values())
        assert len(children) == 7, "three services per variant and the queue variant's worker"
        if stop == "down":
            assert lab("down", tmp_path).stdout.strip() == "the lab is down"
        else:
            os.kill(state["pid"], signal.SIGKILL)
        assert gone(state["pid"])
        assert all(gone(pid) for pid in children), f"a lab process outlived `{stop}`"
        assert "no lab runs" in lab("status", tmp_path).stdout
    # the next lab sweeps what the killed one left on the broker, in Redis and in the temporary folder, and says so
    again = lab("up", tmp_path)
    try:
        assert again.returncode == 0, again.stderr
        swept = [line for line in again.stdout.splitlines() if "swept what" in line]
        assert swept and str(state["pid"]) in swept[0] and "queue" in swept[0], again.stdout
    finally:
        assert lab("down", tmp_path).stdout.strip() == "the lab is down"


def test_two_labs_started_together_the_second_is_refused_naming_the_first_which_keeps_serving(tmp_path):
    try:
        check_rabbitmq(RABBITMQ_URL)
    except LabUnavailable as exc:
        unavailable(str(exc), START_RABBITMQ)
    clones = [tmp_path / "one", tmp_path / "two"]
    ups = [subprocess.Popen([sys.executable, "-m", "sandbox", "lab", "up"], cwd=ROOT, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            env={**os.environ, "SANDBOX_LAB_DIR": str(clone)}) for clone in clones]
    outputs = [up.communicate(timeout=120) for up in ups]
    try:
        assert sorted(up.returncode for up in ups) == [0, 2], outputs
        first = [up.returncode for up in ups].index(0)
        state = json.loads((clones[first] / "state.json").read_text())
        refused = outputs[1 - first][1]
        assert refused.count("\n") == 1 and "another standing lab owns the queue cache-invalidation" in refused
        assert f"process {state['pid']}, checkout " in refused
        assert "no lab runs" in lab("status", clones[1 - first]).stdout
        assert lab("down", clones[1 - first]).stdout.strip() == "no lab was running"
        assert_serves(state)  # `down` in the other clone deleted nothing of the first lab's
    finally:
        for clone in clones:
            lab("down", clone)


def assert_serves(state: dict) -> None:
    """An outside producer's invalidation reaches the lab's worker: a cached list is dropped."""
    queue = state["services"]["queue"]
    with httpx.Client(timeout=5) as client:
        written = client.post(f"{queue['author']}/blogs", json={"title": "t", "body": "b", "author_id": 1})
        assert written.status_code == 201
        deadline = time.monotonic() + 10
        while not client.get(f"{queue['blog']}/blogs").json()["cached"]:
            assert time.monotonic() < deadline, "the list never got cached"
            time.sleep(0.1)
        connection = pika.BlockingConnection(pika.URLParameters(RABBITMQ_URL))
        connection.channel().basic_publish("", "cache-invalidation",
                                           b'{"action":"invalidateCache","keys":["blogs:*"]}')
        connection.close()
        deadline = time.monotonic() + 10
        while client.get(f"{queue['blog']}/blogs").json()["cached"]:
            assert time.monotonic() < deadline, "the outside message never invalidated the cache"
            time.sleep(0.05)
