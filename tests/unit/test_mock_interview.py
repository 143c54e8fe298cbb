"""The mock interview: five random cards, answer → follow-up → self-grade each, then what to review."""

from __future__ import annotations

from sandbox.teach.cards import load_cards
from sandbox.teach.mock_interview import QUESTIONS, start
from sandbox.teach.review import GAP

CARDS = load_cards()


def test_five_different_cards_drawn_by_the_seed():
    interview = start(CARDS, seed=3)
    ids = [t.card.id for t in interview.turns]
    assert len(ids) == QUESTIONS == len(set(ids))
    assert [t.card.id for t in start(CARDS, seed=3).turns] == ids
    assert len({tuple(t.card.id for t in start(CARDS, seed=s).turns) for s in range(20)}) > 15


def test_each_question_goes_answer_then_follow_up_then_grade():
    interview = start(CARDS, seed=1)
    first = interview.turn
    assert (interview.position, interview.stage, interview.finished) == (0, "answer", False)
    interview.answer("  A broker.  ")
    assert interview.stage == "follow_up" and first.answer == "A broker."
    interview.answer_follow_up("It is redelivered.")
    assert interview.stage == "grade" and first.follow_up_answer == "It is redelivered."
    interview.grade([1, 0, 99])
    assert first.covered == (0, 1)  # out-of-range points are ignored
    assert (interview.position, interview.stage) == (1, "answer") and interview.turn is not first


def _sit(interview, missed_first: set[int]) -> None:
    """Answer every question; the first askings numbered in `missed_first` cover one key point, all else all."""
    firsts = 0
    while not interview.finished:
        turn = interview.turn
        interview.answer("answer")
        interview.answer_follow_up("follow-up")
        miss = not turn.repeat and firsts in missed_first
        firsts += not turn.repeat
        interview.grade([0] if miss else range(len(turn.card.key_points)))


def test_the_summary_sends_the_learner_to_the_lessons_behind_the_missed_points():
    interview = start(CARDS, seed=5)
    _sit(interview, {1, 3})
    assert interview.finished
    summary = interview.summary()
    weak = [t for n, t in enumerate(interview.first_asked) if n % 2 == 1 and n < 4]
    assert list(summary.weak) == weak
    firsts = interview.first_asked
    assert summary.covered == sum(len(t.card.key_points) for t in firsts if t not in weak) + len(weak)
    assert summary.total == sum(len(t.card.key_points) for t in firsts)
    assert set(summary.review) == {lesson for t in weak for lesson in t.card.review}
    votes = [sum(lesson in t.card.review for t in weak) for lesson in summary.review]
    assert votes == sorted(votes, reverse=True)  # the lessons behind the most missed cards first
    assert weak[0].missed == weak[0].card.key_points[1:]


def test_a_perfect_interview_has_nothing_to_review():
    interview = start(CARDS, seed=2)
    for turn in interview.turns:
        interview.answer("a")
        interview.answer_follow_up("b")
        interview.grade(range(len(turn.card.key_points)))
    summary = interview.summary()
    assert summary.share == 1 and summary.review == () and summary.weak == ()


def test_a_missed_card_comes_back_once_after_three_other_questions():
    interview = start(CARDS, seed=4)
    first = interview.turn.card
    _sit(interview, {0})
    asked = [(t.card.id, t.repeat) for t in interview.turns]
    assert asked.count((first.id, True)) == 1 and asked.index((first.id, True)) == GAP + 1
    assert [card for card, _ in asked].count(first.id) == 2, "once again, not for ever"
    assert interview.summary().recovered == (interview.turns[GAP + 1],)
    assert len(interview.turns) == QUESTIONS + 1


def test_a_card_missed_near_the_end_still_waits_for_a_few_new_questions():
    interview = start(CARDS, seed=4)
    last = interview.turns[-1].card.id
    _sit(interview, {QUESTIONS - 1})
    asked = [t.card.id for t in interview.turns]
    assert asked[QUESTIONS - 1] == last and asked[QUESTIONS - 1 + GAP + 1] == last
    assert len(set(asked[QUESTIONS:QUESTIONS + GAP])) == GAP and last not in asked[QUESTIONS:QUESTIONS + GAP]
    assert interview.turns[-1].repeat and interview.extra == GAP


def test_a_card_answered_in_full_does_not_come_back():
    interview = start(CARDS, seed=4)
    _sit(interview, set())
    assert not any(t.repeat for t in interview.turns) and len(interview.turns) == QUESTIONS
