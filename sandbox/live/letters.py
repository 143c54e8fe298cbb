"""The live lab's message view: where a variant's invalidation messages are, from what the lab really read.

The counts per state are exactly those of the last second's reading — the same numbers as that second's frame:
ready from the broker, unacked (or, acked on delivery, in flight) from what the cache-worker reports holding,
dead-lettered from the dead-letter queue, outbox rows from the database, in flight from the author, lost from
the census. One by one it shows what the lab can see without touching the queue: the messages the cache-worker
holds (id, deliveries, lane), the outbox rows, and the lost ones with their cause. Ready and dead-lettered
messages are counted, never listed: listing them would mean taking them off the queue.
"""

from __future__ import annotations

from collections.abc import Iterator
from itertools import islice

from sandbox.live.meter import Reading
from sandbox.model.messages import SHOWN_PER_STATE, Letter, Letters, State

POISON_PREFIX = "poison-"
"""The message id of the malformed messages the lab publishes itself (`poison`)."""


def letters(reading: Reading | None, losses: list[tuple[float, str, int]]) -> Letters:
    """The letters of one variant from its last `reading` and the `losses` found so far ((when, cause, count))."""
    if reading is None:
        return Letters()
    at = reading.at
    shown = [Letter(f"outbox-{row.id}", "outbox", max(0.0, at - row.created_at)) for row in reading.outbox_rows]
    for held in reading.held:
        published = held.get("published_at")
        age_s = max(0.0, at - published) if isinstance(published, (int, float)) else 0.0
        state: State = "in flight" if reading.auto_ack else "unacked"
        holder = f"worker {held['lane']}" + (" (acked on delivery)" if reading.auto_ack else "")
        shown.append(Letter(str(held["id"]), state, age_s, int(held["deliveries"]), holder,
                            poison=str(held["id"]).startswith(POISON_PREFIX)))
    shown.extend(islice(_lost(losses, at), SHOWN_PER_STATE))
    return Letters(reading.counts, tuple(shown))


def _lost(losses: list[tuple[float, str, int]], at: float) -> Iterator[Letter]:
    """One letter per message found lost, numbered in the order found (the census counts them; it cannot name
    them)."""
    number = 0
    for when, cause, count in losses:
        for _ in range(count):
            number += 1
            yield Letter(f"lost {number}", "lost", max(0.0, at - when), cause=cause)
