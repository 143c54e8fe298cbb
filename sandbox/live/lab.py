"""`python -m sandbox lab up | status | down`: a standing live lab to poke at by hand.

`up` starts a background process that runs both variants (sync and queue) of the flow on real servers
with no load, writes where everything listens to `<lab dir>/state.json`, and stays until `down`. The
queue variant uses the exact queue name `cache-invalidation`, so a producer in any language can drive
its cache-worker. Its services die with it, even when it is killed with SIGKILL.

One standing lab per broker: it holds the broker's claim to those names (claim.py), so a second `up`, from this
checkout or another, is refused in one line naming the first (its process and checkout). `up` holds a file lock in
the lab folder while it checks and starts, so two at once cannot both start. `down` stops every lab this lab folder
started (SIGTERM, which the lab handles like SIGINT: everything it made is deleted; SIGKILL after DOWN_TIMEOUT_S), and
sweeps what a killed one left. A lab is known by its pid AND the moment that process started (runs.alive), both
in state.json: after a reboot or a pid wrap, an unrelated process with the lab's old pid is never signalled.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx

import sandbox
from sandbox.catalog import CHECKOUT
from sandbox.live.errors import LabError
from sandbox.live.processes.runs import alive, process_start
from sandbox.model.bounds import MAX_DURATION_S
from sandbox.model.scenario import parse_scenario


def _default_lab_dir() -> Path:
    """SANDBOX_LAB_DIR when set; else the checkout's .lab/, or for an installed package the user's state folder."""
    if os.environ.get("SANDBOX_LAB_DIR"):
        return Path(os.environ["SANDBOX_LAB_DIR"])
    if CHECKOUT is not None:
        return CHECKOUT / ".lab"
    return Path(os.environ.get("XDG_STATE_HOME") or Path.home() / ".local" / "state") / "post-office-lab"


LAB_DIR = _default_lab_dir()
UP_TIMEOUT_S = 90.0
DOWN_TIMEOUT_S = 20.0


def _state_path(lab_dir: Path) -> Path:
    return lab_dir / "state.json"


def read_state(lab_dir: Path = LAB_DIR) -> dict | None:
    """The running lab's state, or None when no lab runs (a stale file is removed: its lab is dead, or its pid now
    belongs to another process, one that started at another moment)."""
    path = _state_path(lab_dir)
    try:
        state = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    if not _is_lab(state):
        path.unlink(missing_ok=True)
        return None
    return state


def _is_lab(state: dict) -> bool:
    """The process state.json names still runs and is the one that wrote it (a file without a start time is stale)."""
    pid, started = state.get("pid"), state.get("started")
    return isinstance(pid, int) and isinstance(started, int) and alive(pid, started)


@contextlib.contextmanager
def _locked(lab_dir: Path) -> Iterator[None]:
    """The lab folder's file lock, held while a lab is started or stopped: one `up` or `down` at a time."""
    lab_dir.mkdir(parents=True, exist_ok=True)
    with open(lab_dir / "lab.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def checkout(lab_dir: Path) -> str:
    """Where a lab comes from, in messages: the checkout, or the lab folder of an installed package."""
    return str(CHECKOUT or lab_dir.resolve())


def up(lab_dir: Path = LAB_DIR) -> dict:
    """Start the standing lab in the background and return its state once every service is healthy; LabError when
    a lab already runs (this one, or another holding the broker's claim)."""
    with _locked(lab_dir):
        if (state := read_state(lab_dir)) is not None:
            raise LabError(f"a standing lab already runs: process {state['pid']}, checkout "
                           f"{state.get('checkout', checkout(lab_dir))}; stop it with: python -m sandbox lab down")
        _state_path(lab_dir).unlink(missing_ok=True)
        error_path = lab_dir / "error.txt"
        error_path.unlink(missing_ok=True)
        # the same sandbox package as this process, wherever the lab folder is
        package_root = str(Path(sandbox.__file__).resolve().parents[1])
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, (package_root, os.environ.get("PYTHONPATH"))))}
        with open(lab_dir / "lab.log", "ab") as log:
            process = subprocess.Popen([sys.executable, "-m", "sandbox.live.lab", "serve", str(lab_dir.resolve())],
                                       cwd=lab_dir, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                                       start_new_session=True, env=env)
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


def running_labs(lab_dir: Path) -> dict[int, int]:
    """Every standing lab this lab folder started, found among the machine's processes (so also one whose state file
    was lost): pid → the moment it started."""
    wanted = ["-m", "sandbox.live.lab", "serve", str(lab_dir.resolve())]
    labs = {}
    for command_line in Path("/proc").glob("[0-9]*/cmdline"):
        with contextlib.suppress(OSError):
            pid = int(command_line.parent.name)
            started = process_start(pid)  # read before the command line: a pid reused in between fails alive() below
            argv = command_line.read_bytes().decode(errors="replace").split("\0")[:-1]
            if argv[1:] == wanted and started is not None and alive(pid, started):
                labs[pid] = started
    return labs


def _signal(pid: int, started: int, signum: signal.Signals) -> None:
    """Send `signum` to the process `pid` that started at `started`, and to no other: the pidfd pins the process
    while its start time is checked, so a pid reused in between is never signalled."""
    try:
        pidfd = os.pidfd_open(pid)
    except ProcessLookupError:
        return
    try:
        if alive(pid, started):
            with contextlib.suppress(ProcessLookupError):
                signal.pidfd_send_signal(pidfd, signum)
    finally:
        os.close(pidfd)


def down(lab_dir: Path = LAB_DIR) -> tuple[int, str]:
    """Stop every lab this lab folder started and every process they started; (how many, what else to say: a state
    file naming a process that is not its lab any more, what was swept after a lab that had to be killed)."""
    from sandbox.live.processes.sweep import sweep

    with _locked(lab_dir):
        notes = []
        path = _state_path(lab_dir)
        with contextlib.suppress(OSError, ValueError):
            recorded = json.loads(path.read_text())
            if not _is_lab(recorded) and isinstance(recorded.get("pid"), int) and \
                    process_start(recorded["pid"]) is not None:
                notes.append(f"process {recorded['pid']} named in {path} is not the lab any more (it started at "
                             "another moment: the pid was reused); it was left alone")
        labs = running_labs(lab_dir)
        if (state := read_state(lab_dir)) is not None:
            labs[state["pid"]] = state["started"]
        for pid, started in labs.items():
            _signal(pid, started, signal.SIGTERM)
        deadline = time.monotonic() + DOWN_TIMEOUT_S
        while any(alive(pid, started) for pid, started in labs.items()) and time.monotonic() < deadline:
            time.sleep(0.1)
        killed = {pid: started for pid, started in labs.items() if alive(pid, started)}
        for pid, started in killed.items():
            _signal(pid, started, signal.SIGKILL)  # its services and nodes get SIGKILL with it (parent-death signal)
        while any(alive(pid, started) for pid, started in killed.items()) and time.monotonic() < deadline + 5:
            time.sleep(0.1)
        path.unlink(missing_ok=True)
        if killed:
            notes.append(sweep())
        return len(labs), "\n".join(filter(None, notes))


def _interrupt(*_: object) -> None:
    raise KeyboardInterrupt


def serve(lab_dir: Path) -> int:
    """The background process: run the lab until SIGTERM or SIGINT (even while it starts), then close it."""
    from sandbox.live.engine import LiveEngine

    signal.signal(signal.SIGTERM, _interrupt)
    # a scenario's longest duration: the lab stands until `down`, the length only bounds a load it never runs
    scenario = parse_scenario({"id": "standing-lab", "title": "the standing lab", "duration": MAX_DURATION_S,
                               "load": {"reads_per_s": 0, "writes_per_s": 0}}, "lab")
    try:
        engine = LiveEngine(scenario, standing=True)
    except LabError as exc:
        (lab_dir / "error.txt").write_text(str(exc))
        return 2
    except KeyboardInterrupt:
        return 0
    try:
        services = {name: {service: f"http://127.0.0.1:{lab.proxies[service].port}"
                           for service in ("author", "blog", "user")} for name, lab in engine.labs.items()}
        state = {"pid": os.getpid(), "started": process_start(os.getpid()), "checkout": checkout(lab_dir),
                 "services": services, "rabbitmq_url": engine.rabbitmq_url, "redis_url": engine.site.redis_url,
                 "warnings": engine.warnings,
                 "queues": {name: lab.config.invalidation_queue for name, lab in engine.labs.items()
                            if lab.config.queue},
                 "exchanges": {name: lab.config.user_exchange for name, lab in engine.labs.items()
                               if lab.config.queue},
                 "processes": engine.supervisor.pids()}
        tmp = _state_path(lab_dir).with_suffix(".tmp")
        tmp.write_text(json.dumps(state, indent=1))
        tmp.replace(_state_path(lab_dir))
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        return 0
    finally:
        engine.close()


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "serve":
        sys.exit(serve(Path(sys.argv[2])))
    sys.exit("usage: python -m sandbox lab up | status | down")
