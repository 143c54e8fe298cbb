"""Turning the timeline's commands into faults on the real parts: one variant's, or the RabbitMQ nodes all share.

What each verb starts and ends is the model's table (`sandbox.model.faults`), the simulation's too; this module is
the one place that decides where the lab makes each kind of fault (`carrier`):

| target             | down (kill, restart)                        | hung (hang)     | latency         | errors |
| ------------------ | ------------------------------------------- | --------------- | --------------- | ------ |
| author, blog, user | SIGKILL (supervisor), its proxy refuses     | proxy swallows  | proxy delays    | itself |
| cache-worker       | SIGKILL (supervisor)                        | itself          | itself          | itself |
| redis              | its proxy refuses (comes back empty)        | proxy swallows  | proxy delays    | –      |
| broker, broker-N   | its node proxies refuse (node-level: below) | proxies swallow | proxies delay   | –      |

"proxy": the asyncio fault proxy in front of the part (proxy.py), one per variant, so a fault hits one variant
only; "itself": the service injects it, told on /internal/faults (services/service.py `InjectedFaults`) and told
again when it is revived; "–": the proxy speaks TCP, not HTTP, so the lab refuses the command with a note. A service
dies by SIGKILL and comes back on the same port. Each fault that may lose messages tells the variant's meter the
likely cause, for the census to file what it finds.

Node-level commands act on RabbitMQ nodes, which every variant shares, and only on nodes the lab started itself
(cluster.py): on three nodes, `kill`, `revive` and `restart` of `broker-N` (`broker`: all three) SIGKILL and start
nodes; on one node, `restart broker` for every variant stops and starts its RabbitMQ. Aimed at one variant, such a
command still acts on all and says so. On a broker the lab did not start, `restart broker` only cuts the variants'
connections at their proxies, and says that too.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Literal, assert_never
from urllib.parse import urlsplit

import httpx
from pika import BasicProperties, DeliveryMode

from sandbox.live.meter import Meter
from sandbox.live.processes.supervisor import Supervisor, SupervisorError
from sandbox.live.processes.timers import Timers
from sandbox.live.proxy import FaultProxy
from sandbox.live.rabbitmq.broker import connect
from sandbox.live.rabbitmq.cluster import Cluster
from sandbox.live.rabbitmq.node import own_nodes_missing
from sandbox.live.wiring import HTTP_SERVICES, VariantLab, forget_cache
from sandbox.model import losses
from sandbox.model.commands import (
    Command,
    Errors,
    Hang,
    Heal,
    Kill,
    Latency,
    Load,
    Poison,
    Restart,
    Revive,
    Set,
    TargetCommand,
)
from sandbox.model.faults import FaultKind, effect
from sandbox.model.scenario import LOAD_FIELDS

POISON_BODY = b'{"action": "invalidateCache", "keys": '  # cut short: not JSON
HEALTHY = {"error_rate": 0.0, "latency_ms": 0.0, "jitter_ms": 0.0, "hung": False}
INJECTED: dict[FaultKind, tuple[str, ...]] = {"hung": ("hung",), "latency": ("latency_ms", "jitter_ms"),
                                              "errors": ("error_rate",)}
"""The /internal/faults fields that carry each kind a service injects itself."""
WORKER = "cache-worker"
Carrier = Literal["proxy", "itself"]


def carrier(target: str, kind: FaultKind) -> Carrier | None:
    """Where the lab makes fault `kind` (not "down": a process's and a proxy's life) on `target`, per the module's
    table; None where it cannot."""
    if kind == "errors":
        return "itself" if target in (*HTTP_SERVICES, WORKER) else None
    return "itself" if target == WORKER else "proxy"


NODE_VERBS = (Kill, Revive, Restart)


def restarts_the_broker(command: Command) -> bool:
    """`restart broker` for every variant: on one node, the command that restarts the RabbitMQ node itself."""
    return isinstance(command, Restart) and command.target in ("broker", "broker-1") and command.variant is None


class FaultInjector:
    def __init__(self, supervisor: Supervisor, meters: dict[str, Meter], labs: dict[str, VariantLab],
                 rabbitmq_urls: tuple[str, ...], redis_url: str, clock: Callable[[], float],
                 cluster: Cluster | None = None):
        """`rabbitmq_urls`: the broker's nodes; `cluster`: the lab's own nodes, when it started them."""
        self.supervisor = supervisor
        self.meters = meters
        self.labs = labs
        self.rabbitmq_urls = rabbitmq_urls
        self.redis_url = redis_url
        self.clock = clock
        self.cluster = cluster
        self._http = httpx.Client(timeout=1.0)
        self._timers = Timers()

    # RabbitMQ nodes, shared by every variant -------------------------------------

    def node_level(self, command: Command) -> bool:
        """A command for the RabbitMQ nodes themselves (see the module's doc), not for one variant's proxies."""
        if not isinstance(command, NODE_VERBS) or not command.target.startswith("broker"):
            return False
        if len(self.rabbitmq_urls) > 1:
            return True
        return restarts_the_broker(command)

    def apply_to_nodes(self, command: Kill | Revive | Restart) -> list[str]:
        """Carry out a node-level command; notes on what it did beyond what it says."""
        notes = [f"{name}: no {command.target} in a sync variant; `{command.verb}` does nothing"
                 for name, lab in self.labs.items() if not lab.config.queue
                 and command.variant in (None, name)]
        if command.variant is not None:
            notes.append(f"{command.target} is a RabbitMQ node every variant shares: `{command.verb}` acts on all "
                         "of them")
        if len(self.rabbitmq_urls) == 1:
            notes += self._restart_one_node(command)
            return notes
        cluster = self.cluster
        assert cluster is not None, "a broker of three nodes is always the lab's own"
        numbers = self._node_numbers(cluster, command.target)
        if not isinstance(command, Revive):
            self._suspect_node_losses(cluster, numbers)
        for number in numbers:
            match command:
                case Kill():
                    cluster.kill(number)
                case Revive():
                    cluster.revive(number)
                case Restart(down_s=down_s):
                    cluster.restart(number, down_s)
                case _:
                    assert_never(command)
        return notes

    @staticmethod
    def _node_numbers(cluster: Cluster, target: str) -> range | tuple[int, ...]:
        """The nodes `broker` (all) or `broker-N` names."""
        return range(1, len(cluster.nodes) + 1) if target == "broker" else (int(target.removeprefix("broker-")),)

    def _restart_one_node(self, command: Kill | Revive | Restart) -> list[str]:
        """`restart broker` on one node: every variant's connections are cut at its proxies for `down_s`, and the
        node itself restarts when it is the lab's own."""
        assert isinstance(command, Restart), "on one node only `restart broker` is node-level"
        for lab in self.labs.values():
            if lab.config.queue:
                self._fault(lab, command)
        if self.cluster is None:
            return [self._no_restart()]
        self.cluster.restart_app(command.down_s)
        for name, lab in self.labs.items():
            knobs = lab.config.knobs.broker
            if lab.config.queue and not knobs.durable:
                self.meters[name].expect_loss(losses.TRANSIENT_QUEUE, self.clock())
            elif lab.config.queue and not knobs.persistent:
                self.meters[name].expect_loss(losses.TRANSIENT_MESSAGE, self.clock())
        return []

    def _no_restart(self) -> str:
        url = self.rabbitmq_urls[0]
        why = own_nodes_missing(url) or "it starts a node of its own only for a timeline that restarts the broker"
        return (f"the lab did not start the RabbitMQ node at {urlsplit(url).hostname} ({why}), so `restart broker` "
                "only cuts every connection at the proxies: the node keeps its queues and messages, and nothing a real "
                "restart loses is lost")

    def _suspect_node_losses(self, cluster: Cluster, numbers: range | tuple[int, ...]) -> None:
        """What the death of nodes `numbers` may lose, per variant, as the simulation's cluster loses it: an exclusive
        queue with its worker's connection (on the first node up), a classic queue's non-persistent messages with
        broker-1."""
        first_up = next((n for n in range(1, len(cluster.nodes) + 1) if cluster.alive(n)), None)
        for name, lab in self.labs.items():
            knobs = lab.config.knobs.broker
            if not lab.config.queue:
                continue
            if lab.config.topology.exclusive and first_up in numbers:
                self.meters[name].expect_loss(losses.EXCLUSIVE_GONE, self.clock())
            elif knobs.queue_type == "classic" and 1 in numbers and not knobs.persistent:
                self.meters[name].expect_loss(losses.TRANSIENT_MESSAGE, self.clock())

    # one variant's parts -----------------------------------------------------------

    def apply(self, lab: VariantLab, command: Command) -> str | None:
        """Apply one command to one variant now; a note when it does nothing there."""
        match command:
            case Load():
                lab.load.set_rates(command.reads_per_s, command.writes_per_s)
                return None
            case Set(key=key, value=value):
                return self._set(lab, key, value)
            case Poison(count=count):
                if not lab.config.queue:
                    return "no broker in a sync variant; poison does nothing"
                self._publish_poison(lab, count)
                return None
            case Kill() | Revive() | Restart() | Hang() | Heal() | Latency() | Errors():
                return self._fault(lab, command)
            case _:
                assert_never(command)

    def _set(self, lab: VariantLab, key: str, value: Any) -> str | None:
        field_name = key.removeprefix("load.")
        if field_name in LOAD_FIELDS:
            lab.load.set_rates(**{field_name: value})
            return None
        if lab.config.knobs.with_values({key: value}) == lab.config.knobs:
            return None  # a `set` at 0 s: the services started with it
        return f"the live lab cannot change {key} while it runs; set it at 0 s or in the scenario's knobs"

    def _fault(self, lab: VariantLab, command: TargetCommand) -> str | None:
        target = command.target
        if target == "broker-1" and len(self.rabbitmq_urls) == 1:
            target = "broker"  # one node: broker-1 is the broker
        if target.startswith("broker-") and len(self.rabbitmq_urls) == 1:
            return f"no {target} in the live lab's one-node broker; `{command.verb}` does nothing"
        if (target.startswith("broker") or target == WORKER) and not lab.config.queue:
            return f"no {target} in a sync variant; `{command.verb}` does nothing"
        row = effect(command)
        if row.needs_up and self._down(lab, target):
            return f"{target} is down; revive it before it can {command.verb}"
        match command:
            case Restart(down_s=down_s):
                self._kill(lab, target)
                self._end(lab, target, row.ends)
                self._timers.later(down_s, self._revive, lab, target)
                return None
            case Kill():
                self._kill(lab, target)
                self._end(lab, target, row.ends)
                return None
            case Revive():
                return self._revive(lab, target)
            case Hang():
                if carrier(target, "hung") == "itself":
                    return self._inject(lab, target, hung=True)
                for proxy in self._proxies(lab, target):
                    proxy.black_hole()
                return None
            case Heal():
                return self._end(lab, target, row.ends)
            case Latency(ms=ms, jitter_ms=jitter_ms):
                if carrier(target, "latency") == "itself":
                    return self._inject(lab, target, latency_ms=ms, jitter_ms=jitter_ms)
                for proxy in self._proxies(lab, target):
                    proxy.latency(ms, jitter_ms, direction="upstream")
                return None
            case Errors(rate=rate):
                if carrier(target, "errors") is None:
                    return (f"`errors` on {target} is not available in the live lab "
                            "(its fault proxy speaks TCP, not HTTP)")
                if target == WORKER and lab.config.knobs.consumer.ack == "auto":
                    self.meters[lab.name].expect_loss(losses.AUTO_ACK_FAILED, None)
                return self._inject(lab, target, error_rate=rate)
            case _:
                assert_never(command)

    def _down(self, lab: VariantLab, target: str) -> bool:
        """Whether `target` is down in this variant: its process dead, every proxy in front of it refusing, or every
        node it names dead."""
        if target in (*HTTP_SERVICES, WORKER):
            return not self.supervisor.alive(lab.process(target))
        if not any(proxy.listening for proxy in self._proxies(lab, target)):
            return True
        cluster = self.cluster
        if cluster is None or len(cluster.nodes) == 1 or not target.startswith("broker"):
            return False
        return not any(cluster.alive(n) for n in self._node_numbers(cluster, target))

    def _end(self, lab: VariantLab, target: str, kinds: tuple[FaultKind, ...]) -> str | None:
        """End these kinds of fault on `target` where the lab carries them ("down" ends by a revive); a service
        still running is told at once, a dead one when it is revived."""
        injected = lab.injected.get(target, {})
        told = False
        for kind in (k for k in kinds if k != "down"):
            match carrier(target, kind):
                case "itself":
                    ended = [injected.pop(name, None) for name in INJECTED[kind]]
                    told |= any(value is not None for value in ended)
                case "proxy":
                    for proxy in self._proxies(lab, target):
                        if kind == "hung":
                            proxy.black_hole(False)
                        else:
                            proxy.latency(0)
                case None:
                    pass
        if not injected:
            lab.injected.pop(target, None)
        if told and self.supervisor.alive(lab.process(target)):
            return self._tell(lab, target)
        return None

    def _kill(self, lab: VariantLab, target: str) -> None:
        """A real death: SIGKILL for a service, a refusing proxy for the broker and Redis."""
        meter = self.meters[lab.name]
        exclusive = lab.config.queue and lab.config.topology.exclusive
        if target == WORKER:
            self.supervisor.kill(lab.process(WORKER))
            if lab.config.knobs.consumer.ack == "auto":
                meter.expect_loss(losses.AUTO_ACK_DIED, self.clock())
            elif exclusive:
                meter.expect_loss(losses.EXCLUSIVE_GONE, self.clock())
            return
        for proxy in self._proxies(lab, target):
            proxy.down()
        if target in HTTP_SERVICES:
            self.supervisor.kill(lab.process(target))
        if target == "author" and lab.config.queue:
            meter.expect_loss(losses.NEVER_ARRIVED, self.clock())
        elif target == "redis":
            forget_cache(lab, self.redis_url)  # a cache comes back empty
        elif target == "broker" and exclusive:  # the worker's connection is cut: its queue goes with it
            meter.expect_loss(losses.EXCLUSIVE_GONE, self.clock())

    def _revive(self, lab: VariantLab, target: str) -> str | None:
        if target != WORKER:
            for proxy in self._proxies(lab, target):
                proxy.up()
        if target not in (*HTTP_SERVICES, WORKER):
            return None
        try:
            self.supervisor.revive(lab.process(target))
        except SupervisorError as exc:
            return f"{target} did not come back: {exc}"
        self.meters[lab.name].forget(target)  # its counters start from zero in the new process
        if lab.injected.get(target):
            return self._tell(lab, target)
        return None

    @staticmethod
    def _proxies(lab: VariantLab, target: str) -> list[FaultProxy]:
        """The fault proxies a target names in one variant: a service's, Redis's, or broker nodes'."""
        return lab.node_proxies(target) if target.startswith("broker") else [lab.proxies[target]]

    def _inject(self, lab: VariantLab, service: str, **faults: Any) -> str | None:
        """Faults a service injects itself: an error rate; the worker's latency and hang."""
        lab.injected.setdefault(service, {}).update(faults)
        return self._tell(lab, service)

    def _tell(self, lab: VariantLab, service: str) -> str | None:
        """Send a service the faults it injects itself, on its own port (not through its proxy)."""
        try:
            self._http.post(f"http://127.0.0.1:{lab.ports[service]}/internal/faults",
                            json=HEALTHY | lab.injected.get(service, {}))
        except httpx.HTTPError:
            return f"{service} is not running; its faults apply once it is revived"
        return None

    def _publish_poison(self, lab: VariantLab, count: int) -> None:
        """Malformed messages, published as any outside producer would: straight to the variant's queue."""
        connection = connect(self.rabbitmq_urls, name="post-office-lab-poison")
        meter = self.meters[lab.name]
        try:
            channel = connection.channel()
            channel.confirm_delivery()
            for n in range(meter.published_outside + 1, meter.published_outside + count + 1):
                channel.basic_publish("", lab.config.invalidation_queue, POISON_BODY,
                                      BasicProperties(delivery_mode=DeliveryMode.Persistent,
                                                      message_id=f"poison-{n}"))
        finally:
            connection.close()
        lab.measurements.count(self.clock(), "msg.published", count)
        meter.published_outside += count

    def close(self) -> None:
        self._timers.cancel_all()
        self._http.close()
