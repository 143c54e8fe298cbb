"""The lesson and card formats: valid text loads; each kind of mistake is one message naming file, line and field.

A step predicts a choice ([[choice]] tables, each wrong one with why it is wrong) or a number that must agree
with its estimate; it may name the lab's code by reference."""

from __future__ import annotations

import pytest

from sandbox.model.errors import ScenarioError
from sandbox.teach.blocks import LessonError
from sandbox.teach.cards import parse_cards_text
from sandbox.teach.code_refs import CodeRef
from sandbox.teach.lessons import load_lesson, parse_lesson_text

LESSON = '''+++
id = "demo"
title = "A demo"
goal = "Show the format."
scenario = "user-down"
+++

Intro prose.

## Kill the User Service

```toml
predict = "What happens to sync reads?"
answer = 1
why = "Sync misses need the User Service."
hint = "Who calls whom?"
observe_s = 20
watch = ["read.errors", "read.p99_ms"]
actions = [{at = 0, do = "kill", target = "user"}, {at = 10, do = "revive", target = "user"}]
code = [{ref = "sandbox.live.messaging:Consumer._settle", focus = "basic_ack"}]

[[choice]]
text = "They fail"

[[choice]]
text = "Nothing"
wrong = "A sync miss cannot be built without the User Service."

[[expect]]
variant = "sync"
metric = "read.error_rate"
during = [2, 10]
above = 0.5
why = "a miss needs the dead service"
```

The explanation, with a code sample that is not a step:

```text
## not a heading: inside a fence
```

## Replay a scenario

```toml
predict = "How busy is one worker at 5 messages a second of 300 ms each, in percent?"
number = 150
tolerance = 10
unit = "%"
estimate = {law = "utilisation", arrivals_per_s = 5, hold_ms = 300, workers = 1}
why = "It is the same fault."
watch = ["read.errors"]
run = "user-down"

[[expect]]
variant = "queue"
metric = "read.error_rate"
below = 0.01
```

It is the same story.
'''

CARDS = '''[[card]]
id = "outbox"
topic = "reliability"
question = "What is a transactional outbox?"
answer = "A table written in the same transaction as the data."
key_points = ["one transaction", "a relay publishes"]
follow_up = "What if the relay crashes after the confirm?"
lessons = ["broker-down"]
scenario = "broker-down"

[[card]]
id = "dlq"
topic = "failures"
question = "What is a dead-letter queue?"
answer = "Where messages go that cannot be processed."
key_points = ["delivery limit"]
follow_up = "Is a dead-lettered message safe?"
lessons = ["poison-and-duplicates", "durability"]
scenario = "poison-message"
'''


def line_of(text: str, needle: str, nth: int = 1) -> int:
    """1-based line of the nth line containing `needle`."""
    hits = [i for i, line in enumerate(text.splitlines(), start=1) if needle in line]
    return hits[nth - 1]


def error_of(text: str, parse=parse_lesson_text) -> str:
    with pytest.raises(LessonError) as info:
        parse(text, "lessons/02-demo.md")
    return str(info.value)


def test_a_valid_lesson_loads_every_field():
    lesson = parse_lesson_text(LESSON, "demo.md")
    assert (lesson.id, lesson.title, lesson.goal, lesson.scenario_id) == ("demo", "A demo", "Show the format.",
                                                                          "user-down")
    assert lesson.intro == "Intro prose."
    assert [s.title for s in lesson.steps] == ["Kill the User Service", "Replay a scenario"]
    kill, replay = lesson.steps
    assert kill.answer == 0 and kill.choices == ("They fail", "Nothing") and kill.number is None
    assert kill.wrong == ("", "A sync miss cannot be built without the User Service.")
    assert kill.is_right(0) and not kill.is_right(1)
    assert kill.observe_s == 20 and kill.watch == ("read.errors", "read.p99_ms") and kill.hint == "Who calls whom?"
    assert [(a.verb, a.at) for a in kill.actions] == [("kill", 0), ("revive", 10)]
    assert kill.code == (CodeRef("sandbox.live.messaging:Consumer._settle", "basic_ack"),)
    assert kill.run is None and kill.expectations[0].during == (2, 10)
    assert "not a heading" in kill.explain and kill.line == line_of(LESSON, "## Kill")
    assert replay.run == "user-down" and replay.actions == () and replay.observe_s == 60 and replay.code == ()
    assert replay.explain == "It is the same story."


def test_a_numeric_step_is_right_within_its_tolerance_and_carries_its_working():
    number = parse_lesson_text(LESSON, "demo.md").steps[1].number
    step = parse_lesson_text(LESSON, "demo.md").steps[1]
    assert (step.choices, step.answer, step.wrong) == ((), None, ())
    assert (number.answer, number.tolerance, number.unit) == (150, 10, "%")
    assert step.is_right(140) and step.is_right(160) and not step.is_right(139.9) and not step.is_right(1.5)
    assert number.estimate.explain() == "utilisation = arrival rate × hold time ÷ workers = 5/s × 300 ms ÷ 1 = 150%"


def test_scenario_defaults_to_the_happy_path_and_at_to_the_step_start():
    text = LESSON.replace('scenario = "user-down"\n', "").replace("{at = 0, do", "{do")
    lesson = parse_lesson_text(text, "demo.md")
    assert lesson.scenario_id == "happy-path"
    assert lesson.steps[0].actions[0].at == 0


def test_a_lesson_error_is_a_scenario_error_so_the_cli_prints_it_in_one_line():
    assert issubclass(LessonError, ScenarioError)


def test_unknown_metric_names_file_line_step_and_the_allowed_metrics():
    text = LESSON.replace('metric = "read.error_rate"\nduring', 'metric = "read.errs"\nduring')
    message = error_of(text)
    assert message.startswith(f"lessons/02-demo.md:{line_of(text, 'read.errs')}: step 1 expect[0].metric: "
                              "'read.errs' is not a metric; use one of ")
    assert "read.error_rate" in message


def test_unknown_watch_metric_names_its_line():
    text = LESSON.replace('"read.errors", "read.p99_ms"', '"read.errors", "read.p99"')
    assert error_of(text).startswith(f"lessons/02-demo.md:{line_of(text, 'watch =')}: step 1 watch[1]: "
                                     "'read.p99' is not a per-second metric; use one of write.ok,")


def test_unknown_verb_names_the_action():
    text = LESSON.replace('{at = 10, do = "revive"', '{at = 10, do = "resurrect"')
    assert error_of(text).startswith(f"lessons/02-demo.md:{line_of(text, 'actions =')}: step 1 actions[1].do: "
                                     "'resurrect' is not a verb; use one of kill,")


def test_unknown_target_names_the_action():
    text = LESSON.replace('do = "kill", target = "user"', 'do = "kill", target = "database"')
    assert error_of(text) == (f"lessons/02-demo.md:{line_of(text, 'actions =')}: step 1 actions[0].target: "
                              "'database' is not a target; use one of author, blog, user, cache-worker, broker, redis, "
                              "broker-1, broker-2, broker-3")


def test_an_action_on_a_later_line_is_found():
    text = LESSON.replace(', {at = 10, do = "revive"', ',\n  {at = 10, do = "revive", target = "user", ms = 3},\n'
                          '  {at = 11, do = "revive"')
    assert error_of(text).startswith(f"lessons/02-demo.md:{line_of(text, 'ms = 3')}: step 1 actions[1].ms: "
                                     "unknown field for `revive`")


def test_unknown_scenario_in_front_matter_names_its_line():
    text = LESSON.replace('scenario = "user-down"', 'scenario = "user-gone"')
    assert error_of(text).startswith("lessons/02-demo.md:5: scenario: 'user-gone' is not a scenario in scenarios/; "
                                     "use one of ")


def test_unknown_scenario_in_a_run_step_names_its_line():
    text = LESSON.replace('run = "user-down"', 'run = "nope"')
    assert error_of(text).startswith(f"lessons/02-demo.md:{line_of(text, 'run = ')}: step 2 run: "
                                     "'nope' is not a scenario in scenarios/")


def test_unknown_variant_for_the_base_scenario():
    text = LESSON.replace('variant = "sync"', 'variant = "manual-ack"')
    assert error_of(text).startswith(f"lessons/02-demo.md:{line_of(text, 'manual-ack')}: step 1 "
                                     "expect[0].variant: 'manual-ack' is not a variant here; use one of queue, sync")


def test_a_window_outside_the_step():
    text = LESSON.replace("during = [2, 10]", "during = [2, 25]")
    assert error_of(text) == (f"lessons/02-demo.md:{line_of(text, 'during =')}: step 1 expect[0].during: "
                              "[2, 25] must satisfy 0 ≤ start < end ≤ duration (20)")


def test_an_action_after_the_step_ends():
    text = LESSON.replace("{at = 10, do", "{at = 20, do")
    assert error_of(text) == (f"lessons/02-demo.md:{line_of(text, 'actions =')}: step 1 actions[1].at: "
                              "20 is not inside the step; use 0 to below 20")


@pytest.mark.parametrize(("old", "new", "needle", "problem"), [
    ("answer = 1\nwhy = \"Sync", "answer = 3\nwhy = \"Sync", "answer = 3",
     "step 1 answer: 3: use the number of the right choice, 1 to 2"),
    ('[[choice]]\ntext = "Nothing"\nwrong = "A sync miss cannot be built without the User Service."\n', "",
     "[[choice]]", "step 1 choice: needs at least two [[choice]] tables"),
    ('text = "They fail"\n', 'text = "They fail"\nwrong = "It does not."\n', 'wrong = "It does not."',
     "step 1 choice[0].wrong: is the right choice: explain it in the step's `why`"),
    ('text = "They fail"\n', 'text = "They fail"\ncolour = "red"\n', 'colour = "red"',
     "step 1 choice[0].colour: unknown field; allowed: text, wrong"),
    ("answer = 1\nwhy = \"Sync", "why = \"Sync", 'predict = "What happens',
     "step 1: `answer` is required: the number of the right [[choice]]"),
    ("hint = ", "hints = ", "hints =",
     "step 1 hints: unknown field; allowed: predict, answer, choice, number, tolerance, unit, estimate, measure, "
     "why, hint, observe_s, watch, actions, run, code, expect"),
    ("tolerance = 10", "tolerance = -1", "tolerance = -1", "step 2 tolerance: -1: use 0 or more"),
    ("number = 150", "number = 120", "number = 120", "step 2 number: 120 ± 10 disagrees with its estimate: "
     "utilisation = arrival rate × hold time ÷ workers = 5/s × 300 ms ÷ 1 = 150%"),
    ('law = "utilisation"', 'law = "vibes"', "estimate =", "step 2 estimate: law: 'vibes' is not a law; use one of "),
    ("hold_ms = 300, ", "", "estimate =", "step 2 estimate: hold_ms: utilisation needs hold_ms as a number"),
    ('unit = "%"\n', "", 'predict = "How busy',
     "step 2: `unit` is required for a numeric prediction"),
    ('run = "user-down"', 'run = "user-down"\n\n[[choice]]\ntext = "x"', 'predict = "How busy',
     "step 2: needs one kind of prediction"),
    ('focus = "basic_ack"', 'focus = 3', "code = ", "step 1 code[0]: focus must be text"),
    ('ref = "sandbox.live.messaging:Consumer._settle"', 'ref = "sandbox.live.messaging.Consumer"', "code = ",
     "step 1 code[0]: ref 'sandbox.live.messaging.Consumer' must be module:qualname"),
    ('run = "user-down"', 'run = "user-down"\nobserve_s = 10', "observe_s = 10",
     "step 2 observe_s: a `run` step plays its whole scenario; leave observe_s out"),
    ("observe_s = 20", "observe_s = 2.5", "observe_s", "step 1 observe_s: 2.5: use a whole number of seconds"),
    ('run = "user-down"', 'run = "user-down"\nactions = []', "predict = \"How",
     "step 2: needs exactly one of `actions`"),
])
def test_a_malformed_step_names_its_line(old, new, needle, problem):
    text = LESSON.replace(old, new, 1)
    message = error_of(text)
    assert message.startswith(f"lessons/02-demo.md:{line_of(text, needle)}: {problem}"), message


def test_every_wrong_choice_must_say_why_it_is_wrong():
    text = LESSON.replace('wrong = "A sync miss cannot be built without the User Service."\n', "")
    assert error_of(text) == (f"lessons/02-demo.md:{line_of(text, '[[choice]]', 2)}: step 1 choice[1]: "
                              "`wrong` is required: why a learner who picks this choice is wrong")


def test_a_numeric_step_takes_no_choice_answer():
    text = LESSON.replace("number = 150", "answer = 1\nnumber = 150")
    assert error_of(text) == (f"lessons/02-demo.md:{line_of(text, 'answer = 1', 2)}: step 2 answer: "
                              "belongs to a choice; a numeric step's answer is `number`")


def test_a_step_without_expectations_is_malformed():
    text = LESSON.replace('[[expect]]\nvariant = "queue"\nmetric = "read.error_rate"\nbelow = 0.01\n', "")
    line = line_of(text, 'predict = "How busy')
    assert error_of(text) == (f"lessons/02-demo.md:{line}: step 2: "
                              "needs at least one [[expect]] table: the claim the step makes")


def test_a_heading_without_a_toml_block():
    text = LESSON.replace("## Replay a scenario\n\n```toml", "## Replay a scenario\n\nSome prose first.\n\n```toml")
    assert error_of(text) == (f"lessons/02-demo.md:{line_of(text, '## Replay')}: step 2: 'Replay a scenario': "
                              "the heading must be followed by a ```toml block with the step's data")


def test_a_step_without_an_explanation():
    text = LESSON.replace("It is the same story.\n", "")
    assert error_of(text) == (f"lessons/02-demo.md:{line_of(text, '## Replay')}: step 2: 'Replay a scenario': "
                              "needs an explanation (markdown after its ```toml block)")


def test_bad_toml_in_a_step_names_the_file_line():
    text = LESSON.replace('why = "It is the same fault."', 'why = It is the same fault.')
    message = error_of(text)
    assert message.startswith(f"lessons/02-demo.md:{line_of(text, 'why = It')}: step 2: not valid TOML: "), message
    assert "(column 7)" in message


def test_bad_toml_in_the_front_matter_names_the_file_line():
    text = LESSON.replace('goal = "Show the format."', "goal = ")
    assert error_of(text).startswith("lessons/02-demo.md:4: not valid TOML: ")


def test_no_front_matter():
    assert error_of("# Just markdown\n") == ("lessons/02-demo.md:1: a lesson starts with TOML front matter "
                                             "between two +++ lines")


def test_missing_file(tmp_path):
    with pytest.raises(LessonError) as info:
        load_lesson(tmp_path / "01-none.md")
    assert str(info.value) == f"{tmp_path / '01-none.md'}: no such file"


def test_cards_load_with_their_lines():
    cards = parse_cards_text(CARDS, "interview.toml")
    assert [(c.id, c.scenario_id, c.line) for c in cards] == [("outbox", "broker-down", 1),
                                                              ("dlq", "poison-message", line_of(CARDS, "[[card]]", 2))]
    assert cards[0].key_points == ("one transaction", "a relay publishes")
    assert cards[1].follow_up == "Is a dead-lettered message safe?"
    assert cards[1].review == ("poison-and-duplicates", "durability")


def test_a_card_sends_the_learner_only_to_lessons_that_exist():
    text = CARDS.replace('lessons = ["broker-down"]', 'lessons = ["broker-up"]')
    assert error_of(text, parse_cards_text).startswith(
        f"lessons/02-demo.md:{line_of(text, 'broker-up')}: card[0].lessons[0]: 'broker-up' is not a lesson; use one of "
        "post-office, cascade,")
    text = CARDS.replace('follow_up = "Is a dead-lettered message safe?"\n', "")
    assert error_of(text, parse_cards_text) == (f"lessons/02-demo.md:{line_of(text, '[[card]]', 2)}: card[1]: "
                                                "`follow_up` is required")


def test_a_card_naming_an_unknown_scenario():
    text = CARDS.replace('"poison-message"', '"poison"')
    message = error_of(text, parse_cards_text)
    line = line_of(text, '"poison"')
    assert message.startswith(f"lessons/02-demo.md:{line}: card[1].scenario: "
                              "'poison' is not a scenario in scenarios/; use one of ")


def test_a_card_with_a_missing_field_and_one_with_bad_toml():
    text = CARDS.replace('key_points = ["delivery limit"]\n', "")
    assert error_of(text, parse_cards_text) == (f"lessons/02-demo.md:{line_of(text, '[[card]]', 2)}: card[1]: "
                                                "`key_points` is required")
    text = CARDS.replace('topic = "failures"', "topic = failures")
    assert error_of(text, parse_cards_text).startswith(
        f"lessons/02-demo.md:{line_of(text, 'topic = failures')}: not valid TOML: ")
