"""`python -m sandbox lessons` and the lesson part of `python -m sandbox check`."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from sandbox import cli
from sandbox.teach.challenges import challenge_paths
from sandbox.teach.guessers import GUESSERS
from sandbox.teach.lessons import lesson_paths

ROOT = Path(__file__).resolve().parents[2]


def sandbox(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "sandbox", *args], cwd=ROOT, capture_output=True, text=True,
                          timeout=120)


def test_lessons_lists_every_lesson_and_counts_the_cards():
    result = sandbox("lessons")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    guesses = [line for line in lines if line.startswith("  ✓ guessing ")]
    assert len(guesses) == len(GUESSERS) and "against a chance of" in guesses[0], "every guesser, none over +5"
    lines = [line for line in lines if line not in guesses]
    assert [line.split()[0] for line in lines[:-2]] == [p.stem for p in lesson_paths()]
    assert "02-cascade" in lines[1] and "steps" in lines[1]
    assert lines[-2].startswith("✓ the key: ") and "the right choice is the longest in " in lines[-2]
    assert lines[-1].startswith(f"{len(lesson_paths())} lessons in lessons/; ")
    assert lines[-1].endswith(" interview cards in lessons/interview.toml")


def test_check_steps_through_every_lesson_and_checks_the_cards():
    result = sandbox("check")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "✓ 02-cascade " in result.stdout
    assert f"{len(lesson_paths())} lessons, " in result.stdout
    assert " interview cards, each naming a scenario that exists" in result.stdout
    assert "✓ 04-drain-the-spike" in result.stdout
    assert f"{len(challenge_paths())} challenges, {len(challenge_paths())} proven" in result.stdout


LESSON = '''+++
id = "wrong"
title = "A wrong claim"
goal = "Fail."
scenario = "user-down"
+++

## Kill the User Service

```toml
predict = "Do sync reads fail?"
answer = 1
why = "A deliberately wrong answer."
observe_s = 10
watch = ["read.errors"]
actions = [{at = 0, do = "kill", target = "user"}]

[[choice]]
text = "No"

[[choice]]
text = "Yes"
wrong = "Deliberately wrong."

[[expect]]
variant = "sync"
metric = "read.error_rate"
during = [2, 10]
below = 0.01
why = "a wrong claim"
```

Wrong.
'''


@pytest.fixture
def only(monkeypatch, tmp_path):
    """Run the CLI over one lesson file written to tmp_path, and no scenarios."""
    def use(text: str) -> Path:
        path = tmp_path / "02-demo.md"
        path.write_text(text)
        monkeypatch.setattr(cli, "scenario_paths", list)
        monkeypatch.setattr(cli, "challenge_paths", list)
        monkeypatch.setattr(cli, "lesson_paths", lambda: [path])
        return path
    return use


def test_a_failing_lesson_claim_exits_1_naming_the_step(only, capsys):
    only(LESSON)
    assert cli.main(["check"]) == 1
    out = capsys.readouterr().out
    assert "✗ 02-demo" in out and "0/1 expectations hold" in out
    assert "✗ step 1 'Kill the User Service': sync read.error_rate during 2–10 s below 0.01: observed 1" in out


def test_a_bad_lesson_file_exits_2_with_its_file_and_line(only, capsys):
    path = only(LESSON.replace('metric = "read.error_rate"', 'metric = "read.errs"'))
    assert cli.main(["check"]) == 2
    out = capsys.readouterr().out
    assert f"✗ 02-demo: INVALID — {path}:27: step 1 expect[0].metric: 'read.errs' is not a metric" in out
    assert "Traceback" not in out
    assert cli.main(["lessons"]) == 2
    assert f"✗ 02-demo: INVALID — {path}:27: step 1 expect[0].metric:" in capsys.readouterr().out
