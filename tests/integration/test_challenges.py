"""The shipped challenges: each loads, its start fails and its reference passes on every judged seed, so no
verdict is knife-edge, and `python -m sandbox challenges` / `check` report them."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from sandbox import cli
from sandbox.model.knobs import KNOBS
from sandbox.teach.challenge_run import attempt, judge_tempting, judged_seeds
from sandbox.teach.challenges import challenge_paths, load_challenge, load_challenges
from sandbox.teach.lessons import lesson_ids

ROOT = Path(__file__).resolve().parents[2]
PATHS = challenge_paths()


def test_at_least_ten_challenges_each_with_staged_hints_and_a_lesson():
    challenges = load_challenges()
    assert len(challenges) >= 10
    for c in challenges:
        assert len(c.hints) >= 2 and c.solution_why and c.lesson_id in lesson_ids()
        assert c.start != c.solution
        for key in c.constraints.knobs:  # every number the page lets a learner type has a documented range
            assert KNOBS[key].choices or KNOBS[key].range is None or str(c.constraints.input_range(key))


@pytest.mark.parametrize("path", PATHS, ids=[p.stem for p in PATHS])
def test_the_start_fails_and_the_reference_passes_on_every_judged_seed(path):
    c = load_challenge(path)
    start, reference = attempt(c, c.start, until_failure=True), attempt(c, c.solution)
    assert start.runs and not start.passed, "the start already reaches the goal on every judged seed"
    assert [seed for seed, _ in reference.runs] == list(judged_seeds(c)) and len(reference.runs) >= 5
    assert reference.passed, f"the reference fails on seeds {reference.failed_seeds}: {reference.broken_goals()}"
    for tempting in c.tempting:
        caught = judge_tempting(c, tempting)
        assert caught.proven, f"“{tempting.name}” does not break {tempting.fails}: {caught.tried.broken_goals()}"


def test_every_challenge_lists_tempting_wrong_designs_and_counts_a_cost_where_one_is_spent():
    challenges = {c.id: c for c in load_challenges()}
    assert all(c.tempting for c in challenges.values()), [i for i, c in challenges.items() if not c.tempting]
    for challenge_id, knob in (("size-the-pool", "services.blog.workers"), ("drain-the-spike", "consumer.count")):
        c = challenges[challenge_id]
        assert [cost.knob for cost in c.costs] == [knob]
        assert c.knobs_of(c.solution).get(knob) < c.constraints.at_most[knob], "the answer is not the maximum"
    assert {cost.metric for cost in challenges["poison-aside"].costs} >= {"msg.redelivered"}
    assert {cost.metric for cost in challenges["retry-storm"].costs} == {"user.calls"}


def sandbox(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "sandbox", *args], cwd=ROOT, capture_output=True, text=True,
                          timeout=120)


def test_challenges_lists_each_with_what_it_lets_you_change():
    result = sandbox("challenges")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert [line.split()[0] for line in lines[:-1:2]] == [p.stem for p in PATHS]
    assert "you may change: architecture: queue; consumer.count: 1 to 8 consumers" in result.stdout
    assert lines[-1] == f"{len(PATHS)} challenges in challenges/; try them on the Challenges page"


BROKEN = '''
id = "already-solved"
title = "Nothing to solve"
brief = "Nothing breaks."
duration = 10
watch = ["read.errors"]
hints = ["one", "two"]

[start]
architecture = "queue"

[constraints]
architectures = ["queue"]
knobs = ["consumer.count"]

[solution]
architecture = "queue"
consumer.count = 2
why = "Any."

[[timeline]]
at = 1
do = "load"
reads_per_s = 10

[[expect]]
metric = "read.error_rate"
at_most = 0
why = "reads work"
'''


def test_check_fails_a_challenge_whose_start_already_passes_and_names_a_bad_file(monkeypatch, tmp_path, capsys):
    solved = tmp_path / "01-already-solved.toml"
    solved.write_text(BROKEN)
    bad = tmp_path / "02-bad.toml"
    bad.write_text(BROKEN.replace('metric = "read.error_rate"', 'metric = "read.errs"'))
    monkeypatch.setattr(cli, "challenge_paths", lambda: [solved])
    assert cli._check_challenges() == 1
    out = capsys.readouterr().out
    assert "✗ 01-already-solved            start holds 1/1, reference 1/1 on seeds 1–6" in out
    assert "the start already reaches the goal on every judged seed: there is nothing to solve" in out
    harmless = tmp_path / "03-harmless-tempting.toml"
    harmless.write_text(BROKEN.replace("reads_per_s = 10", "reads_per_s = 400").replace(
        'why = "reads work"', 'why = "reads work"\n\n[[tempting]]\nname = "two consumers"\nwhy = "w"\n'
                              'architecture = "queue"\nconsumer.count = 2\nfails = "read.error_rate"'))
    monkeypatch.setattr(cli, "challenge_paths", lambda: [harmless])
    assert cli._check_challenges() == 1
    out = capsys.readouterr().out
    assert "0/1 tempting designs fail" in out
    assert "✗ “two consumers” passes on every judged seed: it is not wrong here" in out
    monkeypatch.setattr(cli, "challenge_paths", lambda: [solved, bad])
    assert cli._check_challenges() == 2
    assert f"✗ 02-bad: INVALID — {bad}: expect[0].metric: 'read.errs' is not a metric" in capsys.readouterr().out


OUTCOME_WORDS = ("closes", "fixes", "prevents", "avoids", "solves", "race", "stale", "storm", "poison")


@pytest.mark.parametrize("path", PATHS, ids=[p.stem for p in PATHS])
def test_a_knobs_tooltip_explains_what_it_does_not_what_it_solves(path):
    """The page shows each knob's doc as its tooltip: a mechanism, never the challenge's failure or its cure."""
    c = load_challenge(path)
    for key in c.constraints.knobs:
        doc = KNOBS[key].doc.lower()
        assert not [word for word in OUTCOME_WORDS if word in doc], f"{key}: {KNOBS[key].doc}"
