"""Numeric predictions that need reasoning: each number agrees with its formula (the loader's check, restated),
and with what the simulation measures for it, averaged over three seeds (one run of a queue at 75% is one noisy
sample: a 600 s run's mean wait spreads about ±25% from seed to seed)."""

from __future__ import annotations

from statistics import fmean

import pytest

from sandbox.teach.lesson_run import LessonRun
from sandbox.teach.lessons import Lesson, load_lessons
from sandbox.teach.measures import DERIVED

SEEDS = (None, 1, 2)
"""The lesson's own seed and two more."""
REASONING = ("wait_share", "mean_wait", "drain_time", "spike_peak")

LESSONS = [lesson for lesson in load_lessons()
           if any(step.number is not None and step.number.measure is not None for step in lesson.steps)]


def measured(lesson: Lesson, seed: int | None) -> dict[int, float | None]:
    run, values = LessonRun(lesson, seed), {}
    for index, step in enumerate(lesson.steps):
        run.play_step()
        if step.number is not None and step.number.measure is not None:
            values[index] = run.measured()
        run.next_step()
    return values


def test_at_least_eight_numeric_predictions_need_reasoning_and_are_measured():
    numeric = [step.number for lesson in load_lessons() for step in lesson.steps if step.number is not None]
    reasoning = [n for n in numeric if n.estimate.law in REASONING and n.measure is not None]
    assert len(reasoning) >= 8
    assert {n.estimate.law for n in reasoning} == set(REASONING)
    assert {n.measure.what for n in reasoning} >= set(DERIVED) | {"queue.depth_max"}


@pytest.mark.parametrize("lesson", LESSONS, ids=[lesson.id for lesson in LESSONS])
def test_each_number_agrees_with_its_formula_and_with_the_run(lesson):
    runs = [measured(lesson, seed) for seed in SEEDS]
    for index, step in enumerate(lesson.steps):
        number = step.number
        if number is None or number.measure is None:
            continue
        assert abs(number.estimate.value() - number.answer) <= number.tolerance, number.estimate.explain()
        values = [run[index] for run in runs]
        assert all(value is not None for value in values), f"{step.title}: nothing measured"
        mean = fmean(v for v in values if v is not None)
        assert abs(mean - number.answer) <= number.measure.tolerance, (
            f"{step.title}: the run measured {mean:.3g} {number.unit} on average ({values}), the number is "
            f"{number.answer:g} ± {number.measure.tolerance:g}; {number.estimate.explain()}")
