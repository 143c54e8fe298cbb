"""Hostile input: every case ends with exit 2 and one line naming what is wrong, or a bounded successful run.

Each command runs as its own process under a 1.5 GB address-space limit and a time limit, as a shared
classroom server would need: nothing a learner types or uploads may take the machine down.
"""

from __future__ import annotations

import os
import resource
import subprocess
import sys
from pathlib import Path

import pytest

MEMORY_LIMIT_BYTES = 1536 * 1024 * 1024
TIME_LIMIT_S = 60


def _limit_memory() -> None:
    resource.setrlimit(resource.RLIMIT_AS, (MEMORY_LIMIT_BYTES, MEMORY_LIMIT_BYTES))


def sandbox(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "sandbox", *args], capture_output=True, text=True,
                          timeout=TIME_LIMIT_S, preexec_fn=_limit_memory, env=env)


def refused(result: subprocess.CompletedProcess[str], *words: str) -> None:
    """Exit 2 with exactly one line on stderr that says what is wrong."""
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    assert "Traceback" not in result.stderr
    for word in words:
        assert word in lines[0], lines[0]


BASE = 'title = "hostile"\nduration = 60\n'
HOSTILE = {
    "huge read rate": (BASE + "[load]\nreads_per_s = 1e7\n", ["load.reads_per_s", "0 to 2,000 per s"]),
    "huge write rate": (BASE + "[load]\nwrites_per_s = 1e6\n", ["load.writes_per_s", "0 to 500 per s"]),
    "endless poison": (BASE + '[[timeline]]\nat = 1\ndo = "poison"\ncount = 1000000000000000000\n',
                       ["timeline[0].count", "1 to 10,000 messages"]),
    "a million consumers": (BASE + "[knobs]\nconsumer.count = 1000000\n", ["consumer.count", "1 to 64 consumers"]),
    "a billion seconds": ('title = "x"\nduration = 1e9\n', ["duration", "1 to 7,200 s"]),
    "retry storm of the century": (BASE + "[knobs]\nhttp.retries = 1100\nhttp.backoff_ms = 0\n",
                                   ["http.retries", "0 to 10 retries"]),
    "nested arrays": ("x = " + "[" * 600 + "]" * 600 + "\n", ["nested too deeply"]),
    "nested tables": (BASE + "[knobs]\nx = " + "{a = " * 300 + "1" + "}" * 300 + "\n", ["nested"]),
    "a variant name with spaces": (BASE + '[variants."fire and forget"]\narchitecture = "queue"\n',
                                   ["is not a variant name"]),
    "every rate at its maximum for two hours": (
        'title = "x"\nduration = 7200\n[load]\nreads_per_s = 2000\nwrites_per_s = 500\n',
        ["the most one run may is 300,000"]),
    "a title as long as a book": (f'title = "{"x" * 100_000}"\nduration = 10\n', ["title", "the most is 200"]),
}


@pytest.mark.parametrize("name", sorted(HOSTILE))
def test_a_hostile_scenario_is_refused_in_one_line(name: str, tmp_path: Path) -> None:
    text, words = HOSTILE[name]
    path = tmp_path / "hostile.toml"
    path.write_text(text)
    refused(sandbox("run", str(path)), str(path), *words)


def test_the_worst_allowed_run_finishes_within_its_bounds(tmp_path: Path) -> None:
    """The heaviest run the budget allows: one variant at 950 reads/s for 300 s (285,000 requests)."""
    path = tmp_path / "worst.toml"
    path.write_text('title = "worst allowed"\nduration = 300\n[load]\nreads_per_s = 950\nwrites_per_s = 0\n'
                    '[variants.queue]\narchitecture = "queue"\n')
    result = sandbox("run", str(path))
    assert result.returncode == 0, result.stderr
    assert "worst allowed" in result.stdout


def test_a_fifo_named_like_a_scenario_is_refused_not_waited_on(tmp_path: Path) -> None:
    fifo = tmp_path / "x.toml"
    os.mkfifo(fifo)
    refused(sandbox("run", str(fifo)), "is not a regular file")


def test_an_endless_device_is_refused_not_read(tmp_path: Path) -> None:
    refused(sandbox("run", "/dev/zero"), "/dev/zero", "is not a regular file")


def test_a_file_too_large_to_be_a_scenario_is_refused_unread(tmp_path: Path) -> None:
    path = tmp_path / "big.toml"
    path.write_text('title = "x"\nduration = 10\n' + "# padding\n" * 40_000)
    refused(sandbox("run", str(path)), "the most a file here may be is")


@pytest.mark.parametrize("length", [300, 5000])
def test_a_name_too_long_for_the_file_system_is_one_line(length: int) -> None:
    result = sandbox("run", "a" * length + ".toml")
    refused(result, f"({length + 5:,} characters)")
    assert len(result.stderr) < 400, "the message does not repeat the whole name"


def test_escape_codes_in_a_title_do_not_reach_the_terminal(tmp_path: Path) -> None:
    path = tmp_path / "escape.toml"
    path.write_text('title = "red \\u001b[31malert\\u001b[0m \\u0007bell"\nduration = 5\n')
    result = sandbox("run", str(path))
    assert result.returncode == 0, result.stderr
    assert "\x1b" not in result.stdout and "\x07" not in result.stdout
    assert "red ?[31malert?[0m ?bell" in result.stdout
