"""The live engine: a scenario's variants on real processes, real RabbitMQ, real Redis and real HTTP.

The `Engine` contract of sandbox/engine.py, as the simulation's twin: each variant is wired (wiring.py), its
commands become faults (faults.py), and it is measured once a second into the same Measurements the
simulation fills (meter.py); lost messages the services cannot see themselves are found by a census of where
every message is (census.py), and `messages` shows them from real readings (letters.py).
"""

from __future__ import annotations

import logging
import shutil
import tempfile
import time
import uuid
from pathlib import Path

import httpx
import pika

from sandbox.live import node
from sandbox.live.faults import FaultInjector
from sandbox.live.letters import letters
from sandbox.live.management import ManagementApi, ManagementUnavailable
from sandbox.live.meter import Meter
from sandbox.live.policies import Policies
from sandbox.live.probes import QueueProbe
from sandbox.live.servers import (
    check_rabbitmq,
    checked_management_url,
    checked_rabbitmq_url,
    checked_redis_url,
    redis_or_fake,
)
from sandbox.live.servers import management_url as default_management_url
from sandbox.live.servers import rabbitmq_url as default_rabbitmq_url
from sandbox.live.servers import redis_url as default_redis_url
from sandbox.live.supervisor import Supervisor
from sandbox.live.wiring import SERVICES, Site, VariantLab, unwire, wire
from sandbox.model import losses
from sandbox.model.commands import Command, Restart
from sandbox.model.measurements import Frame, Measurements, interleave
from sandbox.model.messages import Letters
from sandbox.model.scenario import Scenario
from sandbox.model.status import Component, Edge, VariantStatus, health

log = logging.getLogger(__name__)
TICK_S = 0.05


def _restarts_the_broker(command: Command) -> bool:
    """`restart broker` for every variant: the one command that restarts the RabbitMQ node itself."""
    return isinstance(command, Restart) and command.target == "broker" and command.variant is None


class LiveEngine:
    name = "live"

    def __init__(self, scenario: Scenario, seed: int | None = None, *, rabbitmq_url: str | None = None,
                 redis_url: str | None = None, management_url: str | None = None, workdir: Path | None = None,
                 standing: bool = False):
        """`standing`: the lab of `python -m sandbox lab up`, whose queue variant uses the exact queue name
        `cache-invalidation` so outside producers reach it (only one such lab may run on a broker)."""
        self.scenario = scenario
        self.seed = scenario.seed if seed is None else seed
        self.rabbitmq_url = checked_rabbitmq_url(rabbitmq_url) if rabbitmq_url else default_rabbitmq_url()
        self.management_url = checked_management_url(management_url) if management_url else default_management_url()
        redis_url = checked_redis_url(redis_url) if redis_url else default_redis_url()
        check_rabbitmq(self.rabbitmq_url)
        self._lines: list[tuple[float, str, str]] = []
        self.warnings: list[str] = []
        self._t0 = time.monotonic()
        self._closed_s = 0
        self._closed = False
        self.labs: dict[str, VariantLab] = {}
        self.meters: dict[str, Meter] = {}
        self.redis = redis_or_fake(redis_url)
        self._own_workdir = workdir is None
        self.workdir = Path(workdir or tempfile.mkdtemp(prefix="post-office-lab-"))
        self.supervisor = Supervisor(self.workdir / "logs")
        self.node = node.LocalNode(self.rabbitmq_url)
        credentials = pika.URLParameters(self.rabbitmq_url).credentials
        assert isinstance(credentials, pika.PlainCredentials), "an amqp:// URL carries a user and password"
        self._management = ManagementApi(self.management_url, credentials.username, credentials.password)
        self._probe = httpx.Client(timeout=1.0)
        self.faults = FaultInjector(self.supervisor, self.meters, self.rabbitmq_url, self.redis.url, lambda: self.now)
        if self.redis.note:
            self._warn(self.redis.note)
        self.site = self._site(standing)
        self._queues = QueueProbe(self.rabbitmq_url, self.site.policies.management)
        if any(_restarts_the_broker(c) for c in scenario.timeline):
            self.controls_broker_node()
        try:
            for variant in scenario.variants:
                lab, warning = wire(self.site, variant, scenario.knobs_at_start(variant))
                self.labs[variant.name] = lab
                self.meters[variant.name] = Meter(lab, self.supervisor, self._queues, self._probe)
                if warning:
                    self._warn(warning)
        except BaseException:
            self.close()
            raise
        self._t0 = time.monotonic()
        for lab in self.labs.values():
            lab.load.start(self._t0)

    def _site(self, standing: bool) -> Site:
        """What the variants share; the management API is asked once, and what its absence costs is said."""
        management: ManagementApi | None = self._management
        try:
            version: str | None = self._management.version()
        except ManagementUnavailable as exc:
            management = None
            version = node.server_version() if node.is_local(self.rabbitmq_url) else None
            via = "with rabbitmqctl" if node.is_local(self.rabbitmq_url) else "nowhere (no local rabbitmqctl either)"
            self._warn(f"the RabbitMQ management API does not answer ({exc}): queue.unacked reads 0 while a "
                       f"cache-worker cannot report what it holds, and the dead-letter and delivery-limit policies "
                       f"are set {via}; enable it: rabbitmq-plugins enable rabbitmq_management, or fix "
                       "RABBITMQ_MANAGEMENT_URL")
        return Site(self.rabbitmq_url, self.redis.url, self.supervisor, self.workdir, uuid.uuid4().hex[:8], standing,
                    self.seed, self.scenario.duration_s, Policies(self.rabbitmq_url, management), version)

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
        notes = []
        restart_node = _restarts_the_broker(command) and self.controls_broker_node()
        if _restarts_the_broker(command) and not restart_node:
            notes.append(self.node.no_restart())
        for name, lab in self.labs.items():
            if command.variant is None or command.variant == name:
                note = self.faults.apply(lab, command)
                if note:
                    notes.append(f"{name}: {note}")
                else:
                    self._log(name, command.describe())
        if restart_node and isinstance(command, Restart):
            self._restart_node(command.down_s)
        return notes

    def controls_broker_node(self) -> bool:
        """A RabbitMQ node on this machine that rabbitmqctl controls: broker faults then restart it for real."""
        if not self.node.asked:
            controlled = self.node.controlled
            self._log("", "the lab controls the local RabbitMQ node: `restart broker` stops and starts it"
                      if controlled else self.node.no_restart())
        return self.node.controlled

    def _restart_node(self, down_s: float) -> None:
        """`restart broker`: the node stops (the proxies have cut every connection already) and starts again."""
        self.node.restart(down_s)
        for name, lab in self.labs.items():
            knobs = lab.config.knobs.broker
            if lab.config.queue and not knobs.durable:
                self.meters[name].expect_loss(losses.TRANSIENT_QUEUE, self.now)
            elif lab.config.queue and not knobs.persistent:
                self.meters[name].expect_loss(losses.TRANSIENT_MESSAGE, self.now)

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
        for name in ("broker", "redis"):
            up = "up" if lab.proxies[name].listening else "down"
            components[name] = Component(name, "absent" if name == "broker" and not lab.config.queue else up)
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
            outbox_pending=int(last.get("outbox.pending") or 0), db_version=lab.db.version())

    def close(self) -> None:
        """Stop the load, every process and proxy; delete the variant queues, policies and cache keys; idempotent.

        The measurements stay readable."""
        if self._closed:
            return
        self._closed = True
        self.faults.close()
        self.node.close()
        for lab in self.labs.values():
            lab.load.stop(wait_s=2)
        self.supervisor.close()
        for lab in self.labs.values():
            unwire(self.site, lab)
        self._probe.close()
        self._queues.close()
        self._management.close()
        self.redis.close()
        if self._own_workdir:
            shutil.rmtree(self.workdir, ignore_errors=True)
