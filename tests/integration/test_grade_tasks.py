"""The code tasks' own claims, on the simulation: every reference passes every seed a learner can ask for, each
tempting wrong solution breaks the invariant it names, and every broken handler's counterexample shrinks to at
most five messages and replays by seed."""

from __future__ import annotations

import pytest

from sandbox.grade.grader import grade
from sandbox.grade.grading import MAX_SEEDS, prove
from sandbox.grade.tasks import load_tasks
from sandbox.grade.timeline import explain, lines

TASKS = load_tasks()
BROKEN = [(task, name, source) for task in TASKS
          for name, source in [("start.py", task.start), *((w.file, w.source) for w in task.wrong)]]


@pytest.mark.parametrize("task", TASKS, ids=lambda t: t.id)
def test_the_task_is_proven(task) -> None:
    proof = prove(task)
    assert proof.ok, proof.problems
    assert proof.wrong_failing == len(task.wrong) >= 3


@pytest.mark.parametrize("task", TASKS, ids=lambda t: t.id)
def test_the_reference_passes_every_seed_a_learner_can_ask_for(task) -> None:
    report = grade(task, task.reference, range(1, MAX_SEEDS + 1), shrink=False)
    assert report.passed, {v.invariant: v.detail for v in report.verdicts if not v.held}


@pytest.mark.parametrize(("task", "name", "source"), BROKEN, ids=[f"{t.id}:{n}" for t, n, _ in BROKEN])
def test_a_broken_handler_gets_a_counterexample_of_at_most_five_messages(task, name, source) -> None:
    report = grade(task, source, range(1, 21), name)
    counter = report.counterexample
    assert counter is not None and not report.passed
    assert counter.messages <= 5, counter.shrunk
    again = grade(task, source, [counter.seed], name).counterexample
    assert again is not None and again.events == counter.events, "the seed replays the same counterexample"
    assert any(line.startswith("▶") for line in lines(counter)), "the timeline marks the messages that broke it"


def test_the_explanation_says_how_to_replay() -> None:
    task = next(t for t in TASKS if t.id == "email-once")
    report = grade(task, task.start, range(1, 21), "start.py")
    text = "\n".join(explain(report, "post-office-lab grade start.py --task email-once"))
    assert "✗ no effect applied twice — fails at" in text
    assert f"replay it: post-office-lab grade start.py --task email-once --seed {report.counterexample.seed}" in text
