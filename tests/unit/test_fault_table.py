"""The fault table (sandbox/model/faults.py) is what both engines do: after every sequence of up to three verbs on a
part, the kinds of fault in force there — on the simulation's part, and on the live lab's processes, proxies and
the faults a service injects itself — are the ones the table predicts. The charts' bands follow it too."""

from __future__ import annotations

import itertools
import json
from dataclasses import dataclass, field, replace

import httpx
import pytest

from sandbox.live import faults as live_faults
from sandbox.live.faults import HEALTHY, FaultInjector, carrier
from sandbox.live.services.config import ServiceConfig
from sandbox.live.services.service import InjectedFaults
from sandbox.live.wiring import VariantLab
from sandbox.model.commands import Errors, Hang, Heal, Kill, Latency, Restart, Revive, TargetCommand
from sandbox.model.faults import HEALED, FaultKind, effect
from sandbox.model.knobs import Knobs
from sandbox.model.periods import fault_periods
from sandbox.model.scenario import Variant
from sandbox.sim.faults import DOWN, HUNG
from sandbox.sim.world import World

VERBS: tuple[TargetCommand, ...] = (
    Kill(""), Revive(""), Restart("", down_s=600), Hang(""), Heal(""), Latency("", ms=200), Latency("", ms=0),
    Errors("", rate=0.5), Errors("", rate=0.0))
TARGETS = ("user", "cache-worker", "redis", "broker")
SEQUENCES = [s for n in (1, 2, 3) for s in itertools.product(VERBS, repeat=n)]


def predicted(commands: tuple[TargetCommand, ...]) -> set[FaultKind]:
    """The kinds in force after `commands`, read from the table alone."""
    active: set[FaultKind] = set()
    for command in commands:
        row = effect(command)
        if row.needs_up and "down" in active:
            continue
        active -= set(row.ends)
        if row.starts is not None:
            active.add(row.starts)
    return active


def on(target: str, commands: tuple[TargetCommand, ...]) -> list[TargetCommand]:
    return [replace(c, target=target, at=float(i)) for i, c in enumerate(commands)]


def test_heal_ends_what_is_not_down_and_only_revive_or_a_restart_ends_down():
    assert set(HEALED) == {"hung", "latency", "errors"}
    assert [type(c).__name__ for c in VERBS if "down" in effect(c).ends] == ["Revive", "Restart"]
    assert [type(c).__name__ for c in VERBS if effect(c).needs_up] == ["Hang"]


# the simulation ----------------------------------------------------------------------------------------------


def sim_kinds(world: World, target: str) -> set[FaultKind]:
    part = world.part(target)
    assert part is not None
    kinds: set[FaultKind] = set()
    if part.state == DOWN:
        kinds.add("down")
    if part.state == HUNG:
        kinds.add("hung")
    if part.latency_ms or part.jitter_ms:
        kinds.add("latency")
    if part.error_rate:
        kinds.add("errors")
    return kinds


@pytest.mark.parametrize("target", TARGETS)
def test_the_simulation_does_what_the_table_says(target):
    for sequence in SEQUENCES:
        world = World("queue", "queue", Knobs(), seed=1)
        world.advance_to(1)
        for command in on(target, sequence):
            world.apply(command)
        assert sim_kinds(world, target) == predicted(sequence), [c.verb for c in sequence]


# the live lab, its mechanisms recorded ------------------------------------------------------------------------


@dataclass
class Proxy:
    listening: bool = True
    swallowing: bool = False
    latency_ms: float = 0.0

    def down(self) -> None:
        self.listening = False

    def up(self) -> None:
        self.listening = True

    def black_hole(self, on: bool = True) -> None:
        self.swallowing = on

    def latency(self, ms: float, jitter_ms: float = 0.0, direction: str = "both") -> None:
        self.latency_ms = ms + jitter_ms


@dataclass
class Processes:
    """The supervisor's processes, each with the faults it injects itself (a new process starts with none)."""

    injected: dict[str, InjectedFaults] = field(default_factory=dict)

    def alive(self, name: str) -> bool:
        return name in self.injected

    def kill(self, name: str) -> None:
        self.injected.pop(name, None)

    def revive(self, name: str) -> None:
        self.injected.setdefault(name, InjectedFaults())


class Meter:
    def expect_loss(self, cause: str, at_s: float | None) -> None:
        pass

    def forget(self, service: str) -> None:
        pass


class LiveLab:
    """One queue variant's fault injector over recorded mechanisms: proxies, processes, and the services' own
    /internal/faults (the real InjectedFaults, told through httpx.MockTransport). `fresh()` starts it over."""

    NAMES = ("author", "blog", "user", "cache-worker", "redis", "broker")

    def __init__(self) -> None:
        self.processes = Processes()
        self.ports = {name: 9000 + i for i, name in enumerate(self.NAMES)}
        self.injector = FaultInjector(self.processes, {"queue": Meter()}, {}, ("amqp://127.0.0.1:5672/",),
                                      "redis://127.0.0.1:6379/0", lambda: 0.0)
        self.injector._http = httpx.Client(transport=httpx.MockTransport(self._tell))
        self.lab = self.fresh()

    def fresh(self) -> VariantLab:
        proxies = {name: Proxy() for name in self.NAMES if name != "cache-worker"}
        self.lab = VariantLab(Variant("queue", "queue"), ServiceConfig(variant="queue"), self.ports, proxies,
                              None, None, None)
        self.processes.injected = {self.lab.process(name): InjectedFaults() for name in self.NAMES[:4]}
        return self.lab

    def _tell(self, request: httpx.Request) -> httpx.Response:  # what a service's /internal/faults does
        name = next(name for name, port in self.ports.items() if port == request.url.port)
        faults = self.processes.injected.get(self.lab.process(name))
        if faults is None:
            raise httpx.ConnectError("refused", request=request)
        assert faults.update(json.loads(request.content)) is None
        return httpx.Response(200)


@pytest.fixture
def live():
    made = LiveLab()
    yield made
    made.injector.close()


def live_kinds(lab: VariantLab, processes: Processes, target: str) -> set[FaultKind]:
    """What is in force on `target`; on a dead service, what it will be told when revived."""
    kinds: set[FaultKind] = set()
    proxy = lab.proxies.get(target)
    service = processes.injected.get(lab.process(target))
    if target in ("author", "blog", "user", "cache-worker") and service is None:
        kinds.add("down")
        service = InjectedFaults()
        assert service.update(HEALTHY | lab.injected.get(target, {})) is None
    if proxy is not None and not proxy.listening:
        kinds.add("down")
    if (proxy is not None and proxy.swallowing) or (service is not None and service.hung):
        kinds.add("hung")
    if (proxy is not None and proxy.latency_ms) or (service is not None and service.latency_ms):
        kinds.add("latency")
    if service is not None and service.error_rate:
        kinds.add("errors")
    return kinds


@pytest.mark.parametrize("target", TARGETS)
def test_the_live_lab_does_what_the_table_says(target, live, monkeypatch):
    """Commands the lab cannot carry out (errors on Redis or the broker: its proxy speaks TCP) are refused with a
    note and left out of the prediction. (`broker` here is one variant's proxies, as on a broker the lab did not
    start.)"""
    monkeypatch.setattr(live_faults, "forget_cache", lambda lab, url: None)  # Redis's keys: not this test's
    for sequence in SEQUENCES:
        carried = tuple(c for c in sequence if not isinstance(c, Errors) or carrier(target, "errors"))
        lab = live.fresh()
        for command in on(target, sequence):
            live.injector.apply(lab, command)
        assert live_kinds(lab, live.processes, target) == predicted(carried), [c.verb for c in sequence]


def test_the_live_lab_refuses_what_it_cannot_carry_and_a_hang_on_a_dead_part(live):
    assert "not available in the live lab" in live.injector.apply(live.lab, Errors("redis", rate=0.5))
    live.injector.apply(live.lab, Kill("user"))
    assert live.injector.apply(live.lab, Hang("user")) == "user is down; revive it before it can hang"


# the charts' bands ---------------------------------------------------------------------------------------------


def test_the_bands_on_the_charts_do_what_the_table_says():
    for sequence in SEQUENCES:
        last_s = len(sequence) - 1.0
        in_force = {p.kind for p in fault_periods(on("user", sequence))
                    if p.start_s <= last_s and (p.end_s is None or p.end_s > last_s)}
        assert in_force == predicted(sequence), [c.verb for c in sequence]
