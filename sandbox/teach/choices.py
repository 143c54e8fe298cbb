"""Multiple-choice predictions that cannot be gamed: each learner sees the choices in their own order, and the
key in the source has no pattern (the right choice is rarely the longest, and no position is usually right)."""

from __future__ import annotations

import random
from collections.abc import Iterable
from dataclasses import dataclass

from sandbox.teach.lessons import Lesson

MAX_LONGEST_RIGHT = 0.35
"""The right choice may be the longest in at most this share of choice steps."""
MAX_SHORTEST_RIGHT = 0.45
"""Nor may it be the shortest in more than this share: "never the longest" would be a pattern too."""
MAX_POSITION_RIGHT = 0.45
"""No position (1st, 2nd, ...) may hold the right choice in more than this share of choice steps."""


def choice_order(seed: int, lesson_id: str, step_index: int, count: int) -> tuple[int, ...]:
    """The order one learner sees a step's choices in: a permutation of range(count), the same for the same
    seed, lesson and step (stable within a session), different from learner to learner."""
    order = list(range(count))
    random.Random(f"{seed}:{lesson_id}:{step_index}").shuffle(order)
    return tuple(order)


@dataclass(frozen=True)
class KeyBalance:
    steps: int
    """Choice steps counted."""
    longest_right: int
    """Steps whose right choice is at least as long as every other choice."""
    shortest_right: int
    """Steps whose right choice is at most as long as every other choice."""
    by_position: tuple[int, ...]
    """How many steps have their right choice 1st, 2nd, ... in the source."""

    @property
    def longest_share(self) -> float:
        return self.longest_right / self.steps if self.steps else 0.0

    @property
    def shortest_share(self) -> float:
        return self.shortest_right / self.steps if self.steps else 0.0

    @property
    def position_shares(self) -> tuple[float, ...]:
        return tuple(n / self.steps if self.steps else 0.0 for n in self.by_position)

    @property
    def balanced(self) -> bool:
        return (self.longest_share <= MAX_LONGEST_RIGHT and self.shortest_share <= MAX_SHORTEST_RIGHT
                and max(self.position_shares, default=0) <= MAX_POSITION_RIGHT)

    def describe(self) -> str:
        positions = ", ".join(f"{n + 1}: {share:.0%}" for n, share in enumerate(self.position_shares))
        return (f"{self.steps} choice steps: the right choice is the longest in {self.longest_share:.0%} "
                f"(at most {MAX_LONGEST_RIGHT:.0%}), the shortest in {self.shortest_share:.0%} "
                f"(at most {MAX_SHORTEST_RIGHT:.0%}); right by position {positions} "
                f"(each at most {MAX_POSITION_RIGHT:.0%})")


def key_balance(lessons: Iterable[Lesson]) -> KeyBalance:
    steps = longest = shortest = 0
    positions: list[int] = []
    for lesson in lessons:
        for step in lesson.steps:
            if step.answer is None:
                continue
            steps += 1
            right = len(step.choices[step.answer])
            longest += all(right >= len(text) for text in step.choices)
            shortest += all(right <= len(text) for text in step.choices)
            positions += [0] * (len(step.choices) - len(positions))
            positions[step.answer] += 1
    return KeyBalance(steps, longest, shortest, tuple(positions))
