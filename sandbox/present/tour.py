"""The guided first run: kill the User Service, watch two tiles, revive it, then open lesson 1.

Which step a learner is on follows from what the playground recorded, so the tour never disagrees with the page.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from sandbox.model.commands import Command, Kill, Revive

TARGET = "user"
WATCHED_TILE = "reads ok"


@dataclass(frozen=True)
class TourStep:
    title: str
    text: str


STEPS = (
    TourStep("Kill the User Service", "in both variants at once; only sync needs it to serve a read"),
    TourStep("Watch the two “reads ok” tiles",
             "sync's reads fail on every cache miss; queue's are still served: the blog keeps its own directory "
             "of author names, fed by the user.updated events"),
    TourStep("Revive it", "sync recovers as soon as the User Service answers again"),
    TourStep("Open lesson 1", "the lessons take this flow apart: predict, act, observe, explain"),
)


def tour_step(recorded: Iterable[Command], watched: bool = False) -> int:
    """The index in STEPS of the step to do next: 0 until the User Service is killed in every variant, 1 while the
    cascade plays — until the learner says they have `watched` it, however fast the clock runs — 2 until it is
    revived, then 3 (a revive before "seen it" moves on too: the learner chose to)."""
    killed = revived = False
    for command in recorded:
        if command.variant is not None or getattr(command, "target", None) != TARGET:
            continue
        if isinstance(command, Kill):
            killed, revived = True, False
        elif isinstance(command, Revive) and killed:
            revived = True
    if not killed:
        return 0
    if revived:
        return 3
    return 2 if watched else 1
