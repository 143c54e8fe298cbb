"""The queue as letters: where each invalidation message is right now, for the message view.

Both engines answer `Engine.messages(variant)` with a `Letters`: exact counts per state, and the oldest
few messages of each state one by one (a view of thousands stays small).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

State = Literal["outbox", "in flight", "ready", "unacked", "dead-lettered", "lost"]
STATES: tuple[State, ...] = ("outbox", "in flight", "ready", "unacked", "dead-lettered", "lost")
STATE_WORDS: dict[State, str] = {
    "outbox": "a row in the author's outbox, not yet published",
    "in flight": "published and not yet in the queue, or held by a worker that acked it on delivery",
    "ready": "in cache-invalidation, waiting for a consumer",
    "unacked": "delivered to a worker that has not acked it yet",
    "dead-lettered": "moved to the dead-letter queue after too many deliveries",
    "lost": "gone without being processed",
}
SHOWN_PER_STATE = 50
"""At most this many letters of each state are listed; the counts stay exact."""


@dataclass(frozen=True)
class Letter:
    """One message: its id, where it is, who holds it, how often it was delivered, its age and, if lost, why."""

    id: str
    state: State
    age_s: float
    deliveries: int = 0
    holder: str = ""
    cause: str = ""
    poison: bool = False

    @property
    def redelivered(self) -> bool:
        return self.deliveries > 1


@dataclass(frozen=True)
class Letters:
    counts: dict[State, int] = field(default_factory=lambda: dict.fromkeys(STATES, 0))
    shown: tuple[Letter, ...] = ()

    def of(self, state: State) -> list[Letter]:
        return [letter for letter in self.shown if letter.state == state]
