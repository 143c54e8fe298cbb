"""One variant's whole system on its own SimPy clock: load, services, cache, broker, worker."""

from __future__ import annotations

import random
from functools import partial
from typing import Any

import simpy

from sandbox.model import losses
from sandbox.model.actions import Action
from sandbox.model.knobs import SERVICES
from sandbox.model.metrics import Measurements
from sandbox.model.service_time import service_time_s
from sandbox.model.status import Component, Edge, VariantStatus, health
from sandbox.sim.broker import Broker, Message
from sandbox.sim.consumers import CacheWorker, OutboxRelay
from sandbox.sim.deadlines import Deadlines
from sandbox.sim.faults import DOWN, HUNG, UP, Faults
from sandbox.sim.http import Http
from sandbox.sim.outcome import DEPENDENCY_FAILED, ERROR_500, OK, REFUSED, TIMEOUT, Outcome
from sandbox.sim.service import Service
from sandbox.sim.store import Cache, Database

PUBLISH_FAILED = Outcome(False, "500: publish failed")


class World:
    REDIS_FAILED = object()

    def __init__(self, name: str, architecture: str, knobs: dict[str, Any], seed: int):
        self.name = name
        self.architecture = architecture
        self.queue = architecture == "queue"
        self.knobs = dict(knobs)
        self.env = simpy.Environment()
        self.rng = random.Random(f"{seed}:work")
        self._arrival_rngs = {kind: random.Random(f"{seed}:{kind}") for kind in ("reads", "writes", "profile_updates")}
        self.measurements = Measurements()
        self.deadlines = Deadlines(self.env)
        self.lines: list[tuple[float, str]] = []
        self.db = Database()
        self.cache = Cache(self.db, clock=lambda: self.env.now)
        self.services = {name: Service(self, name) for name in SERVICES}
        self.http = Http(self)
        self.broker = Broker(self) if self.queue else None
        self.cache_worker = CacheWorker(self, self.broker) if self.broker else None
        self.outbox = OutboxRelay(self, self.broker) if self.broker else None
        self.directory = {"applied": 0, "missed": 0}
        self._edges: dict[tuple[str, str], list[int]] = {}
        self.last_edges: dict[tuple[str, str], list[int]] = {}
        self._edge_status: dict[tuple[str, str], tuple[str, float]] = {}
        self._closed_s = 0
        self._arrivals = {
            "reads": self.env.process(self._arrive("reads", self._start_read)),
            "writes": self.env.process(self._arrive("writes", self._start_write)),
            "profile_updates": self.env.process(self._arrive("profile_updates", self._start_profile_update)),
        }

    # time ---------------------------------------------------------------------

    @property
    def rtt_s(self) -> float:
        return self.knobs["http.rtt_ms"] / 1000.0

    def work_s(self, mean_ms: float) -> float:
        """One draw of a service time with the given mean, in seconds."""
        k = self.knobs
        return service_time_s(mean_ms, k["services.distribution"], k["services.lognormal_sigma"], self.rng)

    def advance_to(self, t: float) -> None:
        """Run to time t, reading the gauges at every whole second on the way."""
        env = self.env
        while self._closed_s + 1 <= t:
            boundary = self._closed_s + 1
            if boundary > env.now:
                env.run(until=boundary)
            self.measurements.close_second(self._closed_s, self.gauges())
            self.last_edges, self._edges = self._edges, {}
            self._closed_s = boundary
        if t > env.now:
            env.run(until=t)

    def log(self, text: str) -> None:
        self.lines.append((self.env.now, text))

    def edge(self, caller: str, callee: str, outcome: Outcome) -> None:
        """Count a call for the diagram; log when what a link answers changes (at most once a second)."""
        key = (caller, callee)
        counts = self._edges.get(key)
        if counts is None:
            counts = self._edges[key] = [0, 0]
        counts[0] += 1
        if not outcome.ok:
            counts[1] += 1
        status, logged_s = self._edge_status.get(key, ("200 OK", -1.0))
        if outcome.status != status and self.env.now - logged_s >= 1.0 and (not outcome.ok or status != "200 OK"):
            self._edge_status[key] = (outcome.status, self.env.now)
            self.log(f"{caller} → {callee}: {outcome.status}")

    # load ---------------------------------------------------------------------

    def _arrive(self, kind: str, start):
        env = self.env
        key = f"load.{kind}_per_s"
        rng = self._arrival_rngs[kind]
        while True:
            rate = self.knobs[key]
            try:
                yield env.timeout(rng.expovariate(rate)) if rate > 0 else env.event()
            except simpy.Interrupt:
                continue
            start()

    def _start_read(self) -> None:
        read = _Read(self)
        blog = self.services["blog"]
        if blog.state == DOWN:
            read.finish(REFUSED)
            return
        response = blog.accept(self._blog_read)
        response.callbacks.append(read.answered)
        self.deadlines.arm(response, self.knobs["client.timeout_s"], read.timed_out)

    def _start_write(self) -> None:
        self.env.process(self._client_write())

    def _client_write(self):
        env = self.env
        k = self.knobs
        started = env.now
        commits = [0]
        outcome: Outcome = REFUSED
        for attempt in range(k["client.retries"] + 1):
            if attempt:
                yield env.timeout(k["client.backoff_ms"] / 1000.0)
            outcome = yield from self.http.send("author", partial(self._author_write, commits), k["client.timeout_s"])
            self.edge("client", "author", outcome)
            if outcome.ok:
                break
        self.measurements.write(env.now, (env.now - started) * 1000.0, outcome.ok)

    def _start_profile_update(self) -> None:
        self.env.process(self._client_profile_update())

    def _client_profile_update(self):
        outcome = yield from self.http.send("user", self._user_update, self.knobs["client.timeout_s"])
        self.edge("client", "user", outcome)

    # handlers -----------------------------------------------------------------

    def redis(self, command):
        """Run one Redis command against the cache; REDIS_FAILED when Redis is down, hung or erroring."""
        cache = self.cache
        env = self.env
        if cache.state == DOWN:
            return self.REDIS_FAILED
        if cache.state == HUNG:
            yield env.timeout(self.knobs["redis.timeout_s"])
            return self.REDIS_FAILED
        wire_s = cache.wire_s(self.knobs["redis.rtt_ms"] / 1000.0, self.rng)
        if wire_s:
            yield env.timeout(wire_s)
        if cache.error_rate and cache.fails(self.rng):
            return self.REDIS_FAILED
        return command(env.now)

    def _blog_read(self):
        """GET /blogs: the cached list, else the database plus author names."""
        env = self.env
        k = self.knobs
        cache = self.cache
        if cache.state == UP and not cache.degraded and not k["redis.rtt_ms"]:
            cached = cache.get(env.now)  # the hot path: no generator for an instant, healthy Redis
        else:
            cached = yield from self.redis(cache.get)
        if cached is not None and cached is not self.REDIS_FAILED:
            self.measurements.count(env.now, "cache.hits")
            return Outcome(True, "200 OK (cache)", cached)
        self.measurements.count(env.now, "cache.misses")
        generation = self.cache.generation if k["cache.guarded_set"] else None
        yield env.timeout(self.work_s(k["db.read_ms"]))
        version = self.db.version
        if not self.queue:
            for _ in range(k["blog.authors_per_page"]):
                outcome = yield from self.http.call("blog", "user")
                if not outcome.ok:
                    return DEPENDENCY_FAILED
        ttl_s = k["cache.ttl_s"]
        yield from self.redis(lambda now: self.cache.set(now, version, ttl_s, generation))
        return Outcome(True, "200 OK", version)

    def _blog_invalidate(self):
        """POST /internal/cache/invalidate (sync variant)."""
        deleted = yield from self.redis(self.cache.delete)
        return ERROR_500 if deleted is self.REDIS_FAILED else OK

    def _author_write(self, commits: list[int]):
        """POST /blogs: commit the post, then invalidate the cache (call or message)."""
        env = self.env
        k = self.knobs
        yield env.timeout(self.work_s(k["db.write_ms"]))
        self.db.commit(env.now)
        commits[0] += 1
        if commits[0] > 1:
            self.measurements.count(env.now, "write.duplicates")
        if self.broker is None:
            outcome = yield from self.http.call("author", "blog", self._blog_invalidate)
            if outcome.ok or k["sync.on_invalidate_error"] == "ignore":
                return OK
            return DEPENDENCY_FAILED
        msg = Message(persistent=k["broker.persistent"])
        on_error = k["publish.on_error"]
        if on_error == "outbox":
            self.outbox.add(msg)
            return OK
        sent = yield from self.broker.publish(msg, confirm=k["publish.confirms"])
        self.edge("author", "broker", OK if sent else PUBLISH_FAILED)
        if sent:
            return OK
        if on_error == "drop":
            self.broker.lose(msg, losses.DROPPED)
            return OK
        self.broker.lose(msg, losses.WRITE_FAILED)
        return PUBLISH_FAILED

    def _user_update(self):
        """PUT /user/{id}: in the queue variant, a user.updated event to the fanout exchange."""
        if self.broker is None:
            return OK
        if self.broker.state == DOWN:
            self.directory["missed"] += 1
            return OK
        yield self.env.timeout(self.knobs["broker.rtt_ms"] / 1000.0)
        self.directory["applied"] += 1
        return OK

    # actions ------------------------------------------------------------------

    def part(self, target: str) -> Faults | None:
        if target in self.services:
            return self.services[target]
        return {"redis": self.cache, "broker": self.broker, "cache-worker": self.cache_worker}[target]

    def apply(self, action: Action) -> str | None:
        """Apply one action now; return a note when it does nothing in this variant."""
        verb = action.verb
        if verb == "load":
            for kind in ("reads", "writes"):
                value = getattr(action, f"{kind}_per_s")
                if value is not None:
                    self.set_knob(f"load.{kind}_per_s", value)
            return None
        if verb == "set":
            self.set_knob(action.key, action.value)
            return None
        if verb == "poison":
            if self.broker is None:
                return f"{self.name}: no broker in a sync variant; poison does nothing"
            if self.broker.state == DOWN:
                return f"{self.name}: the broker is down; the poison messages were not published"
            for _ in range(action.count):
                msg = Message(persistent=True, poison=True)
                msg.counted = True
                self.measurements.count(self.env.now, "msg.published")
                self.broker.enqueue(msg)
            self.log(f"{action.count} malformed message(s) published to cache-invalidation")
            return None
        part = self.part(action.target)
        if part is None:
            return f"{self.name}: no {action.target} in a {self.architecture} variant; `{verb}` does nothing"
        if verb == "kill":
            part.kill()
        elif verb == "revive":
            part.revive()
        elif verb == "restart":
            part.kill()
            self.env.process(self._revive_later(part, action.down_s))
        elif verb == "hang":
            if part.state == DOWN:
                return f"{self.name}: {action.target} is down; revive it before it can hang"
            part.state = HUNG
        elif verb == "heal":
            part.heal()
        elif verb == "latency":
            part.latency_ms, part.jitter_ms = action.ms, action.jitter_ms or 0.0
        elif verb == "errors":
            part.error_rate = action.rate
        self.log(action.describe())
        return None

    def _revive_later(self, part: Faults, down_s: float):
        yield self.env.timeout(down_s)
        part.revive()
        self.log(f"{getattr(part, 'name', type(part).__name__)} is back after a restart")

    def set_knob(self, key: str, value: Any) -> None:
        self.knobs[key] = value
        if key.startswith("load."):
            kind = key[len("load."):-len("_per_s")]
            process = self._arrivals[kind]
            if process.is_alive:
                process.interrupt("load changed")
        elif key.endswith(".workers"):
            self.services[key.split(".")[1]].pool.resize(value)
        elif key == "consumer.count" and self.cache_worker is not None:
            self.cache_worker.resize(value)
        self.log(f"set {key} = {value!r}")

    # readings -----------------------------------------------------------------

    def gauges(self) -> dict[str, float]:
        now = self.env.now
        gauges: dict[str, float] = {"staleness.max_s": self.cache.peak_staleness_s(now)}
        for name, service in self.services.items():
            gauges[f"{name}.busy"] = service.busy
            gauges[f"{name}.waiting"] = service.waiting
        broker = self.broker
        if broker is None:
            gauges.update({"queue.ready": 0, "queue.unacked": 0, "msg.in_flight": 0, "outbox.pending": 0,
                           "cache-worker.busy": 0, "cache-worker.waiting": 0})
            return gauges
        gauges["queue.ready"] = broker.ready_count
        gauges["queue.unacked"] = broker.unacked_count
        gauges["msg.in_flight"] = broker.publishing + broker.auto_acked_held + self.outbox.counted_pending
        gauges["outbox.pending"] = len(self.outbox.pending)
        gauges["cache-worker.busy"] = self.cache_worker.busy
        gauges["cache-worker.waiting"] = self.cache_worker.waiting
        return gauges

    def status(self) -> VariantStatus:
        components = {name: _component(name, svc, svc.busy, svc.waiting, svc.pool.workers)
                      for name, svc in self.services.items()}
        components["redis"] = _component("redis", self.cache, 0, 0, 0)
        for name in ("broker", "cache-worker"):
            part = self.part(name)
            if part is None:
                components[name] = Component(name, "absent")
        if self.broker is not None:
            depth = self.broker.ready_count + self.broker.unacked_count
            components["broker"] = _component("broker", self.broker, 0, depth, 0)
            worker = self.cache_worker
            components["cache-worker"] = _component(
                "cache-worker", worker, worker.busy, worker.waiting, len(self.broker.consumers))
        edges = tuple(Edge(a, b, calls, errors / calls if calls else 0.0)
                      for (a, b), (calls, errors) in sorted(self.last_edges.items()))
        breakers = {f"{a}→{b}": br.state for (a, b), br in sorted(self.http.breakers.items())}
        broker = self.broker
        return VariantStatus(
            variant=self.name, architecture=self.architecture, now_s=self.env.now,
            components=components, edges=edges, breakers=breakers,
            queue_ready=broker.ready_count if broker else 0,
            queue_unacked=broker.unacked_count if broker else 0,
            dead_letters=broker.dead_letters if broker else 0,
            outbox_pending=len(self.outbox.pending) if self.outbox else 0,
            db_version=self.db.version, cache_version=self.cache.version,
            directory=dict(self.directory),
        )


class _Read:
    """One GET /blogs from the outside client: finished by its response or by the client's timeout."""

    __slots__ = ("committed", "done", "started", "world")

    def __init__(self, world: World):
        self.world = world
        self.started = world.env.now
        self.committed = world.db.version
        self.done = False

    def answered(self, response) -> None:
        self.finish(response.value)

    def timed_out(self) -> None:
        self.finish(TIMEOUT)

    def finish(self, outcome: Outcome) -> None:
        if self.done:
            return
        self.done = True
        world = self.world
        now = world.env.now
        world.measurements.read(now, (now - self.started) * 1000.0, outcome.ok, outcome.version < self.committed)
        world.edge("client", "blog", outcome)


def _component(name: str, part: Faults, busy: int, waiting: int, workers: int) -> Component:
    state = health(down=part.state == DOWN, hung=part.state == HUNG, busy=busy, workers=workers, waiting=waiting,
                   degraded=part.degraded)
    return Component(name, state, busy, waiting, workers, part.latency_ms, part.error_rate)
