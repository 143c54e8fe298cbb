"""Turning the timeline's commands into faults on one variant's real parts.

A service dies by SIGKILL and comes back on the same port; the fault proxies in front of every service, the
broker and Redis refuse, delay or swallow connections; a service injects errors itself, and the cache-worker
also latency and a hang (told on /internal/faults). Each fault that may lose messages tells the variant's
meter the likely cause, for the census to file what it finds. `restart broker` for every variant is the
local node's (node.py).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any, assert_never

import httpx
import pika

from sandbox.live.meter import Meter
from sandbox.live.supervisor import Supervisor, SupervisorError
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
from sandbox.model.scenario import LOAD_FIELDS

POISON_BODY = b'{"action": "invalidateCache", "keys": '  # cut short: not JSON
HEALTHY = {"error_rate": 0.0, "latency_ms": 0.0, "jitter_ms": 0.0, "hung": False}
WORKER = "cache-worker"


class FaultInjector:
    def __init__(self, supervisor: Supervisor, meters: dict[str, Meter], rabbitmq_url: str, redis_url: str,
                 clock: Callable[[], float]):
        self.supervisor = supervisor
        self.meters = meters
        self.rabbitmq_url = rabbitmq_url
        self.redis_url = redis_url
        self.clock = clock
        self._http = httpx.Client(timeout=1.0)
        self._timers: list[threading.Timer] = []

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
        target = "broker" if command.target == "broker-1" else command.target  # one node: broker-1 is the broker
        if target.startswith("broker-"):
            return f"no {target} in the live lab's one-node broker; `{command.verb}` does nothing"
        if target in ("broker", WORKER) and not lab.config.queue:
            return f"no {target} in a sync variant; `{command.verb}` does nothing"
        match command:
            case Restart(down_s=down_s):
                self._kill(lab, target)
                self._later(down_s, self._revive, lab, target)
                return None
            case Kill():
                self._kill(lab, target)
                return None
            case Revive():
                return self._revive(lab, target)
            case Hang():
                if target == WORKER and not self.supervisor.alive(lab.process(WORKER)):
                    return f"{target} is down; revive it before it can hang"
                if target == WORKER:
                    return self._inject(lab, target, hung=True)
                lab.proxies[target].black_hole()
                return None
            case Heal():
                return self._heal(lab, target)
            case Latency(ms=ms, jitter_ms=jitter_ms):
                if target == WORKER:
                    return self._inject(lab, target, latency_ms=ms, jitter_ms=jitter_ms)
                lab.proxies[target].latency(ms, jitter_ms, direction="upstream")
                return None
            case Errors(rate=rate):
                if target not in (*HTTP_SERVICES, WORKER):
                    return (f"`errors` on {target} is not available in the live lab "
                            "(its fault proxy speaks TCP, not HTTP)")
                if target == WORKER and lab.config.knobs.consumer.ack == "auto":
                    self.meters[lab.name].expect_loss(losses.AUTO_ACK_FAILED, None)
                return self._inject(lab, target, error_rate=rate)
            case _:
                assert_never(command)

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
        lab.proxies[target].down()
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
            lab.proxies[target].up()
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

    def _heal(self, lab: VariantLab, target: str) -> str | None:
        """Clear latency, errors and a hang; a killed part stays down until revived."""
        if target != WORKER:
            lab.proxies[target].heal()
        if lab.injected.pop(target, None) and self.supervisor.alive(lab.process(target)):
            return self._tell(lab, target)
        return None

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
        connection = pika.BlockingConnection(pika.URLParameters(self.rabbitmq_url))
        meter = self.meters[lab.name]
        try:
            channel = connection.channel()
            channel.confirm_delivery()
            for n in range(meter.published_outside + 1, meter.published_outside + count + 1):
                channel.basic_publish("", lab.config.invalidation_queue, POISON_BODY,
                                      pika.BasicProperties(delivery_mode=pika.DeliveryMode.Persistent,
                                                           message_id=f"poison-{n}"))
        finally:
            connection.close()
        lab.measurements.count(self.clock(), "msg.published", count)
        meter.published_outside += count

    def _later(self, delay_s: float, action: Callable[..., Any], *args: Any) -> None:
        timer = threading.Timer(delay_s, action, args)
        timer.daemon = True
        self._timers.append(timer)
        timer.start()

    def close(self) -> None:
        for timer in self._timers:
            timer.cancel()
        self._http.close()
