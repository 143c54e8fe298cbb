"""The transactional outbox: rows written in the author's transaction, published in order by a relay."""

from __future__ import annotations

from collections import deque
from collections.abc import Generator
from typing import Any

from sandbox.sim.broker import Broker, Message
from sandbox.sim.context import Context
from sandbox.sim.faults import DOWN


class OutboxRelay:
    """Rows written in the author's transaction; a relay publishes them in order and deletes a row once the
    publish succeeded: confirmed with `publish.confirms`, written to the connection without (then a broker crash
    before the message reaches the disk loses the row's message, see `Broker._store`)."""

    def __init__(self, ctx: Context, broker: Broker):
        self.ctx = ctx
        self.broker = broker
        self.pending: deque[Message] = deque()
        self._sending: Message | None = None
        ctx.env.process(self._run())

    def add(self, msg: Message) -> None:
        self.pending.append(msg)

    def _run(self) -> Generator[Any, Any, None]:
        env = self.ctx.env
        while True:
            yield env.timeout(self.ctx.knobs.outbox.poll_ms / 1000.0)
            while self.pending and self.broker.state != DOWN:
                self._sending = self.pending[0]
                sent = yield from self.broker.publish(self._sending, confirm=self.ctx.knobs.publish.confirms)
                self._sending = None
                if not sent:
                    break
                self.pending.popleft()

    @property
    def counted_pending(self) -> int:
        """Rows already counted as published (a failed attempt) and waiting to be sent again."""
        return sum(1 for msg in self.pending if msg.counted and msg is not self._sending)
