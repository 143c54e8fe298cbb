"""Grading a learner's handler in a confined child process, never in the asking process (a server others share).

The parent makes a temporary folder, starts `python -I` there with a clean environment (no variable of its own:
no server address, no password), sends the job on stdin and waits at most WALL_S. The child loads what it needs,
confines itself (`confine.confine`: limits, its own user when started as root, Landlock, an audit hook), grades
on the simulation, and writes the report as JSON to a file the parent opened for it (capped by the file-size
limit). Whatever happens — a refusal, a limit, a crash, a hang — the parent returns a Report whose `stopped` says
so in one sentence.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from sandbox.catalog import PACKAGE_DIR
from sandbox.grade import confine
from sandbox.grade.grader import Report, grade
from sandbox.grade.handler import HandlerError, compile_handler
from sandbox.grade.tasks import Task, find_task

WALL_S = 30.0
"""The longest a grading may take, start to end; past it the process is killed."""
LIMITS = confine.Limits()
FRESH_UIDS = (1_900_000_000, 100_000_000)
"""Started as root, the child runs as a fresh user id from this range (start, size), never one that exists."""
_BOOT = (f"import os, sys; os.nice({confine.NICENESS}); sys.path.insert(0, sys.argv[1]); "
         "from sandbox.grade.isolated import child_main; child_main()")


def clean_environment(folder: Path) -> dict[str, str]:
    """The child's whole environment: nothing of the server's."""
    return {"PATH": "/usr/bin:/bin", "HOME": str(folder), "TMPDIR": str(folder), "LANG": "C.UTF-8"}


def fresh_uid() -> int | None:
    """A user id no one has, for a child of a process running as root; None otherwise."""
    if os.geteuid() != 0:
        return None
    start, size = FRESH_UIDS
    return start + secrets.randbelow(size)


def stopped(report_task: str, engine: str, seeds: Sequence[int], why: str) -> Report:
    return Report(report_task, engine, list(seeds), stopped=why)


def grade_isolated(source: str, task_id: str, seeds: Sequence[int], filename: str = "handler.py",
                   wall_s: float = WALL_S) -> Report:
    """Grade `source` on the task in a confined child process; a Report in every case."""
    started = time.perf_counter()
    folder = Path(tempfile.mkdtemp(prefix="post-office-grade-"))
    uid = fresh_uid()
    try:
        work = folder / "work"
        work.mkdir()
        if uid is not None:
            os.chown(work, uid, uid)
        with open(folder / "report.json", "wb") as out, open(folder / "errors.txt", "wb") as err:
            child = subprocess.Popen(
                [sys.executable, "-I", "-c", _BOOT, str(PACKAGE_DIR.parent)], stdin=subprocess.PIPE, stdout=out,
                stderr=err, cwd=work, env=clean_environment(work), start_new_session=True, close_fds=True)
            try:
                assert child.stdin is not None
                child.stdin.write(json.dumps({"source": source, "task": task_id, "seeds": list(seeds),
                                              "filename": filename, "uid": uid}).encode())
                child.stdin.close()
                child.wait(timeout=wall_s)
            except subprocess.TimeoutExpired:
                _kill(child)
                return stopped(task_id, "sim", seeds, f"the handler was stopped: grading took longer than "
                                                      f"{wall_s:g} s (does it loop for ever?)")
            except BrokenPipeError:
                child.wait(timeout=wall_s)
        report = _read(folder, child.returncode, task_id, seeds)
        report.wall_s = time.perf_counter() - started
        return report
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def _kill(child: subprocess.Popen) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(child.pid, signal.SIGKILL)
    child.wait()


def _read(folder: Path, code: int, task_id: str, seeds: Sequence[int]) -> Report:
    if code == -signal.SIGXCPU:
        return stopped(task_id, "sim", seeds, f"the handler was stopped: it used more than {LIMITS.cpu_s} s of CPU")
    if code < 0:
        return stopped(task_id, "sim", seeds, f"the handler was stopped: its process died of signal "
                                              f"{signal.Signals(-code).name}")
    try:
        text = (folder / "report.json").read_text(errors="replace")
        return Report.from_dict(json.loads(text))
    except (ValueError, KeyError, TypeError):
        errors = (folder / "errors.txt").read_text(errors="replace").strip().splitlines()
        last = errors[-1] if errors else f"exit code {code}"
        return stopped(task_id, "sim", seeds, f"the handler was stopped: its process ended without a report "
                                              f"({last[:200]})")


# in the child -----------------------------------------------------------------

def child_main() -> None:
    """The child: read the job, load the task, confine, grade, write the report."""
    job: dict[str, Any] = json.loads(sys.stdin.read())
    report_file = os.fdopen(os.dup(1), "w")
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 1)
    os.close(devnull)
    seeds = [int(s) for s in job["seeds"]]
    task: Task = find_task(job["task"])
    try:
        compile_handler(job["source"], job["filename"])
    except HandlerError as exc:
        report = stopped(task.id, "sim", seeds, str(exc))
    else:
        grade(task, task.reference, [1], shrink=False)  # loads, before the confinement, every module grading uses
        confine.confine(Path.cwd(), (), job["uid"], LIMITS)
        report = grade(task, job["source"], seeds, job["filename"], after_call=_refused)
    json.dump(report.to_dict(), report_file)
    report_file.close()


def _refused() -> None:
    """After each call of the handler: stop grading at its first refused action."""
    refused = confine.refusals()
    if refused:
        raise HandlerError(f"the handler was stopped: {refused[0]}")
