"""The command line as a user runs it: exit codes, messages, and reproducible JSON."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def sandbox(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "sandbox", *args], cwd=ROOT, capture_output=True, text=True,
                          timeout=120)


def test_list_names_every_scenario_file():
    result = sandbox("list")
    assert result.returncode == 0, result.stderr
    ids = {line.split()[0] for line in result.stdout.splitlines()}
    assert ids == {p.stem for p in (ROOT / "scenarios").glob("*.toml")}


def test_run_prints_phases_and_verdicts_and_exits_0_when_all_hold():
    result = sandbox("run", "user-down")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "10–30 s" in result.stdout and "kill user" in result.stdout
    assert "✓ sync read.error_rate during 12–30 s above 0.5: observed" in result.stdout
    assert "why: " in result.stdout


def test_a_failing_expectation_exits_1(tmp_path):
    path = tmp_path / "wrong.toml"
    path.write_text('title = "wrong"\nduration = 20\n[[timeline]]\nat = 5\ndo = "kill"\ntarget = "user"\n'
                    '[[expect]]\nvariant = "sync"\nmetric = "read.error_rate"\nduring = [6, 20]\nbelow = 0.01\n'
                    'why = "a wrong claim"\n')
    result = sandbox("run", str(path))
    assert result.returncode == 1
    assert "✗ sync read.error_rate" in result.stdout and "0/1 hold" in result.stdout


@pytest.mark.parametrize(("args", "message"), [
    (["run", "no-such-scenario"], "no-such-scenario: no scenario with this id or path; known ids:"),
    (["run", "missing.toml"], "missing.toml: no such file"),
    (["run", "user-down", "--json", "/no/such/folder/run.json"], "--json: its folder does not exist"),
    (["run", "user-down", "--seed", "-1"], "--seed: -1 must be 0 or more"),
])
def test_bad_input_is_one_clear_message_and_exit_2(args, message):
    result = sandbox(*args)
    assert result.returncode == 2
    assert message in result.stderr
    assert "Traceback" not in result.stderr + result.stdout


def test_a_malformed_file_names_the_file_and_field(tmp_path):
    path = tmp_path / "bad.toml"
    path.write_text('title = "x"\nduration = 10\n[[timeline]]\nat = 3\ndo = "kill"\ntarget = "database"\n')
    result = sandbox("run", str(path))
    assert result.returncode == 2
    assert result.stderr.strip() == (f"error: {path}: timeline[0].target: 'database' is not a target; "
                                     "use one of author, blog, user, cache-worker, broker, redis, broker-1, broker-2, "
                                     "broker-3")


def test_json_frames_are_byte_identical_for_a_seed_and_differ_for_another(tmp_path):
    documents = {}
    for name, seed in (("a", "3"), ("b", "3"), ("c", "4")):
        path = tmp_path / f"{name}.json"
        assert sandbox("run", "user-down", "--seed", seed, "--json", str(path)).returncode == 0
        documents[name] = json.loads(path.read_text())
    frames = {name: json.dumps(doc["frames"]) for name, doc in documents.items()}
    assert frames["a"] == frames["b"]
    assert frames["a"] != frames["c"]
    doc = documents["a"]
    assert {"scenario", "engine", "seed", "duration_s", "variants", "frames", "expectations", "wall_s"} <= set(doc)
    assert (doc["scenario"], doc["engine"], doc["seed"], doc["duration_s"]) == ("user-down", "sim", 3, 60)
    assert len(doc["frames"]) == 60 * len(doc["variants"])
    assert {"t", "variant", "read.p99_ms", "msg.lost", "queue.ready", "user.busy"} <= set(doc["frames"][0])
    assert all({"observed", "passed", "why"} <= set(e) for e in doc["expectations"])


def test_json_frames_recompute_the_error_rate_an_expectation_saw(tmp_path):
    path = tmp_path / "run.json"
    sandbox("run", "user-down", "--json", str(path))
    doc = json.loads(path.read_text())
    expectation = next(e for e in doc["expectations"] if e["variant"] == "sync" and e["during"] == [12, 30])
    rows = [f for f in doc["frames"] if f["variant"] == "sync" and 12 <= f["t"] < 30]
    errors = sum(f["read.errors"] for f in rows)
    assert expectation["observed"] == pytest.approx(errors / (errors + sum(f["read.ok"] for f in rows)))


def test_a_reader_that_went_away_gets_no_traceback():
    read_end, write_end = os.pipe()
    os.close(read_end)  # like `| head -1` after its line: every write now meets a closed pipe
    try:
        done = subprocess.run([sys.executable, "-m", "sandbox", "knobs"], cwd=ROOT, stdout=write_end,
                              stderr=subprocess.PIPE, text=True, timeout=30, check=False)
    finally:
        os.close(write_end)
    assert done.returncode == 0
    assert "Traceback" not in done.stderr and "BrokenPipeError" not in done.stderr
