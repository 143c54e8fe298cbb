"""The live engine: a scenario's variants on real processes, real RabbitMQ, real Redis and real HTTP.

The `Engine` contract of sandbox/engine.py, as the simulation's twin: each variant is wired (wiring.py), its
commands become faults (faults.py), and it is measured once a second into the same Measurements the
simulation fills (meter.py); lost messages the services cannot see themselves are found by a census of where
every message is (census.py), and `messages` shows them from real readings (letters.py).

The broker is RABBITMQ_URL's, or nodes the lab starts itself (cluster.py): three for `broker.nodes = 3`, and one
for a one-node scenario whose timeline restarts the broker, so that a restart never touches a node others use.
Everything a run makes carries its run id and is written in its record first (runs.py); the run deletes it all
when it closes, and what a run killed by SIGKILL left is swept by the next one (sweep.py).
"""

from __future__ import annotations

import contextlib
import logging
import shutil
import signal
import threading
import time
from collections.abc import Iterator

import httpx
import pika

from sandbox.catalog import CHECKOUT
from sandbox.live.faults import FaultInjector, restarts_the_broker
from sandbox.live.letters import letters
from sandbox.live.meter import Meter
from sandbox.live.processes.runs import RunRecord, new_run_id, run_folder
from sandbox.live.processes.supervisor import Supervisor
from sandbox.live.processes.sweep import sweep
from sandbox.live.rabbitmq import node
from sandbox.live.rabbitmq.claim import Claim
from sandbox.live.rabbitmq.cluster import Cluster
from sandbox.live.rabbitmq.management import ManagementApi, ManagementUnavailable
from sandbox.live.rabbitmq.policies import Policies
from sandbox.live.rabbitmq.probes import QueueProbe
from sandbox.live.servers import (
    LabUnavailable,
    RedisServer,
    check_rabbitmq,
    checked_management_url,
    checked_rabbitmq_url,
    checked_redis_url,
    redis_or_fake,
)
from sandbox.live.servers import management_url as default_management_url
from sandbox.live.servers import rabbitmq_url as default_rabbitmq_url
from sandbox.live.servers import redis_url as default_redis_url
from sandbox.live.services.config import ServiceConfig
from sandbox.live.wiring import SERVICES, Site, VariantLab, names, unwire, wire
from sandbox.model.commands import Command, Kill, Restart, Revive
from sandbox.model.measurements import Frame, Measurements, interleave
from sandbox.model.messages import Letters
from sandbox.model.scenario import Scenario
from sandbox.model.status import Component, Edge, VariantStatus, health

log = logging.getLogger(__name__)
TICK_S = 0.05


def broker_nodes(scenario: Scenario) -> int:
    """The scenario's `broker.nodes` (1 or 3); one broker serves every variant, so they must agree."""
    counts = {scenario.knobs_at_start(v).broker.nodes for v in scenario.variants if v.architecture == "queue"}
    if len(counts) > 1:
        raise LabUnavailable("the live lab's variants share one broker: give broker.nodes the same value in every "
                             "queue variant (set it in the scenario's [knobs])")
    return counts.pop() if counts else 1


@contextlib.contextmanager
def _signals_held() -> Iterator[None]:
    """SIGINT and SIGTERM wait while the lab cleans up, so a second one cannot cut the cleanup short (main thread
    only: elsewhere Python runs no signal handlers anyway)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = {signum: signal.signal(signum, signal.SIG_IGN) for signum in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)


class LiveEngine:
    name = "live"

    def __init__(self, scenario: Scenario, seed: int | None = None, *, rabbitmq_url: str | None = None,
                 redis_url: str | None = None, management_url: str | None = None, standing: bool = False):
        """`standing`: the lab of `python -m sandbox lab up`, whose queue variant uses the exact queue name
        `cache-invalidation` so outside producers reach it (one such lab per broker: it holds the claim)."""
        self.scenario = scenario
        self.seed = scenario.seed if seed is None else seed
        self.rabbitmq_url = checked_rabbitmq_url(rabbitmq_url) if rabbitmq_url else default_rabbitmq_url()
        self.management_url = checked_management_url(management_url) if management_url else default_management_url()
        redis_url = checked_redis_url(redis_url) if redis_url else default_redis_url()
        self._lines: list[tuple[float, str, str]] = []
        self.warnings: list[str] = []
        self._t0 = time.monotonic()
        self._closed_s = 0
        self._closed = False
        self.labs: dict[str, VariantLab] = {}
        self.meters: dict[str, Meter] = {}
        own_nodes = self._own_nodes(broker_nodes(scenario))
        self.broker = check_rabbitmq(self.rabbitmq_url) if not own_nodes else ""
        """The broker measured, as its server properties name it ("RabbitMQ 3.10.8")."""
        self.run_id = new_run_id()
        self.workdir = run_folder(self.run_id)
        self.record = RunRecord.begin(self.run_id, str(CHECKOUT or self.workdir))
        self.cluster: Cluster | None = None
        self.claim: Claim | None = None
        self.faults: FaultInjector | None = None
        self._queues: QueueProbe | None = None
        self._management: ManagementApi | None = None
        self._probe = httpx.Client(timeout=1.0)
        self.redis: RedisServer | None = None
        self.supervisor = Supervisor(self.workdir / "logs")
        try:
            self._start(own_nodes, redis_url, standing)
        except BaseException:
            self.close()
            raise
        self._t0 = time.monotonic()
        for lab in self.labs.values():
            lab.load.start(self._t0)

    def _own_nodes(self, nodes: int) -> int:
        """How many RabbitMQ nodes the lab starts itself: 3 for a cluster, 1 for a timeline that restarts the
        broker (when it can), else none."""
        missing = node.own_nodes_missing(self.rabbitmq_url)
        if nodes == 3:
            if missing:
                raise LabUnavailable(f"broker.nodes = 3 needs three RabbitMQ nodes the lab starts on this machine, but "
                                     f"{missing}: install rabbitmq-server here and run against a local broker, or "
                                     "use broker.nodes = 1")
            return 3
        return 1 if not missing and any(restarts_the_broker(c) for c in self.scenario.timeline) else 0

    def _start(self, own_nodes: int, redis_url: str, standing: bool) -> None:
        credentials = pika.URLParameters(self.rabbitmq_url).credentials
        assert isinstance(credentials, pika.PlainCredentials), "an amqp:// URL carries a user and password"
        self.record.standing = standing
        self.record.save(self.workdir)
        if not own_nodes:
            self._management = ManagementApi(self.management_url, credentials.username, credentials.password)
            if standing:
                self.claim = Claim(self.rabbitmq_url, self.record.pid, self.record.checkout, self._management)
                self.claim.take()
        swept = sweep(claimed=standing)
        if swept:
            self._warn(swept)
        self.redis = redis = redis_or_fake(redis_url)
        if redis.note:
            self._warn(redis.note)
        if not redis.fake:
            self.record.redis_url = redis.url
        if own_nodes:
            self.cluster = Cluster(own_nodes, self.workdir / "nodes", self.run_id, log=lambda text: self._log("", text))
            self.record.nodes = [each.name for each in self.cluster.nodes]
            self.record.save(self.workdir)
            started_s = self.cluster.start()
            self._log("", f"the lab started its own RabbitMQ node{'s' if own_nodes > 1 else ''} in {started_s:.1f} s: "
                          + ", ".join(f"{each.label} {each.name} on 127.0.0.1:{each.amqp_port}"
                                      for each in self.cluster.nodes))
            urls = self.cluster.urls
            self.broker = check_rabbitmq(urls)
        else:
            self.record.rabbitmq_url, self.record.management_url = self.rabbitmq_url, self.management_url
            urls = (self.rabbitmq_url,)
        self._log("", f"measured on {self.broker}, as the server properties it sent on connecting say")
        self.site = self._site(urls, redis.url, standing)
        self.faults = FaultInjector(self.supervisor, self.meters, self.labs, urls, redis.url, lambda: self.now,
                                    self.cluster)
        self._queues = QueueProbe(urls, self.site.policies.management)
        for variant in self.scenario.variants:
            lab, warning = wire(self.site, variant, self.scenario.knobs_at_start(variant))
            self.labs[variant.name] = lab
            self.meters[variant.name] = Meter(lab, self.supervisor, self._queues, self._probe)
            if self.cluster is not None and len(self.cluster.nodes) > 1:
                self.meters[variant.name].quorum_readable = self.cluster.majority_answers
            if warning:
                self._warn(warning)

    def _site(self, urls: tuple[str, ...], redis_url: str, standing: bool) -> Site:
        """What the variants share; the management API is asked once, and what its absence costs is said."""
        management = self._management
        if self.cluster is not None:
            version = node.server_version(self.cluster.nodes[0].name)
            policies = Policies(urls[0], None, self.cluster.nodes[0].name)
        else:
            try:
                version = self._management.version() if self._management else None
            except ManagementUnavailable as exc:
                management = None
                local = node.is_local(self.rabbitmq_url)
                version = node.server_version() if local else None
                via = "with rabbitmqctl" if local else "nowhere (no local rabbitmqctl either)"
                self._warn(f"the RabbitMQ management API does not answer ({exc}): queue.unacked reads 0 while a "
                           f"cache-worker cannot report what it holds, and the dead-letter and delivery-limit "
                           f"policies are set {via}; enable it: rabbitmq-plugins enable rabbitmq_management, or fix "
                           "RABBITMQ_MANAGEMENT_URL")
            policies = Policies(self.rabbitmq_url, management)
        return Site(urls, self.cluster is not None, redis_url, self.supervisor, self.workdir, self.run_id,
                    standing, self.seed, self.scenario.duration_s, policies, version, self._remember,
                    await_members=self.cluster.await_members if self.cluster is not None else None)

    def _remember(self, config: ServiceConfig) -> None:
        """A variant's names, into the run's record before they exist on the servers."""
        queues, exchanges, policies = names(config)
        if self.cluster is None:
            self.record.queues += queues
            self.record.exchanges += exchanges
            self.record.policies += policies
        self.record.redis_prefixes.append(config.redis_prefix)
        self.record.save(self.workdir)

    @property
    def owns_nodes(self) -> bool:
        """The broker is nodes the lab started itself: node-level commands act on them for real."""
        return self.cluster is not None

    # the contract -------------------------------------------------------------

    @property
    def now(self) -> float:
        return time.monotonic() - self._t0

    def _log(self, variant: str, text: str) -> None:
        self._lines.append((round(self.now, 3), variant, text))

    def _warn(self, text: str) -> None:
        """A warning: logged for whoever runs the lab (the CLI prints it), and kept in the log."""
        self.warnings.append(text)
        self._log("", text)
        log.warning("warning: %s", text)

    def log(self) -> list[tuple[float, str, str]]:
        return list(self._lines)

    def apply(self, command: Command) -> list[str]:
        faults = self.faults
        assert faults is not None, "an engine that started has its faults"
        if faults.node_level(command):
            assert isinstance(command, (Kill, Revive, Restart))
            notes = faults.apply_to_nodes(command)
            for text in notes:
                self._log("", text)
            for name, lab in self.labs.items():
                if lab.config.queue:
                    self._log(name, command.describe())
            return notes
        notes = []
        for name, lab in self.labs.items():
            if command.variant is None or command.variant == name:
                note = faults.apply(lab, command)
                if note:
                    notes.append(f"{name}: {note}")
                else:
                    self._log(name, command.describe())
        return notes

    def advance(self, seconds: float) -> None:
        """Let wall-clock time pass while the load runs, filing samples and reading gauges each second."""
        end = self.now + seconds
        while True:
            now = self.now
            for meter in self.meters.values():
                meter.tick()
            while self._closed_s + 1 <= now:
                for meter in self.meters.values():
                    meter.close_second(self._closed_s)
                self._closed_s += 1
            if now >= end:
                return
            time.sleep(min(TICK_S, end - now))

    def frames(self) -> list[Frame]:
        return interleave({name: lab.measurements.frames() for name, lab in self.labs.items()})

    def measurements(self, variant: str) -> Measurements:
        return self.labs[variant].measurements

    def messages(self, variant: str) -> Letters:
        meter = self.meters[variant]
        return letters(meter.last, meter.losses)

    def status(self) -> dict[str, VariantStatus]:
        return {name: self._status(lab) for name, lab in self.labs.items()}

    def _status(self, lab: VariantLab) -> VariantStatus:
        metrics = self.meters[lab.name].metrics
        components = {}
        for name in SERVICES:
            service = metrics.get(name, {})
            busy, waiting, workers = service.get("busy", 0), service.get("waiting", 0), service.get("workers", 0)
            if name == "cache-worker" and not lab.config.queue:
                state = "absent"
            else:
                state = health(down=not self.supervisor.alive(lab.process(name)), busy=busy, workers=workers,
                               waiting=waiting, hung=bool(lab.injected.get(name, {}).get("hung")))
            components[name] = Component(name, state, busy, waiting, workers)
        components["redis"] = Component("redis", "up" if lab.proxies["redis"].listening else "down")
        nodes = self._nodes(lab)
        if not lab.config.queue:
            components["broker"] = Component("broker", "absent")
        elif nodes:
            up = sum(each.health == "up" for each in nodes)
            components["broker"] = Component("broker", "down" if not up else "up" if up == len(nodes) else "slow")
        else:
            components["broker"] = Component("broker", "up" if lab.proxies["broker"].listening else "down")
        last = lab.measurements.frame(self._closed_s - 1) if self._closed_s else {}
        edges = []
        for kind, target in (("read", "blog"), ("write", "author")):
            calls = (last.get(f"{kind}.ok") or 0) + (last.get(f"{kind}.errors") or 0)
            if calls:
                edges.append(Edge("client", target, calls, (last.get(f"{kind}.errors") or 0) / calls))
        reading = self.meters[lab.name].last
        return VariantStatus(
            variant=lab.name, architecture=lab.variant.architecture, now_s=self.now,
            components=components, edges=tuple(edges),
            queue_ready=int(last.get("queue.ready") or 0), queue_unacked=int(last.get("queue.unacked") or 0),
            dead_letters=reading.counts["dead-lettered"] if reading else 0,
            outbox_pending=int(last.get("outbox.pending") or 0),
            nodes=nodes, queue_leader="broker-1" if nodes and lab.config.knobs.broker.queue_type == "classic" else "")

    def _nodes(self, lab: VariantLab) -> tuple[Component, ...]:
        """A cluster's nodes as the variant sees them: down when the node is, or the variant's proxy refuses."""
        cluster = self.cluster
        if cluster is None or len(cluster.nodes) == 1 or not lab.config.queue:
            return ()
        return tuple(Component(each.label, "up" if cluster.alive(each.number) and lab.proxies[each.label].listening
                               else "down") for each in cluster.nodes)

    def close(self) -> None:
        """Stop the load, every process, proxy and node; delete the variant queues, policies and cache keys, then the
        run's folder; idempotent. SIGINT and SIGTERM wait until it is done. The measurements stay readable."""
        if self._closed:
            return
        self._closed = True
        with _signals_held():
            if self.faults is not None:
                self.faults.close()
            for lab in self.labs.values():
                lab.load.stop(wait_s=2)
            self.supervisor.close()
            for lab in self.labs.values():
                unwire(self.site, lab)
            if self.cluster is not None:
                self.cluster.close()
            if self.claim is not None:
                self.claim.release()
            self._probe.close()
            if self._queues is not None:
                self._queues.close()
            if self._management is not None:
                self._management.close()
            if self.redis is not None:
                self.redis.close()
            shutil.rmtree(self.workdir, ignore_errors=True)
