"""The cache-worker (competing consumers of cache-invalidation) and the outbox relay."""

from __future__ import annotations

from collections import deque
from typing import TYPE_CHECKING

import simpy

from sandbox.model import losses
from sandbox.sim.broker import Broker, Message
from sandbox.sim.faults import DOWN, HUNG, UP, Faults

if TYPE_CHECKING:
    from sandbox.sim.world import World



class Consumer:
    """One channel with basic_consume: its ack mode and prefetch are fixed when it subscribes."""

    def __init__(self, worker: CacheWorker):
        self.worker = worker
        knobs = worker.world.knobs
        self.manual = knobs["consumer.ack"] == "manual"
        self.prefetch = knobs["consumer.prefetch"]
        self.buffer: deque[Message] = deque()
        self.connected = worker.broker.state != DOWN
        self.working = False
        self._wake: simpy.Event | None = None
        self.process = worker.world.env.process(self._run())

    def has_room(self) -> bool:
        return not self.manual or self.prefetch == 0 or len(self.buffer) < self.prefetch

    def deliver(self, msg: Message) -> None:
        self.buffer.append(msg)
        if self._wake is not None and not self._wake.triggered:
            self._wake.succeed()

    def disconnect(self) -> list[Message]:
        """The channel closed: the broker takes back what was not acked (manual ack only)."""
        self.connected = False
        if not self.manual:
            return []
        taken = list(self.buffer)
        self.buffer.clear()
        return taken

    def _run(self):
        env = self.worker.world.env
        broker = self.worker.broker
        measurements = self.worker.world.measurements
        try:
            while True:
                if not self.buffer:
                    self._wake = env.event()
                    yield self._wake
                    continue
                msg = self.buffer[0]
                self.working = True
                ok = yield from self.worker.handle(msg)
                self.working = False
                if not self.buffer or self.buffer[0] is not msg:
                    continue  # the channel closed meanwhile: the ack has nowhere to go
                self.buffer.popleft()
                if self.manual:
                    if ok:
                        broker.ack(msg)
                    else:
                        broker.requeue([msg])
                elif ok:
                    measurements.count(env.now, "msg.consumed")
                else:
                    broker.lose(msg, losses.AUTO_ACK_FAILED)
        except simpy.Interrupt:
            self.working = False


class CacheWorker(Faults):
    """The `cache-worker` target: consumer.count consumers that delete blogs:* for each message."""

    def __init__(self, world: World, broker: Broker):
        super().__init__()
        self.world = world
        self.broker = broker
        self._unhung: simpy.Event | None = None
        self.start()

    def start(self) -> None:
        for _ in range(self.world.knobs["consumer.count"]):
            self.broker.consumers.append(Consumer(self))
        self.broker.dispatch()

    def handle(self, msg: Message):
        """Parse the body, SCAN + UNLINK blogs:*; False when the handler fails."""
        world = self.world
        env = world.env
        while self.state == HUNG:
            if self._unhung is None:
                self._unhung = env.event()
            yield self._unhung
        yield env.timeout(world.work_s(world.knobs["consumer.work_ms"]) + self.delay_s(world.rng))
        if msg.poison or self.fails(world.rng):
            return False
        deleted = yield from world.redis(world.cache.delete)
        return deleted is not world.REDIS_FAILED

    def stop(self, consumers: list[Consumer]) -> None:
        """Kill these consumers' processes: manual-ack messages go back, auto-acked ones are lost."""
        for consumer in consumers:
            if consumer.process.is_alive:
                consumer.process.interrupt("killed")
            self.broker.consumers.remove(consumer)
            if consumer.manual:
                if consumer.connected and self.broker.state != DOWN:
                    self.broker.requeue(consumer.disconnect())
            else:
                for msg in consumer.buffer:
                    self.broker.lose(msg, losses.AUTO_ACK_DIED)
                consumer.buffer.clear()

    def resize(self, count: int) -> None:
        current = self.broker.consumers
        if self.state == DOWN:
            return
        if count > len(current):
            for _ in range(count - len(current)):
                current.append(Consumer(self))
            self.broker.dispatch()
        elif count < len(current):
            self.stop(current[count:])

    def kill(self) -> None:
        if self.state == DOWN:
            return
        self.state = DOWN
        self.stop(list(self.broker.consumers))

    def revive(self) -> None:
        if self.state != DOWN:
            return
        self.state = UP
        self.start()

    def heal(self) -> None:
        super().heal()
        if self._unhung is not None:
            self._unhung.succeed()
            self._unhung = None

    @property
    def busy(self) -> int:
        return sum(1 for c in self.broker.consumers if c.working)

    @property
    def waiting(self) -> int:
        return sum(len(c.buffer) - c.working for c in self.broker.consumers)


class OutboxRelay:
    """Rows written in the author's transaction; a relay publishes them with confirms, in order."""

    def __init__(self, world: World, broker: Broker):
        self.world = world
        self.broker = broker
        self.pending: deque[Message] = deque()
        self._sending: Message | None = None
        world.env.process(self._run())

    def add(self, msg: Message) -> None:
        self.pending.append(msg)

    def _run(self):
        env = self.world.env
        while True:
            yield env.timeout(self.world.knobs["outbox.poll_ms"] / 1000.0)
            while self.pending and self.broker.state != DOWN:
                self._sending = self.pending[0]
                sent = yield from self.broker.publish(self._sending, confirm=True)
                self._sending = None
                if not sent:
                    break
                self.pending.popleft()

    @property
    def counted_pending(self) -> int:
        """Rows already counted as published (a failed attempt) and waiting to be sent again."""
        return sum(1 for msg in self.pending if msg.counted and msg is not self._sending)
