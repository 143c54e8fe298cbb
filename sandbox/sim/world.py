"""One variant's whole system on its own SimPy clock: it builds the parts, applies commands, reads gauges."""

from __future__ import annotations

from collections.abc import Generator
from dataclasses import replace
from itertools import chain, islice
from typing import Any, assert_never

from sandbox.model import losses
from sandbox.model.commands import Command, Errors, Hang, Heal, Kill, Latency, Load, Poison, Restart, Revive, Set
from sandbox.model.faults import effect
from sandbox.model.knobs import SERVICES, Knobs
from sandbox.model.measurements import Measurements
from sandbox.model.messages import SHOWN_PER_STATE, Letter, Letters, State
from sandbox.model.metrics import POOL_GAUGES, GaugeName
from sandbox.model.status import Component, Edge, VariantStatus, health
from sandbox.sim.author import Author
from sandbox.sim.blog import Blog
from sandbox.sim.broker import Broker, Message
from sandbox.sim.cache import Cache
from sandbox.sim.consumer import CacheWorker
from sandbox.sim.context import Context
from sandbox.sim.directory import Directory
from sandbox.sim.faults import DOWN, HUNG, Faults
from sandbox.sim.http import Http
from sandbox.sim.load import Load as Arrivals
from sandbox.sim.mailer import Mailer
from sandbox.sim.outbox import OutboxRelay
from sandbox.sim.service import Service
from sandbox.sim.store import Database
from sandbox.sim.user import User


class World:
    def __init__(self, name: str, architecture: str, knobs: Knobs, seed: int):
        self.name = name
        self.architecture = architecture
        self.ctx = ctx = Context(knobs, seed)
        self.db = Database()
        self.cache = Cache(ctx, self.db)
        self.services = {service: Service(ctx, service) for service in SERVICES}
        self.http = Http(ctx, self.services)
        self.broker = Broker(ctx) if architecture == "queue" else None
        self.cache_worker = CacheWorker(ctx, self.broker, self.cache) if self.broker else None
        self.outbox = OutboxRelay(ctx, self.broker) if self.broker else None
        self.blog = Blog(ctx, self.cache, self.db, self.http, queue=self.broker is not None)
        self.mailer = Mailer(ctx, self.broker, self.cache) if self.broker and knobs.mailer.enabled else None
        self.author = Author(ctx, self.db, self.http, self.blog, self.broker, self.outbox, self.mailer)
        self.names = Directory(ctx, seed) if self.broker else None
        self.user = User(ctx, self.broker, self.names)
        self.load = Arrivals(ctx, seed, self.http, self.db, self.blog, self.author, self.user)
        self._closed_s = 0

    @property
    def measurements(self) -> Measurements:
        return self.ctx.measurements

    @property
    def lines(self) -> list[tuple[float, str]]:
        return self.ctx.lines

    def advance_to(self, t: float) -> None:
        """Run to time t, reading the gauges at every whole second on the way."""
        env = self.ctx.env
        while self._closed_s + 1 <= t:
            boundary = self._closed_s + 1
            if boundary > env.now:
                env.run_to(boundary)
            self.measurements.close_second(self._closed_s, self.gauges())
            self.ctx.traffic.close_second()
            self._closed_s = boundary
        if t > env.now:
            env.run_to(t)

    # commands -----------------------------------------------------------------

    def part(self, target: str) -> Faults | None:
        """The part a command's target names; None when this variant has none."""
        if target in self.services:
            return self.services[target]
        if target.startswith("broker-"):
            return self._node(int(target.removeprefix("broker-")))
        parts: dict[str, Faults | None] = {"redis": self.cache, "broker": self.broker,
                                           "cache-worker": self.cache_worker}
        return parts[target]

    def _node(self, number: int) -> Faults | None:
        """broker-N: a node of the cluster, or the broker itself when it is one node."""
        broker = self.broker
        if broker is None:
            return None
        if broker.cluster is None:
            return broker if number == 1 else None
        return broker.cluster.nodes[number - 1]

    def apply(self, command: Command) -> str | None:
        """Apply one command now; return a note when it does nothing in this variant."""
        match command:
            case Load():
                for key, rate in command.rates().items():
                    self.set_knob(key, rate)
                return None
            case Set(key=key, value=value):
                self.set_knob(key, value)
                return None
            case Poison(count=count):
                return self._poison(count)
            case Kill() | Revive() | Restart() | Hang() | Heal() | Latency() | Errors():
                return self._fault(command)
            case _:
                assert_never(command)

    def _poison(self, count: int) -> str | None:
        if self.broker is None:
            return f"{self.name}: no broker in a sync variant; poison does nothing"
        if self.broker.state == DOWN:
            return f"{self.name}: the broker is down; the poison messages were not published"
        for _ in range(count):
            msg = self.broker.new_message(persistent=True, poison=True)
            msg.counted = True
            self.measurements.count(self.ctx.env.now, "msg.published")
            if not self.broker.enqueue(msg):  # published without confirms: a full queue's refusal goes unheard
                self.broker.lose(msg, losses.REFUSED_UNCONFIRMED)
        self.ctx.log(f"{count} malformed message(s) published to cache-invalidation")
        return None

    def _fault(self, command: Kill | Revive | Restart | Hang | Heal | Latency | Errors) -> str | None:
        part = self.part(command.target)
        if part is None:
            where = ("a one-node broker" if self.broker is not None and command.target.startswith("broker-")
                     else f"a {self.architecture} variant")
            return f"{self.name}: no {command.target} in {where}; `{command.verb}` does nothing"
        if effect(command).needs_up and part.state == DOWN:
            return f"{self.name}: {command.target} is down; revive it before it can {command.verb}"
        match command:
            case Kill():
                part.kill()
            case Revive():
                part.revive()
            case Restart(down_s=down_s):
                part.kill()
                self.ctx.env.process(self._revive_later(part, command.target, down_s))
            case Hang():
                part.state = HUNG
            case Heal():
                part.heal()
            case Latency(ms=ms, jitter_ms=jitter_ms):
                part.latency_ms, part.jitter_ms = ms, jitter_ms
            case Errors(rate=rate):
                part.error_rate = rate
            case _:
                assert_never(command)
        self.ctx.log(command.describe())
        return None

    def _revive_later(self, part: Faults, target: str, down_s: float) -> Generator[Any, Any, None]:
        yield self.ctx.env.timeout(down_s)
        part.revive()
        self.ctx.log(f"{target} is back after a restart")

    def set_knob(self, key: str, value: Any) -> None:
        ctx = self.ctx
        ctx.knobs = ctx.knobs.with_values({key: value})
        if key.startswith("load."):
            self.load.rate_changed(key)
        elif key.startswith("services.") and key.endswith(".workers"):
            self.services[key.split(".")[1]].pool.resize(value)
        elif key == "consumer.count" and self.cache_worker is not None:
            self.cache_worker.resize(value)
        ctx.log(f"set {key} = {value!r}")

    # readings -----------------------------------------------------------------

    def gauges(self) -> dict[GaugeName, float]:
        now = self.ctx.env.now
        gauges: dict[GaugeName, float] = {"staleness.max_s": self.cache.peak_staleness_s(now),
                                          "names.wrong": self.names.wrong if self.names else 0}
        for name, service in self.services.items():
            busy, waiting = POOL_GAUGES[name]
            gauges[busy] = service.busy
            gauges[waiting] = service.waiting
        if self.broker is None or self.cache_worker is None or self.outbox is None:
            gauges.update({"queue.ready": 0, "queue.unacked": 0, "msg.in_flight": 0, "outbox.pending": 0,
                           "cache-worker.busy": 0, "cache-worker.waiting": 0})
            return gauges
        broker = self.broker
        gauges["queue.ready"] = broker.ready_count
        gauges["queue.unacked"] = broker.unacked_count
        gauges["msg.in_flight"] = broker.publishing + broker.auto_acked_held + self.outbox.counted_pending
        gauges["outbox.pending"] = len(self.outbox.pending)
        gauges["cache-worker.busy"] = self.cache_worker.busy
        gauges["cache-worker.waiting"] = self.cache_worker.waiting
        return gauges

    def messages(self) -> Letters:
        """Where each message is now: exact counts, and the first few of each state one by one."""
        broker, worker, outbox = self.broker, self.cache_worker, self.outbox
        if broker is None or worker is None or outbox is None:
            return Letters()
        now = self.ctx.env.now
        auto_held = [(i, m) for i, c in enumerate(worker.consumers, 1) if not c.manual for m in c.buffer]
        unacked = [(i, m) for i, c in enumerate(worker.consumers, 1) if c.manual and c.connected for m in c.buffer]
        counts: dict[State, int] = {
            "outbox": len(outbox.pending), "in flight": broker.publishing + len(auto_held),
            "ready": broker.ready_count, "unacked": broker.unacked_count,
            "dead-lettered": broker.dead_letters, "lost": broker.lost_count,
        }

        def letter(msg: Message, state: State, holder: str = "", cause: str = "") -> Letter:
            return Letter(f"m{msg.id}", state, now - msg.created_s, msg.deliveries, holder, cause, msg.poison)

        n = SHOWN_PER_STATE
        shown = [letter(m, "outbox") for m in islice(outbox.pending, n)]
        shown += [letter(m, "in flight") for m in islice(broker.sending.values(), n)]
        shown += [letter(m, "in flight", f"worker {i} (acked on delivery)") for i, m in auto_held[:n]]
        ready = [letter(m, "ready") for m in islice(chain(broker.stored, broker.ready), n)]
        waiting = islice(broker.retrying.values(), n - len(ready))
        ready += [letter(m, "ready", "a retry queue (its TTL)") for m in waiting]
        shown += ready
        shown += [letter(m, "unacked", f"worker {i}") for i, m in unacked[:n]]
        shown += [letter(m, "dead-lettered") for m in broker.dead]
        shown += [letter(m, "lost", cause=cause) for m, cause in broker.lost]
        return Letters(counts, tuple(shown))

    def status(self) -> VariantStatus:
        components = {name: _component(name, svc, svc.busy, svc.waiting, svc.pool.workers)
                      for name, svc in self.services.items()}
        components["redis"] = _component("redis", self.cache, 0, 0, 0)
        broker, worker = self.broker, self.cache_worker
        nodes: tuple[Component, ...] = ()
        leader = ""
        if broker is not None and broker.cluster is not None:
            leader = f"broker-{broker.cluster.leader + 1}" if broker.quorum else "broker-1"
        if broker is None or worker is None:
            components["broker"] = Component("broker", "absent")
            components["cache-worker"] = Component("cache-worker", "absent")
        else:
            depth = broker.ready_count + broker.unacked_count
            components["broker"] = _component("broker", broker, 0, depth, 0)
            if broker.cluster is not None:
                nodes = tuple(_component(name, node, 0, 0, 0) for name, node in broker.cluster.named())
                if any(node.health != "up" for node in nodes) and components["broker"].health == "up":
                    components["broker"] = replace(components["broker"], health="slow")
            components["cache-worker"] = _component(
                "cache-worker", worker, worker.busy, worker.waiting, len(worker.consumers))
        edges = tuple(Edge(a, b, calls, errors / calls if calls else 0.0)
                      for (a, b), (calls, errors) in sorted(self.ctx.traffic.last_second.items()))
        breakers = {f"{a}→{b}": br.state for (a, b), br in sorted(self.http.breakers.items())}
        return VariantStatus(
            variant=self.name, architecture=self.architecture, now_s=self.ctx.env.now,
            components=components, edges=edges, breakers=breakers,
            queue_ready=broker.ready_count if broker else 0,
            queue_unacked=broker.unacked_count if broker else 0,
            dead_letters=broker.dead_letters if broker else 0,
            outbox_pending=len(self.outbox.pending) if self.outbox else 0,
            directory=dict(self.user.directory),
            nodes=nodes, queue_leader=leader,
        )


def _component(name: str, part: Faults, busy: int, waiting: int, workers: int) -> Component:
    state = health(down=part.state == DOWN, hung=part.state == HUNG, busy=busy, workers=workers, waiting=waiting,
                   degraded=part.degraded)
    return Component(name, state, busy, waiting, workers, part.latency_ms, part.error_rate)
