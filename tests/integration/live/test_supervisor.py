"""The supervisor runs real processes: a kill is SIGKILL, a revive listens on the same port, nothing outlives it."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import httpx
import pytest

from sandbox.live.processes.ports import free_port
from sandbox.live.processes.supervisor import ServiceSpec, Supervisor, SupervisorError, python_module

ROOT = Path(__file__).resolve().parents[3]


def http_service(name: str, port: int) -> ServiceSpec:
    return ServiceSpec(name, python_module("http.server", str(port), "--bind", "127.0.0.1"), port=port,
                       health_path="/")


def gone(pid: int, within_s: float = 5.0) -> bool:
    deadline = time.monotonic() + within_s
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return True
        with open(f"/proc/{pid}/stat") as stat:
            if stat.read().split()[2] == "Z":
                return True
        time.sleep(0.05)
    return False


def test_start_kill_revive_and_close(tmp_path):
    port = free_port()
    with Supervisor(tmp_path) as supervisor:
        first = supervisor.start(http_service("user", port))
        assert httpx.get(f"http://127.0.0.1:{port}/").status_code == 200
        supervisor.kill("user")
        assert first.returncode == -signal.SIGKILL
        with pytest.raises(httpx.ConnectError):
            httpx.get(f"http://127.0.0.1:{port}/", timeout=1)
        with socket.socket() as other, pytest.raises(OSError):
            other.bind(("127.0.0.1", port))  # the dead service's port is kept for its revival
        second = supervisor.revive("user")
        assert second.pid != first.pid
        assert httpx.get(f"http://127.0.0.1:{port}/").status_code == 200
        worker = supervisor.start(ServiceSpec("cache-worker", (sys.executable, "-c", "import time; time.sleep(60)")))
        pids = supervisor.pids()
    assert set(pids) == {"user", "cache-worker"}
    assert gone(second.pid) and gone(worker.pid)


def test_a_port_in_use_is_one_clear_message(tmp_path):
    port = free_port()
    with Supervisor(tmp_path) as supervisor:
        supervisor.start(http_service("blog", port))
        with pytest.raises(SupervisorError, match=f"port {port} on 127.0.0.1 is in use, so author cannot listen"):
            supervisor.start(http_service("author", port))


def test_a_service_that_dies_while_starting_reports_its_last_words(tmp_path):
    spec = ServiceSpec("author", (sys.executable, "-c", "import sys; sys.exit('cannot reach RabbitMQ')"),
                       port=free_port())
    with Supervisor(tmp_path) as supervisor, pytest.raises(SupervisorError, match="exited with code 1"):
        supervisor.start(spec)
    assert "cannot reach RabbitMQ" in (tmp_path / "author.log").read_text()


def test_children_die_when_the_supervisor_process_is_killed(tmp_path):
    script = textwrap.dedent(f"""
        import json, sys, threading, time
        from pathlib import Path
        from sandbox.live.processes.supervisor import ServiceSpec, Supervisor, python_module
        from sandbox.live.processes.ports import free_port
        supervisor = Supervisor(Path({str(tmp_path)!r}))
        def start():  # from a short-lived thread: the children must outlive it, but not the process
            port = free_port()
            supervisor.start(ServiceSpec("user", python_module("http.server", str(port), "--bind", "127.0.0.1"),
                                         port=port, health_path="/"))
            supervisor.start(ServiceSpec("cache-worker", (sys.executable, "-c", "import time; time.sleep(60)")))
        thread = threading.Thread(target=start)
        thread.start()
        thread.join()
        time.sleep(0.5)
        print(json.dumps(supervisor.pids()), flush=True)
        time.sleep(60)
    """)
    parent = subprocess.Popen([sys.executable, "-c", script], cwd=ROOT, stdout=subprocess.PIPE, text=True,
                              env={**os.environ, "PYTHONPATH": str(ROOT)})
    try:
        pids = json.loads(parent.stdout.readline())
        assert all(not gone(pid, within_s=0.2) for pid in pids.values()), "children outlived their starting thread"
    finally:
        parent.kill()
        parent.wait(timeout=10)
    assert set(pids) == {"user", "cache-worker"}
    assert all(gone(pid) for pid in pids.values())
