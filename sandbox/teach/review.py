"""Spaced review: what a learner got wrong comes back, a few other questions later, and the lessons page says what
to go over again. Pure: the pages hand in the learner's progress and show what comes out."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sandbox.teach.cards import Card
from sandbox.teach.lessons import Lesson
from sandbox.teach.progress import Progress

GAP = 3
"""How many other questions come between a missed card and its second asking: long enough that the answer is
recalled, not repeated from the screen a moment ago."""


def repeat_at(position: int, gap: int = GAP) -> int:
    """Where a card missed at `position` comes back: after `gap` other questions."""
    return position + gap + 1


def missed_card(covered: Sequence[int], card: Card) -> bool:
    """A card answered without every key point counts as got wrong."""
    return len(set(covered)) < len(card.key_points)


@dataclass(frozen=True)
class ReviewItem:
    lesson_id: str
    title: str
    reasons: tuple[str, ...]
    """In words: the predictions missed in the lesson, and the interview cards that send the learner here."""


def to_review(progress: Progress, lessons: Sequence[Lesson], cards: Sequence[Card]) -> list[ReviewItem]:
    """The lessons to go over again, those with the most reasons first (then in lesson order): each prediction
    the learner got wrong there, and each graded interview card that missed key points and names the lesson."""
    reasons: dict[str, list[str]] = {lesson.id: [] for lesson in lessons}
    for lesson in lessons:
        mine = progress.lessons.get(lesson.id)
        if mine is None:
            continue
        for index, prediction in sorted(mine.answers.items()):
            if index < len(lesson.steps) and not lesson.steps[index].is_right(prediction):
                reasons[lesson.id].append(f"your prediction in step {index + 1}, “{lesson.steps[index].title}”, "
                                          "was wrong")
    for card in cards:
        mine_card = progress.cards.get(card.id)
        if mine_card is None or not mine_card.graded or not missed_card(mine_card.covered, card):
            continue
        left = len(card.key_points) - len(set(mine_card.covered))
        for lesson_id in card.review:
            if lesson_id in reasons:
                reasons[lesson_id].append(f"the interview card “{card.question}” missed {left} key "
                                          f"point{'s' if left != 1 else ''}")
    order = {lesson.id: i for i, lesson in enumerate(lessons)}
    titles = {lesson.id: lesson.title for lesson in lessons}
    items = [ReviewItem(lesson_id, titles[lesson_id], tuple(why)) for lesson_id, why in reasons.items() if why]
    return sorted(items, key=lambda item: (-len(item.reasons), order[item.lesson_id]))
