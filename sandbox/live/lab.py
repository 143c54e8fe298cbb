"""`python -m sandbox lab up | status | down`: a standing live lab to poke at by hand.

`up` starts a background process that runs both variants (sync and queue) of the flow on real servers
with no load, writes where everything listens to `<lab dir>/state.json`, and stays until `down`. The
queue variant uses the exact queue name `cache-invalidation`, so a producer in any language can drive
its cache-worker. Its services die with it, even when it is killed with SIGKILL.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx

from sandbox.catalog import CHECKOUT
from sandbox.live.errors import LabError
from sandbox.model.scenario import parse_scenario


def _default_lab_dir() -> Path:
    """SANDBOX_LAB_DIR when set; else the checkout's .lab/, or for an installed package the user's state folder."""
    if os.environ.get("SANDBOX_LAB_DIR"):
        return Path(os.environ["SANDBOX_LAB_DIR"])
    if CHECKOUT is not None:
        return CHECKOUT / ".lab"
    return Path(os.environ.get("XDG_STATE_HOME") or Path.home() / ".local" / "state") / "post-office-lab"


LAB_DIR = _default_lab_dir()
STANDING_S = 7 * 24 * 3600.0
UP_TIMEOUT_S = 90.0
DOWN_TIMEOUT_S = 20.0


def _state_path(lab_dir: Path) -> Path:
    return lab_dir / "state.json"


def read_state(lab_dir: Path = LAB_DIR) -> dict | None:
    """The running lab's state, or None when no lab runs (a stale file from a dead lab is removed)."""
    path = _state_path(lab_dir)
    try:
        state = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    if not _alive(state.get("pid", -1)):
        path.unlink(missing_ok=True)
        return None
    return state


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except (ProcessLookupError, PermissionError):
        return False
    with contextlib.suppress(OSError), open(f"/proc/{pid}/stat") as stat:
        return stat.read().split()[2] != "Z"
    return True


def up(lab_dir: Path = LAB_DIR) -> dict:
    """Start the standing lab in the background and return its state once every service is healthy."""
    if (state := read_state(lab_dir)) is not None:
        return state
    lab_dir.mkdir(parents=True, exist_ok=True)
    _state_path(lab_dir).unlink(missing_ok=True)
    error_path = lab_dir / "error.txt"
    error_path.unlink(missing_ok=True)
    with open(lab_dir / "lab.log", "ab") as log:
        process = subprocess.Popen([sys.executable, "-m", "sandbox.live.lab", "serve", str(lab_dir.resolve())],
                                   cwd=lab_dir, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                                   start_new_session=True)
    deadline = time.monotonic() + UP_TIMEOUT_S
    while time.monotonic() < deadline:
        if (state := read_state(lab_dir)) is not None:
            return state
        if process.poll() is not None:
            message = error_path.read_text().strip() if error_path.exists() else f"see {lab_dir / 'lab.log'}"
            raise LabError(f"the lab did not start: {message}")
        time.sleep(0.2)
    process.kill()
    raise LabError(f"the lab did not start within {UP_TIMEOUT_S:g} s; see {lab_dir / 'lab.log'}")


def status(lab_dir: Path = LAB_DIR) -> dict[str, dict[str, str]] | None:
    """Per variant, per service: its URL and whether /health answers. None when no lab runs."""
    state = read_state(lab_dir)
    if state is None:
        return None
    report: dict[str, dict[str, str]] = {}
    with httpx.Client(timeout=1.0) as client:
        for variant, services in state["services"].items():
            report[variant] = {}
            for name, url in services.items():
                try:
                    ok = client.get(f"{url}/health").status_code == 200
                except httpx.HTTPError:
                    ok = False
                report[variant][name] = f"{url}  {'healthy' if ok else 'NOT ANSWERING'}"
    return report


def down(lab_dir: Path = LAB_DIR) -> bool:
    """Stop the lab and every process it started; False when none was running."""
    state = read_state(lab_dir)
    if state is None:
        return False
    pid = state["pid"]
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + DOWN_TIMEOUT_S
    while _alive(pid) and time.monotonic() < deadline:
        time.sleep(0.1)
    if _alive(pid):
        os.kill(pid, signal.SIGKILL)  # its services get SIGKILL with it (parent-death signal)
    _state_path(lab_dir).unlink(missing_ok=True)
    return True


def serve(lab_dir: Path) -> int:
    """The background process: run the lab until SIGTERM, then close it."""
    from sandbox.live.engine import LiveEngine

    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    scenario = parse_scenario({"id": "standing-lab", "title": "the standing lab", "duration": STANDING_S,
                               "load": {"reads_per_s": 0, "writes_per_s": 0}}, "lab")
    try:
        engine = LiveEngine(scenario, standing=True)
    except LabError as exc:
        (lab_dir / "error.txt").write_text(str(exc))
        return 2
    try:
        services = {name: {service: f"http://127.0.0.1:{lab.proxies[service].port}"
                           for service in ("author", "blog", "user")} for name, lab in engine.labs.items()}
        state = {"pid": os.getpid(), "services": services, "rabbitmq_url": engine.rabbitmq_url,
                 "redis_url": engine.redis.url, "redis_note": engine.redis.note,
                 "queues": {name: lab.config.invalidation_queue for name, lab in engine.labs.items()
                            if lab.config.queue},
                 "processes": engine.supervisor.pids()}
        tmp = _state_path(lab_dir).with_suffix(".tmp")
        tmp.write_text(json.dumps(state, indent=1))
        tmp.replace(_state_path(lab_dir))
        stop.wait()
    finally:
        engine.close()
    return 0


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "serve":
        sys.exit(serve(Path(sys.argv[2])))
    sys.exit("usage: python -m sandbox lab up | status | down")
