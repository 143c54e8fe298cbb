"""Spaced review: what the lessons page says to go over again, from the learner's wrong predictions and the
interview cards they graded short."""

from __future__ import annotations

from sandbox.teach.cards import load_cards
from sandbox.teach.lessons import load_lessons
from sandbox.teach.progress import Progress, parse_progress
from sandbox.teach.review import GAP, missed_card, repeat_at, to_review

LESSONS = load_lessons()
CARDS = load_cards()


def _wrong_choice(step) -> int:
    return next(i for i in range(len(step.choices)) if i != step.answer)


def test_nothing_to_review_before_anything_is_answered_or_when_all_is_right():
    progress = Progress()
    assert to_review(progress, LESSONS, CARDS) == []
    cascade = LESSONS[1]
    progress.lesson(cascade.id).answers = {i: s.answer for i, s in enumerate(cascade.steps) if s.answer is not None}
    card = CARDS[0]
    progress.card(card.id).covered, progress.card(card.id).graded = list(range(len(card.key_points))), True
    assert to_review(progress, LESSONS, CARDS) == []


def test_a_wrong_prediction_and_a_card_graded_short_send_the_learner_back_most_reasons_first():
    progress = Progress()
    cascade, durability = LESSONS[1], next(lesson for lesson in LESSONS if lesson.id == "durability")
    progress.lesson(cascade.id).answers = {1: _wrong_choice(cascade.steps[1])}
    progress.lesson(durability.id).answers = {0: _wrong_choice(durability.steps[0]),
                                              1: durability.steps[1].answer}
    card = next(c for c in CARDS if "durability" in c.review)
    progress.card(card.id).covered, progress.card(card.id).graded = [0], True
    ungraded = next(c for c in CARDS if c.id != card.id)
    progress.card(ungraded.id).answer = "typed, never graded"
    items = to_review(progress, LESSONS, CARDS)
    ids = [item.lesson_id for item in items]
    assert ids[0] == "durability" and "cascade" in ids  # durability has two reasons, the others one
    assert set(ids) == {"durability", "cascade", *card.review}
    assert [len(item.reasons) for item in items] == sorted((len(item.reasons) for item in items), reverse=True)
    assert items[0].reasons[0] == f"your prediction in step 1, “{durability.steps[0].title}”, was wrong"
    left = len(card.key_points) - 1
    assert f"the interview card “{card.question}” missed {left} key points" in items[0].reasons
    assert all(ungraded.question not in reason for item in items for reason in item.reasons)


def test_a_numeric_prediction_out_of_tolerance_is_wrong_too():
    lesson = next(lesson for lesson in LESSONS if lesson.id == "waiting-numbers")
    progress = Progress()
    number = lesson.steps[0].number
    progress.lesson(lesson.id).answers = {0: number.answer + number.tolerance * 3}
    [item] = to_review(progress, LESSONS, CARDS)
    assert item.lesson_id == lesson.id and "step 1" in item.reasons[0]


def test_the_gap_and_what_counts_as_missed():
    assert repeat_at(0) == GAP + 1 and GAP >= 2
    card = CARDS[0]
    assert missed_card([0], card) and not missed_card(range(len(card.key_points)), card)


def test_graded_survives_a_save_and_a_load():
    progress = Progress()
    card = CARDS[0]
    progress.card(card.id).covered, progress.card(card.id).graded = [1], True
    back = parse_progress(progress.to_json(), {lesson.id: len(lesson.steps) for lesson in LESSONS},
                          {c.id: len(c.key_points) for c in CARDS})
    assert back.cards[card.id].graded and back.cards[card.id].covered == [1]
