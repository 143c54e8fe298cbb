"""What each verb does to a part: the kinds of fault it starts and ends. The one table both engines and the charts
read (`sim/faults.py` and `sim/world.py`, `live/faults.py`, `model/periods.py`, the playground's heal-everything).

| verb    | starts                                   | ends                                   |
| ------- | ---------------------------------------- | -------------------------------------- |
| kill    | down                                     | hung                                   |
| revive  | –                                        | down                                   |
| restart | down, for `down_s`                       | hung; the down it starts, at its end   |
| hang    | hung — refused while the part is down    | –                                      |
| heal    | –                                        | hung, latency, errors (HEALED)         |
| latency | latency (none at 0 ms ± 0 ms)            | the latency before                     |
| errors  | errors (none at rate 0)                  | the error rate before                  |

Latency and errors outlast a kill: a revived part is as slow and as faulty as before it died. Only `revive` (or a
restart's end) ends "down"; requests a hang already swallowed stay unanswered after a heal.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, assert_never

from sandbox.model.commands import Errors, Hang, Heal, Kill, Latency, Restart, Revive, TargetCommand

FaultKind = Literal["down", "hung", "latency", "errors"]
HEALED: tuple[FaultKind, ...] = ("hung", "latency", "errors")
"""What `heal` ends."""


@dataclass(frozen=True)
class Effect:
    """What one command does to its target: first it ends `ends`, then starts `starts` (for `lasts_s`, or until
    a later command ends it)."""

    ends: tuple[FaultKind, ...] = ()
    starts: FaultKind | None = None
    lasts_s: float | None = None
    needs_up: bool = False
    """Refused on a part that is down."""


def effect(command: TargetCommand) -> Effect:
    """The table's row for `command`."""
    match command:
        case Kill():
            return Effect(ends=("hung",), starts="down")
        case Revive():
            return Effect(ends=("down",))
        case Restart(down_s=down_s):
            return Effect(ends=("hung", "down"), starts="down", lasts_s=down_s)
        case Hang():
            return Effect(starts="hung", needs_up=True)
        case Heal():
            return Effect(ends=HEALED)
        case Latency(ms=ms, jitter_ms=jitter_ms):
            return Effect(ends=("latency",), starts="latency" if ms or jitter_ms else None)
        case Errors(rate=rate):
            return Effect(ends=("errors",), starts="errors" if rate else None)
        case _:
            assert_never(command)
