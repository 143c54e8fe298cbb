"""Stepping through a lesson on the simulation: the one stepper both `check` and the UI use.

A lesson's `actions` steps act in turn on one sandbox: the base scenario's load, knobs and variants, each step's
actions at its own moments, one step after another. A `run` step plays a whole named scenario on a fresh engine
instead and leaves the sandbox where it was. Same lesson, same seed: same verdicts.
"""

from __future__ import annotations

from dataclasses import replace
from itertools import groupby

from sandbox.catalog import find_scenario
from sandbox.engine import Engine, make_engine, play
from sandbox.model.expectations import Expectation, Verdict, check
from sandbox.model.scenario import Scenario
from sandbox.teach.lessons import Lesson, Step


def step_starts(lesson: Lesson) -> list[float]:
    """Each step's start in the sandbox's time; a `run` step takes none of it."""
    starts, now_s = [], 0.0
    for step in lesson.steps:
        starts.append(now_s)
        if step.run is None:
            now_s += step.observe_s
    return starts


def absolute(expectation: Expectation, start_s: float, length_s: float) -> Expectation:
    """An expectation whose window is relative to a step starting at start_s, with the window made absolute."""
    first, last = expectation.window(length_s)
    return replace(expectation, during=(start_s + first, start_s + last))


def lesson_scenario(lesson: Lesson) -> Scenario:
    """The lesson's sandbox as one scenario: its `actions` steps back to back, moments and windows absolute."""
    base = find_scenario(lesson.scenario_id)
    timeline, expectations = [], []
    for step, start_s in zip(lesson.steps, step_starts(lesson), strict=True):
        if step.run is None:
            timeline += [replace(a, at=start_s + a.at) for a in step.actions]
            expectations += [absolute(e, start_s, step.observe_s) for e in step.expectations]
    duration_s = sum(step.observe_s for step in lesson.steps if step.run is None)
    return replace(base, id=f"lesson-{lesson.id}", title=lesson.title, summary=lesson.goal, duration_s=duration_s,
                   timeline=tuple(timeline), expectations=tuple(expectations), source=lesson.source,
                   live_duration_s=None)


class LessonRun:
    """Where a learner is in a lesson, and the engines its steps play on.

    `seed` None: the sandbox uses the base scenario's seed and a `run` step its scenario's own seed.
    """

    def __init__(self, lesson: Lesson, seed: int | None = None):
        self.lesson = lesson
        self.seed = seed
        self.scenario = lesson_scenario(lesson)
        self._starts = step_starts(lesson)
        self.reset()

    def reset(self) -> None:
        """Back to the first step, on a fresh sandbox."""
        self.sandbox = make_engine("sim", self.scenario, self.seed)
        self.step_index = 0
        self.verdicts: list[Verdict] | None = None
        self.notes: list[str] = []
        self._run: tuple[Scenario, Engine] | None = None

    @property
    def step(self) -> Step:
        return self.lesson.steps[self.step_index]

    @property
    def played(self) -> bool:
        """The current step's actions are applied and its time has passed."""
        return self.verdicts is not None

    @property
    def done(self) -> bool:
        return self.played and self.step_index == len(self.lesson.steps) - 1

    @property
    def engine(self) -> Engine:
        """The engine the current step's charts read: the sandbox, or a `run` step's own engine."""
        if self.step.run is None:
            return self.sandbox
        return self._run_of_step(self.step.run)[1]

    @property
    def step_scenario(self) -> Scenario:
        """The scenario the current step plays: the lesson's sandbox, or a `run` step's own."""
        if self.step.run is None:
            return self.scenario
        return self._run_of_step(self.step.run)[0]

    def _run_of_step(self, scenario_id: str) -> tuple[Scenario, Engine]:
        """The current `run` step's scenario and its own engine, made once."""
        if self._run is None:
            scenario = find_scenario(scenario_id)
            self._run = (scenario, make_engine("sim", scenario, self.seed))
        return self._run

    def step_window(self) -> tuple[float, float]:
        """The current step's (start_s, end_s) in `engine`'s time."""
        if self.step.run is not None:
            return (0.0, self._run_of_step(self.step.run)[0].duration_s)
        start_s = self._starts[self.step_index]
        return (start_s, start_s + self.step.observe_s)

    def play_step(self) -> list[Verdict]:
        """Apply the step's actions at their moments and let its time pass (or play its scenario);
        return its verdicts, windows absolute. Playing a step twice returns the same verdicts."""
        if self.verdicts is not None:
            return self.verdicts
        step = self.step
        start_s, end_s = self.step_window()
        engine = self.engine
        if step.run is None:
            for at, actions in groupby(step.actions, key=lambda a: a.at):
                engine.advance(start_s + at - engine.now)
                for action in actions:
                    self.notes.extend(engine.apply(action))
            engine.advance(end_s - engine.now)
        else:
            self.notes.extend(play(self._run_of_step(step.run)[0], engine))
        expectations = [absolute(e, start_s, end_s - start_s) for e in step.expectations]
        self.verdicts = [check(e, engine.measurements(e.variant), end_s) for e in expectations]
        return self.verdicts

    def measured(self) -> float | None:
        """What the played step's run measured for its numeric prediction (None: no measure, or not played)."""
        number = self.step.number
        if not self.played or number is None or number.measure is None:
            return None
        measure = number.measure
        start_s, end_s = self.step_window()
        frames = [f for f in self.engine.frames() if f.get("variant") == measure.variant]
        return measure.observe(self.engine.measurements(measure.variant), frames, start_s, end_s)

    def next_step(self) -> None:
        """Move to the next step; the current one is played first if it was not, so the sandbox's clock
        always matches the steps taken. Does nothing after the last step."""
        self.play_step()
        if self.step_index < len(self.lesson.steps) - 1:
            self.step_index += 1
            self.verdicts = None
            self.notes = []
            self._run = None


def play_lesson(lesson: Lesson, seed: int | None = None) -> list[list[Verdict]]:
    """Every step's verdicts, stepping through the lesson as a learner would."""
    run = LessonRun(lesson, seed)
    verdicts = []
    for _ in lesson.steps:
        verdicts.append(run.play_step())
        run.next_step()
    return verdicts
