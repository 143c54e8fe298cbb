"""A live run stopped by SIGTERM cleans up as after Ctrl-C; one killed by SIGKILL is swept by the next run, which
says so. Either way nothing of it remains: no queue, exchange or policy on the broker, no Redis key, no folder, no
process."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
from pathlib import Path

import httpx
import pika
import pika.exceptions
import pytest
import redis

from sandbox.live.processes.runs import RunRecord
from sandbox.live.processes.sweep import sweep
from sandbox.live.servers import START_RABBITMQ, LabUnavailable, check_rabbitmq
from tests.helpers import MANAGEMENT_URL, RABBITMQ_URL, REDIS_URL, unavailable
from tests.integration.live.support import wait_until

pytestmark = pytest.mark.live
ROOT = Path(__file__).resolve().parents[3]

SCENARIO = """id = "left-behind"
title = "a run that is stopped before its end"
duration = {duration}

[load]
reads_per_s = 5
writes_per_s = 2

[variants.sync]
architecture = "sync"

[variants.queue]
architecture = "queue"
"""


def start_run(tmp_path: Path, duration_s: int) -> tuple[subprocess.Popen[str], Path]:
    """`python -m sandbox run ... --engine live` with its temporary folders under `tmp_path/tmp`."""
    temp = tmp_path / "tmp"
    temp.mkdir(exist_ok=True)
    scenario = tmp_path / f"run-{duration_s}.toml"
    scenario.write_text(SCENARIO.format(duration=duration_s))
    process = subprocess.Popen([sys.executable, "-m", "sandbox", "run", str(scenario), "--engine", "live"], cwd=ROOT,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                               env={**os.environ, "TMPDIR": str(temp)})
    return process, temp


def running(process: subprocess.Popen[str], temp: Path) -> tuple[RunRecord, list[int]]:
    """Once the run serves: its record and the processes it started."""
    def served() -> RunRecord | None:
        assert process.poll() is None, process.communicate()
        folders = list(temp.glob("post-office-lab-*"))
        record = RunRecord.load(folders[0]) if folders else None
        return record if record and len(record.redis_prefixes) == 2 and children(process.pid) else None

    record = wait_until(served, timeout_s=60, what="the live run to start")
    assert isinstance(record, RunRecord)
    wait_until(lambda: len(children(process.pid)) == 7, timeout_s=30, what="every service of the run")
    return record, children(process.pid)


def children(pid: int) -> list[int]:
    """The processes whose parent is `pid`."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rpartition(")")[2].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            found.append(int(stat.parent.name))
    return found


def alive(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()[0] != "Z"
    except OSError:
        return False


def left_on_servers(record: RunRecord) -> list[str]:
    """What of the record's names still exists on the broker and in Redis."""
    left = []
    connection = pika.BlockingConnection(pika.URLParameters(RABBITMQ_URL))
    try:
        for kind, names in (("queue", record.queues), ("exchange", record.exchanges)):
            for name in names:
                channel = connection.channel()
                try:
                    declare = channel.queue_declare if kind == "queue" else channel.exchange_declare
                    declare(name, passive=True)
                    left.append(f"{kind} {name}")
                    channel.close()
                except pika.exceptions.ChannelClosedByBroker:
                    pass
    finally:
        connection.close()
    params = pika.URLParameters(RABBITMQ_URL)
    credentials = params.credentials
    assert isinstance(credentials, pika.PlainCredentials)
    policies = httpx.get(f"{MANAGEMENT_URL}/api/policies", auth=(credentials.username, credentials.password),
                         timeout=5).json()
    left += [f"policy {p['name']}" for p in policies if p["name"] in record.policies]
    client = redis.Redis.from_url(REDIS_URL)
    try:
        left += [f"Redis key {key!r}" for key in client.scan_iter(match=f"lab:{record.run_id}:*")]
    finally:
        client.close()
    return left


@pytest.fixture(autouse=True)
def broker():
    try:
        check_rabbitmq(RABBITMQ_URL)
    except LabUnavailable as exc:
        unavailable(str(exc), START_RABBITMQ)


def test_a_live_run_stopped_by_sigterm_deletes_everything_it_made(tmp_path):
    process, temp = start_run(tmp_path, 120)
    record, services = running(process, temp)
    assert record.queues and record.exchanges and record.run_id.startswith(f"{process.pid}-")
    process.send_signal(signal.SIGTERM)
    _, stderr = process.communicate(timeout=60)
    assert process.returncode == 130 and "interrupted" in stderr
    assert not [pid for pid in services if alive(pid)], "a service outlived the run"
    assert not list(temp.iterdir()), "the run's folder is gone"
    assert left_on_servers(record) == []


def test_a_run_killed_by_sigkill_is_swept_by_the_next_one_which_says_so(tmp_path):
    process, temp = start_run(tmp_path, 120)
    record, services = running(process, temp)
    process.kill()
    process.communicate(timeout=30)
    wait_until(lambda: not any(alive(pid) for pid in services), timeout_s=10, what="the services to die with the run")
    assert left_on_servers(record), "SIGKILL leaves the run's queues behind, for the next run to sweep"
    next_run, _ = start_run(tmp_path, 2)
    _, stderr = next_run.communicate(timeout=120)
    assert next_run.returncode in (0, 1), stderr
    assert f"swept what 1 dead run left (pid {process.pid})" in stderr
    assert not list(temp.iterdir()), "the dead run's folder and the next run's are gone"
    assert left_on_servers(record) == []


def node_processes(run_id: str) -> list[int]:
    """The processes of the run's own RabbitMQ nodes (their environments name the nodes)."""
    found = []
    for process in Path("/proc").glob("[0-9]*"):
        try:
            if f"=lab-{run_id}-".encode() in (process / "environ").read_bytes() and alive(int(process.name)):
                found.append(int(process.name))
        except OSError:
            continue
    return found


def test_a_cluster_run_killed_by_sigkill_takes_its_nodes_with_it_and_its_folder_is_swept(tmp_path):
    process = subprocess.Popen([sys.executable, "-m", "sandbox", "run", str(ROOT / "scenarios/broker-cluster.toml"),
                                "--engine", "live"], cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               text=True)  # the real temporary folder: the nodes' user must reach their folders

    def wired() -> RunRecord | None:
        assert process.poll() is None, process.communicate()
        folders = list(Path(tempfile.gettempdir()).glob(f"post-office-lab-{process.pid}-*"))
        record = RunRecord.load(folders[0]) if folders else None
        return record if record and len(record.redis_prefixes) == 3 else None

    try:
        record = wait_until(wired, timeout_s=120, what="the cluster run to start its nodes and variants")
    except BaseException:
        process.kill()
        process.communicate()
        raise
    assert isinstance(record, RunRecord) and len(record.nodes) == 3
    assert node_processes(record.run_id), "the run's nodes run"
    process.kill()
    process.communicate(timeout=30)
    wait_until(lambda: not node_processes(record.run_id), timeout_s=15, what="the nodes to die with the run")
    # a live run another test starts meanwhile (on the other pytest-xdist worker) may have swept it already
    left = list(Path(tempfile.gettempdir()).glob(f"post-office-lab-{record.run_id}-*"))
    swept = sweep()
    assert not left or f"pid {process.pid}" in swept or f", {process.pid}" in swept, swept
    assert not list(Path(tempfile.gettempdir()).glob(f"post-office-lab-{record.run_id}-*"))
