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

from sandbox.live.broker import Topology
from sandbox.live.policies import Policies, QueuePolicy
from sandbox.live.servers import START_RABBITMQ, LabUnavailable, check_rabbitmq
from tests.helpers import RABBITMQ_URL, unavailable
from tests.integration.live.support import management_api, rabbit_channel

pytestmark = pytest.mark.live
ROOT = Path(__file__).resolve().parents[3]


def lab(action: str, lab_dir: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "sandbox", "lab", action], cwd=ROOT, capture_output=True, text=True,
                          timeout=120, env={**os.environ, "SANDBOX_LAB_DIR": str(lab_dir)})


def forget_standing_lab() -> None:
    """What a lab killed by SIGKILL leaves on the broker: its queues, exchanges and policy."""
    connection, channel = rabbit_channel()
    try:
        Topology("cache-invalidation", "user.updated").delete(channel, ("blog.user-updated",))
    finally:
        connection.close()
    api = management_api()
    try:
        Policies(RABBITMQ_URL, api).clear(QueuePolicy("cache-invalidation", {}))
    finally:
        api.close()


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
    assert "the cache-worker consumes 'cache-invalidation'" in lab("up", lab_dir).stdout, "up again: same lab"
    report = lab("status", lab_dir).stdout
    assert report.count("healthy") == 6 and "NOT ANSWERING" not in report
    queue = state["services"]["queue"]
    with httpx.Client(timeout=5) as client:
        written = client.post(f"{queue['author']}/blogs", json={"title": "t", "body": "b", "author_id": 1})
        assert written.status_code == 201
        deadline = time.monotonic() + 10
        while not client.get(f"{queue['blog']}/blogs").json()["cached"]:
            assert time.monotonic() < deadline, "the list never got cached"
            time.sleep(0.1)
        # what a Node producer's sendToQueue("cache-invalidation", Buffer.from(JSON.stringify(msg))) sends
        connection = pika.BlockingConnection(pika.URLParameters(RABBITMQ_URL))
        connection.channel().basic_publish("", "cache-invalidation",
                                           b'{"action":"invalidateCache","keys":["blogs:*"]}')
        connection.close()
        deadline = time.monotonic() + 10
        while client.get(f"{queue['blog']}/blogs").json()["cached"]:
            assert time.monotonic() < deadline, "the outside message never invalidated the cache"
            time.sleep(0.05)


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
            forget_standing_lab()
        assert gone(state["pid"])
        assert all(gone(pid) for pid in children), f"a lab process outlived `{stop}`"
        assert "no lab runs" in lab("status", tmp_path).stdout
