"""Mangled lesson and card files: the loader accepts them or raises LessonError with a line in the file."""

from __future__ import annotations

import re

from hypothesis import given, settings
from hypothesis import strategies as st

from sandbox.teach.lessons import Card, Lesson, LessonError, parse_cards_text, parse_lesson_text
from tests.unit.test_lessons_loader import CARDS, LESSON

FRAGMENTS = st.one_of(
    st.sampled_from([
        "", "+++", "```", "```toml", "## ", "## Another step", "[[expect]]", "[[card]]", "actions = 3",
        'actions = [{do = "hang", target = "blog"}]', 'run = "user-down"', "observe_s = 0", "answer = 0",
        'watch = ["queue.depth_max"]', 'choices = "one"', 'metric = "msg.lost"', "during = [5, 1]",
        'variant = "queue"', "at_least = true", 'scenario = "happy-path"', "key_points = []", "id = 3",
        'do = "set", key = "http.retries", value = -1', "why = '''", "expect = {}", "hint = 1",
        "[[choice]]", 'text = "x"', "wrong = 3", "number = 1", "tolerance = -2", 'unit = ""',
        'estimate = {law = "backlog", seconds = 1}', 'code = [{ref = "no:such"}]', 'code = "x"', "follow_up = 2",
        'lessons = ["nope"]',
    ]),
    st.text(alphabet='abc=[]{}"\',.#+`\n 0123456789', max_size=12),
)


def mangle(text: str, edits: list[tuple[int, str, bool]]) -> str:
    lines = text.splitlines()
    for index, fragment, replace in edits:
        at = index % (len(lines) + 1)
        if replace and at < len(lines):
            lines[at] = fragment
        else:
            lines.insert(at, fragment)
    return "\n".join(lines) + "\n"


EDITS = st.lists(st.tuples(st.integers(0, 200), FRAGMENTS, st.booleans()), min_size=1, max_size=3)


def assert_names_a_line(exc: LessonError, text: str) -> None:
    match = re.match(r"^fuzz\.\w+:(\d+): ", str(exc))
    assert match, str(exc)
    assert 1 <= int(match.group(1)) <= len(text.splitlines()) + 1


@settings(max_examples=300, deadline=None)
@given(EDITS)
def test_a_mangled_lesson_loads_or_is_explained_at_a_line(edits):
    text = mangle(LESSON, edits)
    try:
        assert isinstance(parse_lesson_text(text, "fuzz.md"), Lesson)
    except LessonError as exc:
        assert_names_a_line(exc, text)


@settings(max_examples=200, deadline=None)
@given(EDITS)
def test_a_mangled_cards_file_loads_or_is_explained_at_a_line(edits):
    text = mangle(CARDS, edits)
    try:
        assert all(isinstance(card, Card) for card in parse_cards_text(text, "fuzz.toml"))
    except LessonError as exc:
        assert_names_a_line(exc, text)
