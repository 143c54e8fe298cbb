"""RabbitMQ as the simulation sees it: the cache-invalidation queue, publishing, delivery, acks.

What a broker restart loses is what RabbitMQ loses: a transient queue with all
its messages, and the non-persistent messages of a durable queue. Unacked
messages go back to the head of the queue with the redelivered flag when their
consumer's channel closes; auto-acked ones are the consumer's alone.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Generator
from typing import Any, Protocol

from sandbox.model import losses
from sandbox.model.messages import SHOWN_PER_STATE
from sandbox.sim.context import Context
from sandbox.sim.faults import DOWN, HUNG, UP, Faults


class Message:
    """One `{"action": "invalidateCache", "keys": ["blogs:*"]}` (or a malformed one)."""

    __slots__ = ("counted", "created_s", "deliveries", "id", "persistent", "poison", "returns")

    def __init__(self, id: int, created_s: float, persistent: bool, poison: bool = False):
        self.id = id
        self.created_s = created_s
        self.persistent = persistent
        self.poison = poison
        self.deliveries = 0
        self.returns = 0
        self.counted = False


class Subscriber(Protocol):
    """A channel consuming the queue, as the broker sees it."""

    manual: bool
    connected: bool
    buffer: deque[Message]

    def has_room(self) -> bool: ...

    def deliver(self, msg: Message) -> None: ...

    def disconnect(self) -> list[Message]: ...


class Broker(Faults):
    def __init__(self, ctx: Context):
        super().__init__()
        self.ctx = ctx
        self.durable = ctx.knobs.broker.durable
        self.ready: deque[Message] = deque()
        self.stored: list[Message] = []
        self.consumers: list[Subscriber] = []
        self.epoch = 0
        self.publishing = 0
        self.sending: dict[int, Message] = {}
        """The messages of `publishing`, for the message view."""
        self.dead_letters = 0
        self.dead: deque[Message] = deque(maxlen=SHOWN_PER_STATE)
        self.lost_count = 0
        self.lost: deque[tuple[Message, str]] = deque(maxlen=SHOWN_PER_STATE)
        """The latest lost messages and why each was lost."""
        self._ids = 0
        self._next = 0

    # publishing ---------------------------------------------------------------

    def new_message(self, persistent: bool, poison: bool = False) -> Message:
        """A message a producer is about to publish, numbered in the order producers made them."""
        self._ids += 1
        return Message(self._ids, self.ctx.env.now, persistent, poison)

    def publish(self, msg: Message, confirm: bool) -> Generator[Any, Any, bool]:
        """Hand a message to the broker; True when it is (or, without confirms, seems) accepted."""
        ctx = self.ctx
        env = ctx.env
        if not msg.counted:
            msg.counted = True
            ctx.measurements.count(env.now, "msg.published")
        if self.state == DOWN:
            return False
        self.publishing += 1
        self.sending[msg.id] = msg
        if self.state == HUNG:
            yield env.timeout(ctx.knobs.publish.timeout_s)
            self._sent(msg)
            return False
        epoch = self.epoch
        delay_s = ctx.knobs.broker.rtt_ms / 1000.0 + self.delay_s(ctx.rng)
        if not confirm:
            env.timeout(delay_s / 2).callbacks.append(lambda _timer: self._arrive(msg, epoch))
            return True
        if msg.persistent:
            delay_s += ctx.knobs.broker.fsync_ms / 1000.0
        yield env.timeout(delay_s)
        self._sent(msg)
        if self.epoch != epoch or self.state != UP or self.fails(ctx.rng):
            return False
        self.enqueue(msg)
        return True

    def _sent(self, msg: Message) -> None:
        self.publishing -= 1
        self.sending.pop(msg.id, None)

    def _arrive(self, msg: Message, epoch: int) -> None:
        self._sent(msg)
        if self.epoch == epoch and self.state != DOWN:
            self.enqueue(msg)
        else:
            self.lose(msg, losses.IN_FLIGHT)

    def enqueue(self, msg: Message) -> None:
        self.ready.append(msg)
        self.dispatch()

    def lose(self, msg: Message, cause: str) -> None:
        self.ctx.measurements.lose(self.ctx.env.now, cause)
        self.lost_count += 1
        self.lost.append((msg, cause))

    # delivering ---------------------------------------------------------------

    def dispatch(self) -> None:
        """Push ready messages to connected consumers with room, round robin."""
        if self.state != UP or not self.ready:
            return
        consumers = [c for c in self.consumers if c.connected]
        if not consumers:
            return
        count = len(consumers)
        full = 0
        while self.ready and full < count:
            consumer = consumers[self._next % count]
            self._next += 1
            if consumer.has_room():
                msg = self.ready.popleft()
                msg.deliveries += 1
                if msg.deliveries > 1:
                    self.ctx.measurements.count(self.ctx.env.now, "msg.redelivered")
                consumer.deliver(msg)
                full = 0
            else:
                full += 1

    def ack(self, msg: Message) -> None:
        self.ctx.measurements.count(self.ctx.env.now, "msg.consumed")
        self.dispatch()

    def requeue(self, messages: list[Message]) -> None:
        """Return messages to the head of the queue in order (nack with requeue, or a closed channel);
        one returned more than the delivery limit goes to the dead-letter queue instead."""
        limit = self.ctx.knobs.consumer.delivery_limit
        for msg in reversed(messages):
            msg.returns += 1
            if limit and msg.returns > limit:
                self.dead_letters += 1
                self.dead.append(msg)
                self.ctx.measurements.count(self.ctx.env.now, "msg.dead_lettered")
            else:
                self.ready.appendleft(msg)
        self.dispatch()

    # faults -------------------------------------------------------------------

    def kill(self) -> None:
        """The node stops: every connection drops; on disk stays only what is durable and persistent."""
        if self.state == DOWN:
            return
        self.state = DOWN
        self.epoch += 1
        unacked: list[Message] = []
        for consumer in self.consumers:
            unacked.extend(consumer.disconnect())
        for msg in unacked:
            msg.returns += 1
        kept = []
        held = (*unacked, *self.ready)
        for msg in held:
            if not self.durable:
                self.lose(msg, losses.TRANSIENT_QUEUE)
            elif not msg.persistent:
                self.lose(msg, losses.TRANSIENT_MESSAGE)
            else:
                kept.append(msg)
        self.ready.clear()
        self.stored = kept
        self.ctx.log(f"broker stopped: {len(kept)} messages kept on disk, {len(held) - len(kept)} lost")

    def revive(self) -> None:
        """The node starts, recovers its durable queue and waits for clients to reconnect."""
        if self.state != DOWN:
            return
        self.state = UP
        self.durable = self.ctx.knobs.broker.durable
        self.ready = deque(self.stored)
        self.stored = []
        self.ctx.env.process(self._reconnect())

    def _reconnect(self) -> Generator[Any, Any, None]:
        yield self.ctx.env.timeout(self.ctx.knobs.consumer.reconnect_s)
        if self.state == DOWN:
            return
        for consumer in self.consumers:
            consumer.connected = True
        self.dispatch()

    def heal(self) -> None:
        super().heal()
        self.dispatch()

    # gauges -------------------------------------------------------------------

    @property
    def ready_count(self) -> int:
        return len(self.ready) + len(self.stored)

    @property
    def unacked_count(self) -> int:
        return sum(len(c.buffer) for c in self.consumers if c.manual and c.connected)

    @property
    def auto_acked_held(self) -> int:
        return sum(len(c.buffer) for c in self.consumers if not c.manual)
