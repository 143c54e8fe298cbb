"""LessonRun: one sandbox the steps act on in turn, fresh engines for `run` steps, verdicts with absolute windows."""

from __future__ import annotations

from sandbox.teach.lesson_run import LessonRun, lesson_scenario, play_lesson
from sandbox.teach.lessons import parse_lesson_text
from tests.helpers import run

LESSON = '''+++
id = "demo"
title = "A demo"
goal = "Step through."
scenario = "user-down"
+++

## Healthy

```toml
predict = "Do reads fail?"
answer = 1
why = "Nothing is broken."
observe_s = 10
watch = ["read.errors"]
actions = []

[[choice]]
text = "No"

[[choice]]
text = "Yes"
wrong = "Nothing is broken."

[[expect]]
variant = "sync"
metric = "read.error_rate"
at_most = 0
```

Healthy.

## Replay

```toml
predict = "How many reads a second fail at most?"
number = 0
tolerance = 0
unit = "reads a second"
estimate = {law = "backlog", arrivals_per_s = 0, served_per_s = 0, seconds = 1}
why = "It is the scenario."
watch = ["read.errors"]
run = "user-down"

[[expect]]
variant = "queue"
metric = "read.error_rate"
during = [12, 30]
below = 0.01
```

The scenario, replayed.

## Kill

```toml
predict = "Do sync reads fail?"
answer = 1
why = "Misses need the User Service."
observe_s = 20
watch = ["read.errors"]
actions = [{at = 5, do = "kill", target = "user"}, {at = 15, do = "revive", target = "user"}]

[[choice]]
text = "Yes"

[[choice]]
text = "No"
wrong = "Misses need the User Service."

[[expect]]
variant = "sync"
metric = "read.error_rate"
during = [7, 15]
above = 0.5

[[expect]]
variant = "queue"
metric = "read.error_rate"
below = 0.01
```

It fails.
'''


def lesson():
    return parse_lesson_text(LESSON, "demo.md")


def test_the_sandbox_scenario_puts_the_action_steps_back_to_back():
    s = lesson_scenario(lesson())
    assert (s.id, s.duration_s, s.seed) == ("lesson-demo", 30, 7)
    assert [v.name for v in s.variants] == ["sync", "queue"]
    assert [(a.verb, a.at) for a in s.timeline] == [("kill", 15), ("revive", 25)]
    assert [e.during for e in s.expectations] == [(0, 10), (17, 25), (10, 30)]


def test_stepping_through_plays_each_step_in_its_own_window():
    r = LessonRun(lesson())
    assert (r.step_index, r.step.title, r.step_window(), r.played, r.done) == (0, "Healthy", (0, 10), False, False)
    assert r.engine is r.sandbox
    [healthy] = r.play_step()
    assert healthy.passed and healthy.expectation.during == (0, 10)
    assert r.sandbox.now == 10

    r.next_step()
    assert r.step.run == "user-down" and r.step_window() == (0, 60) and r.engine is not r.sandbox
    replay = r.play_step()
    assert r.engine.now == 60 and r.sandbox.now == 10
    assert [v.expectation.during for v in replay] == [(12, 30)] and replay[0].passed

    r.next_step()
    assert r.engine is r.sandbox and r.step_window() == (10, 30)
    kill = r.play_step()
    assert [v.expectation.during for v in kill] == [(17, 25), (10, 30)]
    assert all(v.passed for v in kill)
    assert r.done and r.sandbox.now == 30


def test_playing_twice_returns_the_same_verdicts_and_next_step_plays_an_unplayed_step():
    r = LessonRun(lesson())
    r.next_step()
    assert r.sandbox.now == 10 and r.step_index == 1
    assert r.play_step() is r.play_step()
    r.next_step()
    r.next_step()
    r.next_step()
    assert r.done and r.step_index == 2


def test_reset_starts_over_on_a_fresh_sandbox():
    r = LessonRun(lesson())
    first = [v.observed for v in r.play_step()]
    r.next_step()
    r.reset()
    assert (r.step_index, r.sandbox.now, r.played) == (0, 0, False)
    assert [v.observed for v in r.play_step()] == first


def test_the_answer_is_checked_zero_based_and_a_number_within_its_tolerance():
    r = LessonRun(lesson())
    assert r.step.is_right(0) and not r.step.is_right(1)
    r.next_step()
    assert r.step.is_right(0) and not r.step.is_right(1)


def test_stepping_gives_the_same_verdicts_as_playing_the_sandbox_scenario_at_once():
    one_go = run(lesson_scenario(lesson()), seed=3)
    stepped = play_lesson(lesson(), seed=3)
    sandbox_verdicts = [v for step in (stepped[0], stepped[2]) for v in step]
    assert [v.observed for v in sandbox_verdicts] == [v.observed for v in one_go.verdicts]
    assert [v.passed for v in sandbox_verdicts] == [v.passed for v in one_go.verdicts]


def test_a_seed_is_deterministic_and_another_seed_changes_the_numbers():
    def frames(seed):
        r = LessonRun(lesson(), seed)
        r.play_step()
        return r.sandbox.frames()

    assert frames(1) == frames(1)
    assert frames(1) != frames(2)
