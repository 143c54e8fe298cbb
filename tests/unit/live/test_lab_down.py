"""`lab down` signals only its own lab: a state file whose pid now belongs to another process is left alone."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

from sandbox.live import lab
from sandbox.live.processes.runs import alive, process_start

ROOT = Path(__file__).resolve().parents[3]


def test_down_leaves_alone_a_process_that_reused_the_labs_pid(tmp_path):
    unrelated = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        started = process_start(unrelated.pid)
        assert started is not None
        # the lab that wrote this file had the same pid but started at another moment (a reboot, a pid wrap)
        (tmp_path / "state.json").write_text(json.dumps({"pid": unrelated.pid, "started": started - 1,
                                                         "services": {}}))
        assert lab.read_state(tmp_path) is None, "a reused pid is not a running lab"
        (tmp_path / "state.json").write_text(json.dumps({"pid": unrelated.pid, "started": started - 1}))
        down = subprocess.run([sys.executable, "-m", "sandbox", "lab", "down"], cwd=ROOT, capture_output=True,
                              text=True, timeout=60, env={**os.environ, "SANDBOX_LAB_DIR": str(tmp_path)})
        assert down.returncode == 0, down.stderr
        assert down.stdout.splitlines() == [
            "no lab was running",
            f"process {unrelated.pid} named in {tmp_path / 'state.json'} is not the lab any more (it started at "
            "another moment: the pid was reused); it was left alone"]
        time.sleep(0.5)
        assert unrelated.poll() is None and alive(unrelated.pid, started), "the unrelated process was signalled"
        assert not (tmp_path / "state.json").exists()
    finally:
        unrelated.kill()
        unrelated.wait()


def test_a_state_file_without_a_start_time_names_no_lab(tmp_path):
    """A state file from before start times were recorded cannot tell its lab from a newcomer: it is stale."""
    (tmp_path / "state.json").write_text(json.dumps({"pid": os.getpid()}))
    assert lab.read_state(tmp_path) is None
    assert lab.running_labs(tmp_path) == {}
