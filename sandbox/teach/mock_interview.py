"""A mock interview: five random cards, each answered in writing, then the interviewer's follow-up, then
self-grading against the card's key points; a card that missed a key point comes back once, a few questions later
(`review.GAP`); at the end, what to review and which lessons teach it."""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal

from sandbox.teach.cards import Card
from sandbox.teach.review import GAP, missed_card, repeat_at

QUESTIONS = 5
Stage = Literal["answer", "follow_up", "grade"]


@dataclass
class Turn:
    card: Card
    answer: str = ""
    follow_up_answer: str = ""
    covered: tuple[int, ...] = ()
    """The key points (by index) the learner says their answers covered."""
    repeat: bool = False
    """The second asking of a card the learner missed earlier in this interview."""

    @property
    def missed(self) -> tuple[str, ...]:
        return tuple(point for i, point in enumerate(self.card.key_points) if i not in self.covered)


@dataclass
class MockInterview:
    turns: list[Turn]
    position: int = 0
    stage: Stage = "answer"
    finished: bool = False
    deck: list[Card] = field(default_factory=list)
    """Cards not asked yet, in their drawn order: they fill the gap before a repeat near the end."""
    extra: int = 0
    """Questions added from the deck so far (at most GAP)."""

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
        if not self.turn.repeat and missed_card(self.turn.covered, self.turn.card):
            self._bring_back(self.turn.card)
        if self.position == len(self.turns) - 1:
            self.finished = True
        else:
            self.position += 1
            self.stage = "answer"

    def _bring_back(self, card: Card) -> None:
        """Ask the missed card again after GAP other questions, drawing new ones when too few are left."""
        at = repeat_at(self.position)
        while len(self.turns) < at and self.deck and self.extra < GAP:
            self.turns.append(Turn(self.deck.pop(0)))
            self.extra += 1
        self.turns.insert(min(at, len(self.turns)), Turn(card, repeat=True))

    @property
    def first_asked(self) -> list[Turn]:
        return [t for t in self.turns if not t.repeat]

    def summary(self) -> Summary:
        firsts = self.first_asked
        covered = sum(len(t.covered) for t in firsts)
        total = sum(len(t.card.key_points) for t in firsts)
        weak = [t for t in firsts if len(t.covered) < len(t.card.key_points)]
        votes = Counter(lesson for t in weak for lesson in t.card.review)
        order = {lesson: i for i, lesson in enumerate(lesson for t in weak for lesson in t.card.review)}
        review = tuple(sorted(votes, key=lambda lesson: (-votes[lesson], order[lesson])))
        recovered = tuple(t for t in self.turns if t.repeat and not t.missed)
        return Summary(covered, total, tuple(weak), review, recovered)


@dataclass(frozen=True)
class Summary:
    covered: int
    total: int
    weak: tuple[Turn, ...]
    """The turns whose answers missed a key point, in the order they were asked."""
    review: tuple[str, ...]
    """Lesson ids to review, those behind the most missed cards first."""
    recovered: tuple[Turn, ...] = ()
    """Missed cards that came back and were answered in full the second time."""

    @property
    def share(self) -> float:
        return self.covered / self.total if self.total else 0.0


def start(cards: Sequence[Card], seed: int, questions: int = QUESTIONS) -> MockInterview:
    """Five cards (fewer if there are fewer), drawn at random from `seed`: the same seed, the same interview; the rest
    of the draw waits in the deck."""
    order = random.Random(seed).sample(list(cards), len(cards))
    picked, rest = order[:questions], order[questions:]
    return MockInterview([Turn(card) for card in picked], deck=rest)
