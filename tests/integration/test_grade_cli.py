"""post-office-lab grade as a learner runs it: a verdict per invariant, the smallest counterexample with its replay
line, and one line (exit 2) for whatever cannot be graded."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from sandbox.grade.tasks import find_task

TASK = find_task("names-in-order")
NOTHING = "def handle(m, ctx):\n    pass\n"


def grade(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "sandbox", "grade", *args], capture_output=True, text=True,
                          timeout=120)


def refused(result: subprocess.CompletedProcess[str], *words: str) -> None:
    assert result.returncode == 2, result.stdout + result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    for word in words:
        assert word in lines[0], lines[0]


def test_the_reference_passes(tmp_path: Path) -> None:
    path = tmp_path / "mine.py"
    path.write_text(TASK.reference)
    result = grade(str(path), "--task", TASK.id)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "✓ final state = the events applied in order" in result.stdout
    assert "passes names-in-order (20 seeds" in result.stdout


def test_a_wrong_handler_fails_with_its_smallest_case_and_how_to_replay_it(tmp_path: Path) -> None:
    path = tmp_path / "mine.py"
    path.write_text(next(w.source for w in TASK.wrong if w.file == "wrong/arrival-order-wins.py"))
    result = grade(str(path), "--task", TASK.id, "--seeds", "10")
    assert result.returncode == 1, result.stderr
    assert "✗ final state = the events applied in order — fails at" in result.stdout
    assert "The smallest failing case (seed " in result.stdout
    replay = next(line for line in result.stdout.splitlines() if line.startswith("replay it: "))
    seed = replay.rsplit(" ", 1)[1]
    again = grade(str(path), "--task", TASK.id, "--seed", seed)
    assert again.returncode == 1 and f"(seed {seed}, shrunk from" in again.stdout


def test_what_the_handler_prints_is_shown_and_capped(tmp_path: Path) -> None:
    path = tmp_path / "mine.py"
    path.write_text(TASK.reference.replace("def handle(message, ctx):",
                                           "def handle(message, ctx):\n    print('x' * 900)"))
    result = grade(str(path), "--task", TASK.id, "--seeds", "3")
    assert "your handler printed:" in result.stdout and "[… cut at 4,000 characters]" in result.stdout


@pytest.mark.parametrize(("source", "args", "words"), [
    (None, ["--task", "names-in-order"], ["no such file"]),
    (NOTHING, ["--task", "nope"], ["no task 'nope'", "names-in-order"]),
    ("def handle(m, ctx)\n    pass\n", ["--task", "names-in-order"], ["line 1", "expected ':'"]),
    ("x = 1\n", ["--task", "names-in-order"], ["has no function handle(message, ctx)"]),
    ("def handle(message):\n    pass\n", ["--task", "names-in-order"], ["must take two arguments"]),
    (NOTHING, ["--task", "names-in-order", "--seeds", "101"], ["--seeds", "1 to 100"]),
    (NOTHING, ["--task", "names-in-order", "--seeds", "0"], ["--seeds", "1 to 100"]),
    (NOTHING, ["--task", "names-in-order", "--engine", "live", "--seeds", "6"], ["--seeds", "1 to 5 on the live lab"]),
    (NOTHING, ["--task", "names-in-order", "--seed", "-1"], ["--seed", "0 to 1,000,000"]),
    ("# " + "x" * 20_000 + "\n", ["--task", "names-in-order"], ["the most a file here may be is 16,384"]),
])
def test_what_cannot_be_graded_is_one_line(tmp_path: Path, source, args, words) -> None:
    path = tmp_path / "mine.py"
    if source is not None:
        path.write_text(source)
    refused(grade(str(path), *args), *words)


def test_tasks_lists_each_with_what_it_is_graded_on() -> None:
    result = subprocess.run([sys.executable, "-m", "sandbox", "tasks"], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert [line.split()[0] for line in lines[:-1:2]] == ["cache-invalidation", "email-once", "names-in-order",
                                                          "poison-retry"]
    assert "graded on: final state = the events applied in order, every message settles" in result.stdout
