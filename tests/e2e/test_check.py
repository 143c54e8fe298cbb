"""`python -m sandbox check`: every shipped scenario's expectations hold on the simulation."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_check_passes_every_scenario():
    result = subprocess.run([sys.executable, "-m", "sandbox", "check"], cwd=ROOT, capture_output=True, text=True,
                            timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    count = len(list((ROOT / "scenarios").glob("*.toml")))
    assert f"{count} scenarios," in result.stdout
    tasks = len(list((ROOT / "tasks").glob("*/task.toml")))
    assert f"{tasks} code tasks, {tasks} proven" in result.stdout
