"""A learner's progress through the lessons and interview cards, kept in the session and saved as small JSON."""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass, field
from typing import Any

FORMAT = "post-office-lab-progress/1"
MAX_PROGRESS_CHARS = 256 * 1024
"""A learner's whole progress with every card answered at length is well under this."""
_STEP_INDEX = re.compile(r"[0-9]{1,4}")
"""A step's number: ASCII digits only (`"²".isdigit()` is true, yet int("²") fails)."""


class ProgressError(ValueError):
    """A progress file that cannot be read back; the message says what is wrong."""


@dataclass
class LessonProgress:
    step: int = 0
    """The step the learner is on (0-based)."""
    answers: dict[int, float] = field(default_factory=dict)
    """Step index -> the learner's prediction: the 0-based choice, or the number they gave."""
    completed: bool = False


@dataclass
class CardProgress:
    answer: str = ""
    covered: list[int] = field(default_factory=list)
    """Indexes of the key points the learner says their answer covered."""
    graded: bool = False
    """The learner has seen the model answer and graded theirs against its key points."""


@dataclass
class CodeProgress:
    """A "write the code" task: the learner's last handler, and whether it has passed."""

    source: str = ""
    solved: bool = False


@dataclass
class Progress:
    lessons: dict[str, LessonProgress] = field(default_factory=dict)
    cards: dict[str, CardProgress] = field(default_factory=dict)
    code: dict[str, CodeProgress] = field(default_factory=dict)

    def lesson(self, lesson_id: str) -> LessonProgress:
        return self.lessons.setdefault(lesson_id, LessonProgress())

    def card(self, card_id: str) -> CardProgress:
        return self.cards.setdefault(card_id, CardProgress())

    def to_json(self) -> str:
        return json.dumps({
            "format": FORMAT,
            "lessons": {k: {"step": p.step, "answers": {str(i): c for i, c in p.answers.items()},
                            "completed": p.completed} for k, p in self.lessons.items()},
            "cards": {k: {"answer": p.answer, "covered": p.covered, "graded": p.graded} for k, p in self.cards.items()},
            "code": {k: {"source": p.source, "solved": p.solved} for k, p in self.code.items()},
        }, indent=1)


def _whole(value: Any, where: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ProgressError(f"{where}: {value!r} is not a whole number of 0 or more")
    return value


def _prediction(value: Any, where: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise ProgressError(f"{where}: {value!r} is not a prediction (a choice's number, or a finite number)")
    return value


def _table(value: Any, where: str) -> dict:
    if not isinstance(value, dict):
        raise ProgressError(f"{where}: must be an object")
    return value


def parse_progress(text: str, lesson_steps: dict[str, int], card_points: dict[str, int],
                   task_ids: frozenset[str] = frozenset()) -> Progress:
    """Read a saved progress file, checked against the lessons (id -> steps), cards (id -> key points) and code
    tasks."""
    if len(text) > MAX_PROGRESS_CHARS:
        raise ProgressError(f"not a progress file: it is {len(text):,} characters long; a progress file is a few KB "
                            f"(at most {MAX_PROGRESS_CHARS:,})")
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ProgressError(f"not a progress file: not valid JSON ({exc})") from None
    except RecursionError:
        raise ProgressError("not a progress file: its JSON is nested too deeply") from None
    doc = _table(doc, "progress")
    if doc.get("format") != FORMAT:
        raise ProgressError(f"not a progress file: its format is {doc.get('format')!r}, expected {FORMAT!r}")
    progress = Progress()
    for lesson_id, raw in _table(doc.get("lessons", {}), "lessons").items():
        if lesson_id not in lesson_steps:
            raise ProgressError(f"lessons.{lesson_id}: no such lesson")
        raw = _table(raw, f"lessons.{lesson_id}")
        steps = lesson_steps[lesson_id]
        step = _whole(raw.get("step", 0), f"lessons.{lesson_id}.step")
        if step >= steps:
            raise ProgressError(f"lessons.{lesson_id}.step: {step} is past the lesson's {steps} steps")
        answers = {}
        for index, choice in _table(raw.get("answers", {}), f"lessons.{lesson_id}.answers").items():
            if not _STEP_INDEX.fullmatch(index) or int(index) >= steps:
                raise ProgressError(f"lessons.{lesson_id}.answers: {index!r} is not a step of this lesson")
            answers[int(index)] = _prediction(choice, f"lessons.{lesson_id}.answers.{index}")
        progress.lessons[lesson_id] = LessonProgress(step, answers, raw.get("completed") is True)
    for card_id, raw in _table(doc.get("cards", {}), "cards").items():
        if card_id not in card_points:
            raise ProgressError(f"cards.{card_id}: no such interview card")
        raw = _table(raw, f"cards.{card_id}")
        answer = raw.get("answer", "")
        if not isinstance(answer, str):
            raise ProgressError(f"cards.{card_id}.answer: must be text")
        covered = raw.get("covered", [])
        if not isinstance(covered, list) or any(_whole(i, f"cards.{card_id}.covered") >= card_points[card_id]
                                                for i in covered):
            raise ProgressError(f"cards.{card_id}.covered: must list key-point numbers of this card")
        progress.cards[card_id] = CardProgress(answer, sorted(set(covered)), raw.get("graded") is True)
    for task_id, raw in _table(doc.get("code", {}), "code").items():
        if task_id not in task_ids:
            raise ProgressError(f"code.{task_id}: no such code task")
        raw = _table(raw, f"code.{task_id}")
        source = raw.get("source", "")
        if not isinstance(source, str):
            raise ProgressError(f"code.{task_id}.source: must be text")
        progress.code[task_id] = CodeProgress(source, raw.get("solved") is True)
    return progress
