"""What happened in one run, message by message: the events, and what the run left behind. Both engines write one.

Pure data, JSON-ready (`to_dict` / `from_dict`), so a run in another process hands it back whole.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

SETTLED = ("acked", "dead-lettered", "lost")
_MOVES = {"publish": "ready", "deliver": "unacked", "ack": "acked", "retry": "in the retry queue",
          "dead-letter": "dead-lettered", "lost": "lost", "looping": "still being redelivered", "reject": "ready",
          "error": "ready", "crash": "ready", "lost-ack": "ready"}
"""Where an event moves its copy of a message."""
"""Where a message may end and count as settled; anything else (ready, unacked, retrying, looping) is not."""


@dataclass(frozen=True)
class Event:
    at_s: float
    kind: str
    message: str = ""
    delivery: int = 0
    """The how-manyth delivery of this message id (any copy, any consumer), from 1."""
    consumer: int = 0
    words: str = ""
    copy: int = 1
    """Which published copy of the message: 2 for a duplicate publish."""


@dataclass(frozen=True)
class StaleRead:
    """A read of a cache key that served `cached` while the database had `current`."""

    at_s: float
    key: str
    cached: int
    current: int


@dataclass
class History:
    events: list[Event] = field(default_factory=list)
    mailbox: list[tuple[str, str]] = field(default_factory=list)
    """Committed e-mails: (message id, recipient), one row per e-mail."""
    authors: dict[int, tuple[str, int]] = field(default_factory=dict)
    """The blog's author directory at the end: user id -> (name, version)."""
    ends: dict[str, str] = field(default_factory=dict)
    """Each published copy ("m3", "m3 (copy 2)") -> where it ended: acked, dead-lettered, lost, or where it still is."""
    deliveries: dict[str, int] = field(default_factory=dict)
    """Each published copy -> how many times it was delivered."""
    writes_s: list[float] = field(default_factory=list)
    """Invalidation tasks: when the database's version n + 1 was written, at index n."""
    stale_reads: list[StaleRead] = field(default_factory=list)
    end_s: float = 0.0

    def add(self, at_s: float, kind: str, message: str = "", delivery: int = 0, consumer: int = 0,
            words: str = "", copy: int = 1) -> None:
        self.events.append(Event(round(at_s, 3), kind, message, delivery, consumer, words, copy))

    def settle_books(self) -> None:
        """`ends` and `deliveries` from the events: where each published copy ended, how often it was delivered."""
        self.ends, self.deliveries = {}, {}
        for event in self.events:
            if not event.message:
                continue
            name = copy_name(event.message, event.copy)
            end = self.ends.get(name)
            if event.kind == "deliver":
                self.deliveries[name] = self.deliveries.get(name, 0) + 1
            moved = _MOVES.get(event.kind)
            if moved == "ready" and end not in (None, "unacked"):
                continue  # a crash or a lost ack returns only what was unacked
            if moved is not None and end != "still being redelivered":
                self.ends[name] = moved

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, doc: dict[str, Any]) -> History:
        return cls(events=[Event(**e) for e in doc["events"]],
                   mailbox=[(m, r) for m, r in doc["mailbox"]],
                   authors={int(k): (v[0], v[1]) for k, v in doc["authors"].items()},
                   ends=dict(doc["ends"]), deliveries=dict(doc["deliveries"]), writes_s=list(doc["writes_s"]),
                   stale_reads=[StaleRead(**r) for r in doc["stale_reads"]], end_s=doc["end_s"])


def copy_name(message_id: str, copy: int) -> str:
    """How a published copy is named: "m3" for the first, "m3 (copy 2)" for a duplicate."""
    return message_id if copy == 1 else f"{message_id} (copy {copy})"
