"""The mock interview: five random cards, answer → follow-up → self-grade each, then what to review."""

from __future__ import annotations

from sandbox.teach.lessons import load_cards
from sandbox.teach.mock_interview import QUESTIONS, start

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


def test_the_summary_sends_the_learner_to_the_lessons_behind_the_missed_points():
    interview = start(CARDS, seed=5)
    for n, turn in enumerate(interview.turns):
        interview.answer("answer")
        interview.answer_follow_up("follow-up")
        interview.grade(range(len(turn.card.key_points)) if n % 2 == 0 else [0])
    assert interview.finished
    summary = interview.summary()
    weak = [t for n, t in enumerate(interview.turns) if n % 2 == 1]
    assert list(summary.weak) == weak
    assert summary.covered == sum(len(t.card.key_points) for t in interview.turns[::2]) + len(weak)
    assert summary.total == sum(len(t.card.key_points) for t in interview.turns)
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
