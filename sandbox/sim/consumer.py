"""The cache-worker: competing consumers of cache-invalidation that delete blogs:* for each message."""

from __future__ import annotations

from collections import deque
from collections.abc import Generator
from typing import Any

import simpy

from sandbox.model import losses
from sandbox.sim.broker import Broker, Message
from sandbox.sim.cache import FAILED, Cache
from sandbox.sim.context import Context
from sandbox.sim.faults import DOWN, HUNG, UP, Faults


class Consumer:
    """One channel with basic_consume: its ack mode and prefetch are fixed when it subscribes."""

    def __init__(self, worker: CacheWorker):
        self.worker = worker
        knobs = worker.ctx.knobs.consumer
        self.manual = knobs.ack == "manual"
        self.prefetch = knobs.prefetch
        self.buffer: deque[Message] = deque()
        self.connected = worker.broker.state != DOWN
        self.working = False
        self._wake: simpy.Event | None = None
        self.process = worker.ctx.env.process(self._run())

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

    def _run(self) -> Generator[Any, Any, None]:
        env = self.worker.ctx.env
        broker = self.worker.broker
        measurements = self.worker.ctx.measurements
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
                    elif self.worker.ctx.knobs.consumer.retry == "delayed":
                        broker.retry_later(msg)
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

    def __init__(self, ctx: Context, broker: Broker, cache: Cache):
        super().__init__()
        self.ctx = ctx
        self.broker = broker
        self.cache = cache
        self.consumers: list[Consumer] = []
        self._unhung: simpy.Event | None = None
        self.start()

    def start(self) -> None:
        for _ in range(self.ctx.knobs.consumer.count):
            self._subscribe()
        self.broker.dispatch()

    def _subscribe(self) -> None:
        consumer = Consumer(self)
        self.consumers.append(consumer)
        self.broker.consumers.append(consumer)

    def handle(self, msg: Message) -> Generator[Any, Any, bool]:
        """Parse the body, SCAN + UNLINK blogs:*; False when the handler fails."""
        ctx = self.ctx
        env = ctx.env
        while self.state == HUNG:
            if self._unhung is None:
                self._unhung = env.event()
            yield self._unhung
        yield env.timeout(ctx.work_s(ctx.knobs.consumer.work_ms) + self.delay_s(ctx.rng))
        if msg.poison or self.fails(ctx.rng):
            return False
        deleted = yield from self.cache.command(self.cache.delete)
        return deleted is not FAILED

    def stop(self, consumers: list[Consumer]) -> None:
        """Kill these consumers' processes: manual-ack messages go back, auto-acked ones are lost."""
        for consumer in consumers:
            if consumer.process.is_alive:
                consumer.process.interrupt("killed")
            self.consumers.remove(consumer)
            self.broker.consumers.remove(consumer)
            if consumer.manual:
                if consumer.connected and self.broker.state != DOWN:
                    self.broker.requeue(consumer.disconnect())
            else:
                for msg in consumer.buffer:
                    self.broker.lose(msg, losses.AUTO_ACK_DIED)
                consumer.buffer.clear()
        self.broker.drop_orphaned_queue()

    def resize(self, count: int) -> None:
        current = self.consumers
        if self.state == DOWN:
            return
        if count > len(current):
            for _ in range(count - len(current)):
                self._subscribe()
            self.broker.dispatch()
        elif count < len(current):
            self.stop(current[count:])

    def kill(self) -> None:
        if self.state == DOWN:
            return
        self.state = DOWN
        self.stop(list(self.consumers))

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
        return sum(1 for c in self.consumers if c.working)

    @property
    def waiting(self) -> int:
        return sum(len(c.buffer) - c.working for c in self.consumers)
