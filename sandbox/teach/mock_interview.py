"""A mock interview: five random cards, each answered in writing, then the interviewer's follow-up, then
self-grading against the card's key points; at the end, what to review and which lessons teach it."""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from sandbox.teach.lessons import Card

QUESTIONS = 5
Stage = Literal["answer", "follow_up", "grade"]


@dataclass
class Turn:
    card: Card
    answer: str = ""
    follow_up_answer: str = ""
    covered: tuple[int, ...] = ()
    """The key points (by index) the learner says their answers covered."""

    @property
    def missed(self) -> tuple[str, ...]:
        return tuple(point for i, point in enumerate(self.card.key_points) if i not in self.covered)


@dataclass
class MockInterview:
    turns: list[Turn]
    position: int = 0
    stage: Stage = "answer"
    finished: bool = False

    @property
    def turn(self) -> Turn:
        return self.turns[self.position]

    def answer(self, text: str) -> None:
        """The learner's answer to the question; the interviewer asks the follow-up next."""
        self.turn.answer = text.strip()
        self.stage = "follow_up"

    def answer_follow_up(self, text: str) -> None:
        """The learner's answer to the follow-up; the model answer and key points come next."""
        self.turn.follow_up_answer = text.strip()
        self.stage = "grade"

    def grade(self, covered: Sequence[int]) -> None:
        """The key points the learner covered; on to the next question, or the end."""
        count = len(self.turn.card.key_points)
        self.turn.covered = tuple(sorted({i for i in covered if 0 <= i < count}))
        if self.position == len(self.turns) - 1:
            self.finished = True
        else:
            self.position += 1
            self.stage = "answer"

    def summary(self) -> Summary:
        covered = sum(len(t.covered) for t in self.turns)
        total = sum(len(t.card.key_points) for t in self.turns)
        weak = [t for t in self.turns if len(t.covered) < len(t.card.key_points)]
        votes = Counter(lesson for t in weak for lesson in t.card.review)
        order = {lesson: i for i, lesson in enumerate(lesson for t in weak for lesson in t.card.review)}
        review = tuple(sorted(votes, key=lambda lesson: (-votes[lesson], order[lesson])))
        return Summary(covered, total, tuple(weak), review)


@dataclass(frozen=True)
class Summary:
    covered: int
    total: int
    weak: tuple[Turn, ...]
    """The turns whose answers missed a key point, in the order they were asked."""
    review: tuple[str, ...]
    """Lesson ids to review, those behind the most missed cards first."""

    @property
    def share(self) -> float:
        return self.covered / self.total if self.total else 0.0


def start(cards: Sequence[Card], seed: int, questions: int = QUESTIONS) -> MockInterview:
    """Five cards (fewer if there are fewer), drawn at random from `seed`: the same seed, the same interview."""
    picked = random.Random(seed).sample(list(cards), min(questions, len(cards)))
    return MockInterview([Turn(card) for card in picked])
