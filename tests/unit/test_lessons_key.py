"""Predictions that cannot be gamed: the shipped key has no length or position pattern, every wrong choice says
why it is wrong, and each learner sees the choices in their own, stable order."""

from __future__ import annotations

import pytest

from sandbox.teach.choices import (
    MAX_LONGEST_RIGHT,
    MAX_POSITION_RIGHT,
    MAX_SHORTEST_RIGHT,
    choice_order,
    key_balance,
)
from sandbox.teach.guessers import GUESSERS, MAX_OVER_CHANCE, guess_scores, opens_absolute
from sandbox.teach.lessons import lesson_paths, load_lesson, load_lessons, parse_lesson_text
from tests.unit.test_lessons_loader import LESSON

PATHS = lesson_paths()


def test_the_shipped_key_has_no_length_or_position_pattern():
    balance = key_balance(load_lessons())
    assert balance.steps >= 46
    assert balance.longest_share <= MAX_LONGEST_RIGHT, balance.describe()
    assert balance.shortest_share <= MAX_SHORTEST_RIGHT, balance.describe()
    assert max(balance.position_shares) <= MAX_POSITION_RIGHT, balance.describe()
    assert balance.balanced


@pytest.mark.parametrize("path", PATHS, ids=[p.stem for p in PATHS])
def test_every_wrong_choice_has_its_own_explanation(path):
    for step in load_lesson(path).steps:
        if step.number is not None:
            continue
        assert len(step.wrong) == len(step.choices)
        for i, (text, why_wrong) in enumerate(zip(step.choices, step.wrong, strict=True)):
            if i == step.answer:
                assert why_wrong == ""
            else:
                assert len(why_wrong) > 40 and why_wrong != step.why, f"{step.title}: {text!r}"
        assert len(set(step.wrong) - {""}) == len(step.choices) - 1, f"{step.title}: two wrong choices share a why"


def test_some_steps_ask_for_a_number():
    numeric = [s for lesson in load_lessons() for s in lesson.steps if s.number is not None]
    assert len(numeric) >= 4
    assert {s.number.estimate.law for s in numeric} >= {"utilisation", "arrival_rate", "backlog", "workers_needed"}


def test_the_balance_counts_longest_shortest_and_positions():
    lesson = parse_lesson_text(LESSON, "demo.md")  # one choice step: right "They fail" (9) vs "Nothing" (7)
    balance = key_balance([lesson])
    assert (balance.steps, balance.longest_right, balance.shortest_right, balance.by_position) == (1, 1, 0, (1, 0))
    assert not balance.balanced
    assert balance.describe().startswith("1 choice steps: the right choice is the longest in 100% (at most 35%), "
                                         "the shortest in 0% (at most 45%); right by position 1: 100%, 2: 0%")


def test_each_learner_has_an_order_of_their_own_that_stays_put():
    order = choice_order(7, "cascade", 2, 3)
    assert sorted(order) == [0, 1, 2]
    assert choice_order(7, "cascade", 2, 3) == order  # stable within a session
    orders = {choice_order(seed, "cascade", 2, 3) for seed in range(60)}
    assert len(orders) == 6  # every order of three turns up for some learner
    firsts = [choice_order(seed, "cascade", 2, 3)[0] for seed in range(600)]
    assert all(150 < firsts.count(i) < 250 for i in range(3))  # and none is favoured


def test_no_guesser_beats_chance_by_more_than_five_points_over_the_whole_key():
    """Length (longest, shortest, middle), position (first, second, last) and word cues (absolute words, hedges,
    words echoed from the question): a learner who guesses by any of them does no better than chance."""
    scores = guess_scores(load_lessons())
    assert {score.name for score in scores} == set(GUESSERS)
    assert len(GUESSERS) >= 10
    for score in scores:
        assert score.over_chance <= MAX_OVER_CHANCE, score.describe()


def _step(right: str, *wrong: str) -> str:
    choices = "".join(f'\n[[choice]]\ntext = "{text}"\nwrong = "{text} is not it, for a reason of its own."\n'
                      for text in wrong)
    return (f'## Step\n\n```toml\npredict = "What happens?"\nanswer = {len(wrong) + 1}\nwhy = "w"\n'
            f'watch = ["read.ok"]\nobserve_s = 1\nactions = []\n{choices}\n[[choice]]\ntext = "{right}"\n\n'
            '[[expect]]\nvariant = "sync"\nmetric = "read.error_rate"\nat_most = 1\nwhy = "w"\n```\n\nExplained.\n')


def test_the_guessers_catch_a_key_that_avoids_absolute_words_and_favours_the_last_choice():
    """A planted pattern scores far over chance: the right choice is always last and never opens with 'Never'."""
    text = '+++\nid = "planted"\ntitle = "t"\ngoal = "g"\n+++\n\nIntro.\n\n' + "".join(
        _step(f"It recovers {n}", f"Never {n}", f"Always {n}") for n in range(6))
    lesson = parse_lesson_text(text, "planted.md")
    scores = {score.name: score for score in guess_scores([lesson])}
    assert opens_absolute("Never again") and opens_absolute("at once, it is") and not opens_absolute("Nowhere")
    assert scores["not opening with an absolute word"].score == 1.0
    assert scores["the last"].over_chance > MAX_OVER_CHANCE
    assert scores["the first"].score == 0.0
