"""Finding lost messages on the real thing, by counting where every message is.

Every committed post owes one invalidation message (and a message published from outside is one
more). At any moment each of them is in exactly one place: on its way from the author, in the outbox,
ready in the queue, held by a consumer, dead-lettered, consumed — or lost. The simulation knows each
message; the lab cannot see inside RabbitMQ's or a dead worker's memory, so once a second it counts
the places, in the order messages move through them (a message that moves while the places are
counted is then counted twice, never missed), and what is in none of them is lost: an auto-acked
message a dead consumer held, a transient queue a broker restart deleted, a post whose author died
before publishing.

A message can be between two places while they are counted (nacked by the worker and not yet back in
the queue, say). So a census that comes up short is taken again at once, a few times, and the best
kept; and a shortfall counts only when the censuses of two seconds in a row show it.

A place that cannot be read makes the census unknown, never short. A quorum queue without a leader is
such a place: RabbitMQ answers its message count with 0 when the leader cannot be asked (no majority, or
no answer within 250 ms: `rabbit_quorum_queue:stat/1`), so the lab counts it only while a majority of its
nodes answers (meter.py), and a shortfall that two censuses in a row then show smaller was a miscount:
it is taken back.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Census:
    """Where one second's messages are, counted."""

    owed: int  # committed posts, each owing a message, plus messages published from outside
    publishing: int  # on their way from the author right now
    outbox: int  # waiting in the outbox for the relay
    ready: int  # in the queue, waiting for a consumer
    held: int  # delivered to a living consumer, not yet settled
    dead_lettered: int  # in the dead-letter queue
    consumed: int  # handled by a consumer
    counted_lost: int  # losses already counted where they happened (a publish the author gave up)

    @property
    def missing(self) -> int:
        found = (self.publishing + self.outbox + self.ready + self.held + self.dead_lettered + self.consumed
                 + self.counted_lost)
        return self.owed - found


class LostMessages:
    """Turns a census a second into messages found lost."""

    def __init__(self) -> None:
        self.found = 0
        self._last_missing: int | None = None

    def check(self, census: Census | None) -> int:
        """How many more messages are lost (negative: how many found lost before turned up again); `census` is
        None when some place could not be counted."""
        if census is None:
            self._last_missing = None
            return 0
        missing = census.missing
        if self._last_missing is None:
            self._last_missing = missing
            return 0
        low, high = sorted((missing, self._last_missing))
        self._last_missing = missing
        if low > self.found:  # short by more, two seconds running: the smaller shortfall is lost
            confirmed = low
        elif high < self.found:  # short by less, two seconds running: what turned up again was never lost
            confirmed = max(0, high)
        else:
            return 0
        change = confirmed - self.found
        self.found = confirmed
        return change
