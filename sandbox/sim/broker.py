"""RabbitMQ as the simulation sees it: the cache-invalidation queue, publishing, delivery, acks.

What a broker restart loses is what RabbitMQ loses: a transient queue with all
its messages, the non-persistent messages of a durable queue (a quorum queue
is always durable and keeps every message), and the persistent messages not yet
on disk. A busy queue writes new persistent messages in batches every
`broker.sync_interval_ms` (an idle one at once, after `fsync_ms`); with confirms a
message is confirmed (and queued, here) only once it is on disk, so a publisher
learns of every loss, while without confirms the crash loses it silently. Unacked messages go back to the head
of the queue with the redelivered flag when their consumer's channel closes;
auto-acked ones are the consumer's alone. With `broker.nodes = 3` the broker is a
cluster (sim/cluster.py) and its nodes fail one by one.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Generator
from typing import Any, Protocol

from sandbox.model import losses
from sandbox.model.messages import SHOWN_PER_STATE
from sandbox.sim.cluster import Cluster, Node
from sandbox.sim.context import Context
from sandbox.sim.faults import DOWN, HUNG, UP, Faults

PEER_POLL_S = 0.5  # how often a booting node looks for a peer it waits for


class Message:
    """One `{"action": "invalidateCache", "keys": ["blogs:*"]}` (or a malformed one)."""

    __slots__ = ("counted", "created_s", "deliveries", "id", "on_disk_s", "persistent", "poison", "retries", "returns")

    def __init__(self, id: int, created_s: float, persistent: bool, poison: bool = False):
        self.id = id
        self.created_s = created_s
        self.persistent = persistent
        self.poison = poison
        self.deliveries = 0
        self.returns = 0
        self.retries = 0
        self.counted = False
        self.on_disk_s = 0.0
        """When the broker has it on disk (0: already, or never: see `Broker._store`)."""


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
        self.retrying: dict[int, Message] = {}
        """Failed messages waiting out a retry queue's TTL (consumer.retry = delayed)."""
        self._ids = 0
        self._next = 0
        knobs = ctx.knobs.broker
        self.quorum = knobs.queue_type == "quorum"
        self.cluster = Cluster(self.quorum, self._node_changed, self._boot) if knobs.nodes > 1 else None
        self._client: Node | None = self.cluster.client_node() if self.cluster else None

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
        node = self._client
        if self.cluster is not None and node is None:
            return False  # every node is down: the connection is refused
        self.publishing += 1
        self.sending[msg.id] = msg
        if self.state == HUNG or (node is not None and node.state == HUNG):
            yield env.timeout(ctx.knobs.publish.timeout_s)
            self._sent(msg)
            return False
        epoch = self.epoch
        delay_s = ctx.knobs.broker.rtt_ms / 1000.0 + self.delay_s(ctx.rng)
        if node is not None:
            delay_s += node.delay_s(ctx.rng)
        if not confirm:
            env.timeout(delay_s / 2).callbacks.append(lambda _timer: self._arrive(msg, epoch))
            return True
        if msg.persistent or self.quorum:
            delay_s += ctx.knobs.broker.fsync_ms / 1000.0
        if self.cluster is not None:  # a leader election, or a member catching up, holds the confirm
            delay_s += max(0.0, self.cluster.election_until_s - env.now)
            if delay_s > ctx.knobs.publish.timeout_s and self.cluster.queue_up():
                yield env.timeout(ctx.knobs.publish.timeout_s)
                self._sent(msg)  # the publisher gives up first
                return False
        yield env.timeout(delay_s)
        if not self.queue_exists() and self.epoch == epoch and self.state == UP:
            self._sent(msg)  # the exclusive queue is gone with its consumer: the mandatory message comes back
            return False
        if self.cluster is not None and not self.cluster.queue_up() and self.epoch == epoch:
            if self.quorum:  # no majority: the confirm never comes; the publisher gives up at its timeout
                yield env.timeout(max(0.0, ctx.knobs.publish.timeout_s - delay_s))
            self._sent(msg)  # a classic queue whose node is down: the mandatory message comes back unroutable
            return False
        self._sent(msg)
        if self.epoch != epoch or self.state != UP or self.fails(ctx.rng) or (node is not None and node.fails(ctx.rng)):
            return False
        return self.enqueue(msg)

    def _sent(self, msg: Message) -> None:
        self.publishing -= 1
        self.sending.pop(msg.id, None)

    def _arrive(self, msg: Message, epoch: int) -> None:
        self._sent(msg)
        if self.epoch != epoch or self.state == DOWN:
            self.lose(msg, losses.IN_FLIGHT)
        elif self.cluster is not None and not self.cluster.queue_up():
            self.lose(msg, losses.NO_QUORUM if self.quorum else losses.UNROUTABLE)
        elif not self.queue_exists():
            self.lose(msg, losses.NO_QUEUE)
        else:
            self._write_later(msg)
            if not self.enqueue(msg):
                self.lose(msg, losses.REFUSED_UNCONFIRMED)

    def _write_later(self, msg: Message) -> None:
        """An unconfirmed message that reached the queue: when its batch is on disk. An idle queue (nothing
        waiting) writes it at once; a busy one at the next tick of `sync_interval_ms`."""
        knobs = self.ctx.knobs.broker
        now = self.ctx.env.now
        msg.on_disk_s = now + knobs.fsync_ms / 1000.0
        interval_s = knobs.sync_interval_ms / 1000.0
        if self.ready and interval_s > 0:
            msg.on_disk_s = max(msg.on_disk_s, math.ceil(now / interval_s) * interval_s)

    def queue_exists(self) -> bool:
        """A durable queue always does; a transient one is exclusive to the cache-worker's connection (RabbitMQ 4.x
        allows no other), so it exists only while a consumer is connected."""
        return self.durable or any(c.connected for c in self.consumers)

    def drop_orphaned_queue(self) -> None:
        """The last consumer's connection closed: an exclusive queue is deleted with everything in it."""
        if self.queue_exists():
            return
        for msg in self.ready:
            self.lose(msg, losses.EXCLUSIVE_GONE)
        self.ready.clear()

    def enqueue(self, msg: Message) -> bool:
        """Put a published message at the tail; False when a full queue refuses it (overflow reject-publish)."""
        knobs = self.ctx.knobs.broker
        if knobs.max_length and len(self.ready) >= knobs.max_length:
            now = self.ctx.env.now
            if knobs.overflow == "reject-publish":
                self.ctx.measurements.count(now, "msg.rejected_by_limit")
                return False
            oldest = self.ready.popleft()  # drop-head: the queue's dead-letter exchange gets the oldest
            self.ctx.measurements.count(now, "msg.dropped_by_limit")
            self._dead_letter(oldest)
        self.ready.append(msg)
        self.dispatch()
        return True

    def _dead_letter(self, msg: Message) -> None:
        self.dead_letters += 1
        self.dead.append(msg)
        self.ctx.measurements.count(self.ctx.env.now, "msg.dead_lettered")

    def lose(self, msg: Message, cause: str) -> None:
        self.ctx.measurements.lose(self.ctx.env.now, cause)
        self.lost_count += 1
        self.lost.append((msg, cause))

    # delivering ---------------------------------------------------------------

    def dispatch(self) -> None:
        """Push ready messages to connected consumers with room, round robin."""
        if self.state != UP or not self.ready:
            return
        if self.cluster is not None and not self.cluster.available(self.ctx.env.now):
            return
        if self._client is not None and self._client.state == HUNG:
            return  # the consumers' node answers nothing
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
                self._dead_letter(msg)
            else:
                self.ready.appendleft(msg)
        self.dispatch()

    def retry_later(self, msg: Message) -> None:
        """Delayed retry: the consumer publishes the failed message to the next retry queue and acks it; the retry
        queue's message TTL holds it (retry_first_s, five times longer each tier), then dead-letters it back to the
        tail of the queue as a new message (its delivery count starts again). After the last tier: the DLQ."""
        delays_s = self.ctx.knobs.consumer.retry_delays_s
        env = self.ctx.env
        msg.retries += 1
        if msg.retries > len(delays_s):
            self._dead_letter(msg)
            self.dispatch()
            return
        self.ctx.measurements.count(env.now, "msg.retried")
        self.retrying[msg.id] = msg
        env.timeout(delays_s[msg.retries - 1]).callbacks.append(lambda _timer: self._retry_expired(msg))
        self.dispatch()

    def _retry_expired(self, msg: Message) -> None:
        """The retry queue's TTL ran out: dead-lettered back to the queue (kept for the recovery while it is down)."""
        if self.retrying.pop(msg.id, None) is None:
            return  # lost with a broker restart meanwhile
        msg.returns = 0
        msg.deliveries = 0
        if self.state == DOWN:
            self.stored.append(msg)
        elif not self.enqueue(msg):
            self.lose(msg, losses.RETRY_REFUSED)

    # faults -------------------------------------------------------------------

    def kill(self) -> None:
        """The broker stops (every node of a cluster): every connection drops; on disk stays only what is durable
        and persistent."""
        if self.state == DOWN:
            return
        self.state = DOWN
        self.epoch += 1
        if self.cluster is not None:
            self.cluster.set_all(DOWN)
            self._client = None
        kept, lost = self._store(self._take_back_unacked())
        for msg in list(self.retrying.values()):
            if not msg.persistent:
                del self.retrying[msg.id]
                self.lose(msg, losses.TRANSIENT_MESSAGE)
                lost += 1
        self.ctx.log(f"broker stopped: {kept} messages kept on disk, {lost} lost")

    def _take_back_unacked(self) -> list[Message]:
        """Every consumer's channel closed: what they had not acked (manual ack) comes back."""
        unacked: list[Message] = []
        for consumer in self.consumers:
            unacked.extend(consumer.disconnect())
        for msg in unacked:
            msg.returns += 1
        return unacked

    def _store(self, unacked: list[Message]) -> tuple[int, int]:
        """The queue's node stops: on disk stays what is durable and persistent (a quorum queue keeps everything);
        returns (kept, lost)."""
        kept = []
        held = (*unacked, *self.ready)
        now = self.ctx.env.now
        for msg in held:
            if not self.quorum and not self.durable:
                self.lose(msg, losses.TRANSIENT_QUEUE)
            elif not self.quorum and not msg.persistent:
                self.lose(msg, losses.TRANSIENT_MESSAGE)
            elif msg.on_disk_s > now:
                self.lose(msg, losses.NOT_ON_DISK)
            else:
                kept.append(msg)
        self.ready.clear()
        self.stored = [*self.stored, *kept]
        return len(kept), len(held) - len(kept)

    def revive(self) -> None:
        """The broker starts, recovers its durable queue and waits for clients to reconnect."""
        if self.state != DOWN:
            return
        self.state = UP
        if self.cluster is not None:
            self.cluster.set_all(UP)
            self._client = self.cluster.client_node()
            if self.quorum:
                self.cluster.elect(self.ctx.env.now, self.ctx.knobs.broker.election_ms / 1000.0)
        self._recover()
        self.ctx.env.process(self._reconnect())

    def _recover(self) -> None:
        """The queue's node is back: what it kept on disk is ready again."""
        self.durable = self.ctx.knobs.broker.durable
        self.ready = deque([*self.stored, *self.ready])
        self.stored = []

    def _reconnect(self) -> Generator[Any, Any, None]:
        yield self.ctx.env.timeout(self.ctx.knobs.consumer.reconnect_s)
        if self.state == DOWN or (self.cluster is not None and self._client is None):
            return
        for consumer in self.consumers:
            consumer.connected = True
        self.dispatch()

    # a cluster's nodes ----------------------------------------------------------

    def _boot(self, index: int) -> None:
        self.ctx.env.process(self._booting(index))

    def _booting(self, index: int) -> Generator[Any, Any, None]:
        """broker-N boots, syncs with a peer it last saw running (waiting for one if none is up), and answers; its
        quorum member counts toward a majority once caught up."""
        cluster = self.cluster
        assert cluster is not None
        ctx, node, knobs = self.ctx, cluster.nodes[index], self.ctx.knobs.broker
        boot, name = node.boots, f"broker-{index + 1}"
        yield ctx.env.timeout(knobs.boot_s)
        waited_from = ctx.env.now
        while node.booting and node.boots == boot and not cluster.can_sync(index):
            if ctx.env.now == waited_from:
                ctx.log(f"{name} booted, and waits for a peer it last saw running "
                        f"({', '.join(f'broker-{i + 1}' for i in sorted(node.peers))})")
            if ctx.env.now - waited_from >= knobs.peer_wait_s:
                node.booting = False
                ctx.log(f"{name} gave up waiting for its peers after {knobs.peer_wait_s:g} s and stopped")
                return
            yield ctx.env.timeout(PEER_POLL_S)
        if not node.booting or node.boots != boot:
            return  # killed again while booting
        cluster.caught_up_s[index] = ctx.env.now + (knobs.catch_up_s if self.quorum else 0.0)
        node.answer()

    def _node_changed(self, index: int) -> None:
        """broker-N was killed or revived: clients move, the queue goes or comes back, a leader is elected."""
        cluster = self.cluster
        assert cluster is not None
        if self.state == DOWN:
            return  # the whole broker is down: a node coming back alone changes nothing until it is revived
        ctx = self.ctx
        now = ctx.env.now
        was_client, self._client = self._client, cluster.client_node()
        up = cluster.up(index)
        name = f"broker-{index + 1}"
        if not up:
            cluster.kill(index)
        if self._client is not was_client:
            self.epoch += 1  # unconfirmed publishes on the old connection are lost with it
            returned = self._take_back_unacked()
            if not up and not cluster.quorum and index == 0:
                pass  # the classic queue's node died with them: _store below keeps or loses them
            else:
                self.ready.extendleft(reversed(returned))
                returned = []
            if self._client is not None:
                ctx.env.process(self._reconnect())
            self.drop_orphaned_queue()
        else:
            returned = []
        if cluster.quorum:
            if not up and index == cluster.leader and cluster.majority:
                cluster.elect(now, ctx.knobs.broker.election_ms / 1000.0)
                ctx.log(f"{name} (the quorum queue's leader) stopped: electing a new leader")
            elif not up and cluster.majority:  # the majority left may count on a member still catching up
                cluster.election_until_s = max(cluster.election_until_s, cluster.majority_from_s())
            elif up and cluster.majority and sum(cluster.up(i) for i in range(len(cluster.nodes))) == 2:
                cluster.elect(now, ctx.knobs.broker.election_ms / 1000.0)
                ctx.log(f"{name} is back: the quorum queue has a majority again")
            elif not cluster.majority:
                ctx.log(f"{name} is back, but the quorum queue has no majority yet" if up else
                        f"{name} stopped: the quorum queue has no majority and stops taking messages")
        elif index == 0:
            if not up:
                kept, lost = self._store(returned)
                ctx.log(f"{name} stopped with the classic queue: {kept} messages kept on its disk, {lost} lost")
            else:
                self._recover()
        ctx.env.timeout(max(0.0, cluster.election_until_s - now)).callbacks.append(lambda _timer: self.dispatch())
        self.dispatch()

    def heal(self) -> None:
        super().heal()
        self.dispatch()

    # gauges -------------------------------------------------------------------

    @property
    def ready_count(self) -> int:
        """Ready in the queue, kept on disk while it is down, and waiting in its retry queues."""
        return len(self.ready) + len(self.stored) + len(self.retrying)

    @property
    def unacked_count(self) -> int:
        return sum(len(c.buffer) for c in self.consumers if c.manual and c.connected)

    @property
    def auto_acked_held(self) -> int:
        return sum(len(c.buffer) for c in self.consumers if not c.manual)
