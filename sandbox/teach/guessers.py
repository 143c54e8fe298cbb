"""Test-taking tricks run over the whole answer key: a learner who guesses by length, by position or by a word
cue must do no better than chance, or the key teaches the trick instead of the lesson.

Each guesser narrows a step's choices to the ones its rule picks; a tie is broken at random, so a step where the
right choice is one of k picked counts 1/k. Chance is the mean of 1 / (number of choices).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

from sandbox.teach.lessons import Lesson

MAX_OVER_CHANCE = 0.05
"""No guesser may score more than this over chance (5 points)."""

ABSOLUTE = ("never", "always", "only", "all", "none", "every", "everything", "nothing", "no", "nobody", "any",
            "at once", "immediately", "forever", "both", "neither")
"""Words a test-wise learner distrusts when a choice opens with them."""
HEDGES = ("some", "most", "until", "unless", "usually", "may", "might", "can", "about", "depends")
"""Words a test-wise learner trusts: qualified answers are right more often in a careless key."""

_WORD = re.compile(r"[a-z0-9']+")


def _words(text: str) -> list[str]:
    return _WORD.findall(text.lower())


def opens_absolute(text: str) -> bool:
    words = _words(text)
    return bool(words) and any(" ".join(words[:len(cue.split())]) == cue for cue in ABSOLUTE)


def holds_absolute(text: str) -> bool:
    words = " " + " ".join(_words(text)) + " "
    return any(f" {cue} " in words for cue in ABSOLUTE)


def hedged(text: str) -> bool:
    words = set(_words(text))
    return any(cue in words for cue in HEDGES)


Picker = Callable[[str, Sequence[str]], list[int]]
"""A guesser's rule: from the question and the choices, the indices it would pick among (ties)."""


def _extreme(choices: Sequence[str], key: Callable[[str], float], most: bool) -> list[int]:
    values = [key(text) for text in choices]
    best = max(values) if most else min(values)
    return [i for i, value in enumerate(values) if value == best]


def _avoiding(choices: Sequence[str], bad: Callable[[str], bool]) -> list[int]:
    kept = [i for i, text in enumerate(choices) if not bad(text)]
    return kept or list(range(len(choices)))


def _middle_length(choices: Sequence[str]) -> list[int]:
    ranked = sorted(range(len(choices)), key=lambda i: len(choices[i]))
    return [ranked[len(ranked) // 2]] if len(ranked) % 2 else ranked[len(ranked) // 2 - 1:len(ranked) // 2 + 1]


def _overlap(question: str, choices: Sequence[str]) -> list[int]:
    """The choices that echo the question most (a share of their own words)."""
    asked = set(_words(question))
    return _extreme(choices, lambda text: len(asked & set(_words(text))) / max(1, len(set(_words(text)))), True)


GUESSERS: dict[str, Picker] = {
    "the longest": lambda q, c: _extreme(c, len, True),
    "the shortest": lambda q, c: _extreme(c, len, False),
    "the middle length": lambda q, c: _middle_length(c),
    "the first": lambda q, c: [0],
    "the second": lambda q, c: [1],
    "the last": lambda q, c: [len(c) - 1],
    "not opening with an absolute word": lambda q, c: _avoiding(c, opens_absolute),
    "opening with an absolute word": lambda q, c: _avoiding(c, lambda text: not opens_absolute(text)),
    "without an absolute word anywhere": lambda q, c: _avoiding(c, holds_absolute),
    "a hedged one": lambda q, c: _avoiding(c, lambda text: not hedged(text)),
    "the most words from the question": _overlap,
}


@dataclass(frozen=True)
class GuessScore:
    name: str
    score: float
    """The guesser's expected share of right answers."""
    chance: float

    @property
    def over_chance(self) -> float:
        return self.score - self.chance

    def describe(self) -> str:
        return (f"guessing {self.name}: {self.score:.0%} right against a chance of {self.chance:.0%} "
                f"({self.over_chance * 100:+.1f} points)")


def guess_scores(lessons: Iterable[Lesson]) -> list[GuessScore]:
    """Every guesser's expected score over every choice step of `lessons`, best first."""
    steps = [(step.predict, step.choices, step.answer) for lesson in lessons for step in lesson.steps
             if step.answer is not None]
    if not steps:
        return []
    chance = sum(1 / len(choices) for _, choices, _ in steps) / len(steps)
    scores = []
    for name, pick in GUESSERS.items():
        total = 0.0
        for question, choices, answer in steps:
            picked = pick(question, choices)
            total += (answer in picked) / len(picked)
        scores.append(GuessScore(name, total / len(steps), chance))
    return sorted(scores, key=lambda s: -s.score)
