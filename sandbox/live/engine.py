"""The live engine: a scenario's variants on real processes, real RabbitMQ, real Redis and real HTTP.

Per variant: author, blog, user and (queue) cache-worker as their own processes, each HTTP service
behind a fault proxy, and the variant's AMQP and Redis connections through proxies of their own — so a
fault hits one variant only. The load generator drives the proxies; once a second the engine reads
queue depths, cache staleness and the services' counters, and files everything in the same
Measurements the simulation fills. Lost messages the services cannot see themselves are found by a
census of where every message is (sandbox/live/census.py).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import tempfile
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import assert_never
from urllib.parse import urlsplit

import httpx
import pika
import redis

from sandbox.live.broker import dead_letter_names, delete_topology
from sandbox.live.census import Census, LostMessages
from sandbox.live.load import LoadGenerator
from sandbox.live.ports import free_port
from sandbox.live.probes import QueueProbe
from sandbox.live.proxy import FaultProxy
from sandbox.live.servers import (
    check_rabbitmq,
    checked_management_url,
    checked_rabbitmq_url,
    checked_redis_url,
    redis_or_fake,
    through,
)
from sandbox.live.servers import management_url as default_management_url
from sandbox.live.servers import rabbitmq_url as default_rabbitmq_url
from sandbox.live.servers import redis_url as default_redis_url
from sandbox.live.services.cache import BlogCache
from sandbox.live.services.config import ServiceConfig
from sandbox.live.store import Database
from sandbox.live.supervisor import ServiceSpec, Supervisor, SupervisorError, python_module
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
)
from sandbox.model.measurements import Measurements
from sandbox.model.scenario import LOAD_FIELDS, Scenario, Variant
from sandbox.model.status import Component, Edge, VariantStatus, health

HTTP_SERVICES = ("user", "blog", "author")
POISON_BODY = b'{"action": "invalidateCache", "keys": '  # cut short: not JSON
# the counters a service keeps in /metrics, and the metric each one feeds
COUNTED = {"author": {"published": "msg.published", "lost": "msg.lost"},
           "blog": {"cache_hits": "cache.hits", "cache_misses": "cache.misses"},
           "cache-worker": {"redelivered": "msg.redelivered", "dead_lettered": "msg.dead_lettered"}}
TICK_S = 0.05
RECOUNTS = 4  # a census that comes up short is taken again at once, at most this many times
MAX_CLIENT_THREADS = 512


def _rabbitmqctl(*args: str) -> bool:
    try:
        return subprocess.run(["rabbitmqctl", "-q", "--timeout", "60", *args], capture_output=True,
                              timeout=90).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False


def _start_node() -> None:
    if _rabbitmqctl("start_app"):
        _rabbitmqctl("await_startup")


def _restarts_the_broker(command: Command) -> bool:
    """`restart broker` for every variant: the one command that restarts the RabbitMQ node itself."""
    return isinstance(command, Restart) and command.target == "broker" and command.variant is None


def _address(url: str, default_port: int) -> tuple[str, int]:
    parts = urlsplit(url)
    return parts.hostname or "127.0.0.1", parts.port or default_port


@dataclass
class _Lab:
    """One variant's running parts."""

    variant: Variant
    config: ServiceConfig
    ports: dict[str, int]
    proxies: dict[str, FaultProxy]
    db: Database
    cache: BlogCache
    load: LoadGenerator
    measurements: Measurements = field(default_factory=Measurements)
    counters: dict[str, int] = field(default_factory=dict)
    metrics: dict[str, dict] = field(default_factory=dict)
    faults: dict[str, dict[str, float]] = field(default_factory=dict)  # what each service injects itself
    staleness_peak_s: float = 0.0  # the highest staleness read this second (read every tick)
    published_outside: int = 0  # messages the engine published straight to the queue (poison)
    lost: LostMessages = field(default_factory=LostMessages)
    counted_lost: int = 0  # losses the author counted as they happened
    handled: int = 0  # the cache-worker's count of messages handled, as last read from Redis
    duplicates: int = 0  # posts saved twice by a client's retry, as last read from the database
    suspect: tuple[str, float | None] | None = None  # the likely cause of the next loss found, and when


class LiveEngine:
    name = "live"

    def __init__(self, scenario: Scenario, seed: int | None = None, *, rabbitmq_url: str | None = None,
                 redis_url: str | None = None, management_url: str | None = None, workdir: Path | None = None,
                 standing: bool = False):
        """`standing`: the lab of `python -m sandbox lab up`, whose queue variant uses the exact queue name
        `cache-invalidation` so outside producers reach it (only one such lab may run on a broker)."""
        self.scenario = scenario
        self._standing = standing
        self.seed = scenario.seed if seed is None else seed
        self.rabbitmq_url = checked_rabbitmq_url(rabbitmq_url) if rabbitmq_url else default_rabbitmq_url()
        self.management_url = checked_management_url(management_url) if management_url else default_management_url()
        redis_url = checked_redis_url(redis_url) if redis_url else default_redis_url()
        check_rabbitmq(self.rabbitmq_url)
        self.redis = redis_or_fake(redis_url)
        self._lines: list[tuple[float, str, str]] = []
        self._run_id = uuid.uuid4().hex[:8]
        self._own_workdir = workdir is None
        self.workdir = Path(workdir or tempfile.mkdtemp(prefix="post-office-lab-"))
        self.supervisor = Supervisor(self.workdir / "logs")
        self._probe = httpx.Client(timeout=1.0)
        self._queues = QueueProbe(self.rabbitmq_url, self.management_url)
        self._timers: list[threading.Timer] = []
        self.labs: dict[str, _Lab] = {}
        self._closed = False
        self._node_control: bool | None = None
        self._node_commands = ThreadPoolExecutor(max_workers=1, thread_name_prefix="rabbitmqctl")
        self._t0 = time.monotonic()
        self._closed_s = 0
        if self.redis.note:
            self._log("", self.redis.note)
        if any(_restarts_the_broker(c) for c in scenario.timeline):
            self.controls_broker_node()
        try:
            for variant in scenario.variants:
                self.labs[variant.name] = self._start_variant(variant)
        except BaseException:
            self.close()
            raise
        self._t0 = time.monotonic()
        for lab in self.labs.values():
            lab.load.start(self._t0)

    # starting -----------------------------------------------------------------

    def _start_variant(self, variant: Variant) -> _Lab:
        knobs = self.scenario.knobs_at_start(variant)
        ports = {name: free_port() for name in (*HTTP_SERVICES, "cache-worker")}
        upstreams = {name: ("127.0.0.1", ports[name]) for name in HTTP_SERVICES}
        upstreams |= {"broker": _address(self.rabbitmq_url, 5672), "redis": _address(self.redis.url, 6379)}
        proxies = {name: FaultProxy(upstream, listen_port=free_port(), name=f"{variant.name}/{name}").start()
                   for name, upstream in upstreams.items()}
        config = ServiceConfig(
            variant=variant.name, architecture=variant.architecture,
            **{f"{name}_url": f"http://127.0.0.1:{proxies[name].port}" for name in HTTP_SERVICES},
            rabbitmq_url=through(self.rabbitmq_url, proxies["broker"].port),
            redis_url=through(self.redis.url, proxies["redis"].port),
            database=str(self.workdir / f"{variant.name}.sqlite3"),
            redis_prefix=f"lab:{self._run_id}:{variant.name}:",
            queue_suffix="" if self._standing else f".{self._run_id}.{variant.name}",
            knobs=knobs,
        )
        services = [*HTTP_SERVICES, "cache-worker"] if config.queue else list(HTTP_SERVICES)
        for name in services:
            self.supervisor.start(ServiceSpec(f"{variant.name}:{name}", python_module("sandbox.live.services", name),
                                              env=config.env(ports[name]), port=ports[name]))
        db = Database(config.database)
        duration_s = self.scenario.duration_s
        rates = {field: knobs.get(f"load.{field}") for field in LOAD_FIELDS}
        rate_per_s = sum(rates.values())
        # enough client threads for every request that can be open at once, up to the client's timeout:
        # with fewer, requests queue inside the load generator and the author never sees them
        client = knobs.client
        threads = min(MAX_CLIENT_THREADS, max(32, int(rate_per_s * (client.timeout_s or duration_s)) + 1))
        load = LoadGenerator(
            config.blog_url, config.author_url, config.user_url,
            **rates, timeout_s=client.timeout_s, client_retries=client.retries, client_backoff_ms=client.backoff_ms,
            max_requests=int(duration_s * rate_per_s * 10) + 1000,
            max_duration_s=duration_s + 1, seed=self.seed, db_version=db.version, threads=threads)
        cache = BlogCache(redis.Redis.from_url(self.redis.url, socket_timeout=1.0), config.redis_prefix)
        return _Lab(variant, config, ports, proxies, db, cache, load)

    # the contract -------------------------------------------------------------

    @property
    def now(self) -> float:
        return time.monotonic() - self._t0

    def _log(self, variant: str, text: str) -> None:
        self._lines.append((round(self.now, 3), variant, text))

    def log(self) -> list[tuple[float, str, str]]:
        return list(self._lines)

    def apply(self, command: Command) -> list[str]:
        notes = []
        if isinstance(command, Restart) and _restarts_the_broker(command):
            if self.controls_broker_node():
                self._restart_node(command)
            else:
                notes.append(self._no_node_restart)
        for name, lab in self.labs.items():
            if command.variant is None or command.variant == name:
                note = self._apply(lab, command)
                if note:
                    notes.append(f"{name}: {note}")
                else:
                    self._log(name, command.describe())
        return notes

    def controls_broker_node(self) -> bool:
        """A RabbitMQ node on this machine that rabbitmqctl controls: broker faults then restart it for real."""
        if self._node_control is None:
            host = urlsplit(self.rabbitmq_url).hostname
            self._node_control = host in ("127.0.0.1", "localhost") and shutil.which("rabbitmqctl") is not None \
                and _rabbitmqctl("status")
            if self._node_control:
                self._log("", "the lab controls the local RabbitMQ node: `restart broker` stops and starts it")
            else:
                self._log("", self._no_node_restart)
        return self._node_control

    @property
    def _no_node_restart(self) -> str:
        """What `restart broker` does when the lab cannot restart the node (a broker in another container, say)."""
        host = urlsplit(self.rabbitmq_url).hostname or "127.0.0.1"
        return (f"the lab does not control the RabbitMQ node at {host} (that takes a node on 127.0.0.1 or localhost "
                "and rabbitmqctl), so `restart broker` only cuts every connection at the proxies: the node keeps "
                "its queues and messages, and nothing a real restart loses is lost")

    def _restart_node(self, action: Restart) -> None:
        """`restart broker`: stop the node's app (what is not durable and persistent is gone), start it again.

        The commands run one after another on their own thread, so a slow stop (seconds, while it closes
        connections) does not hold up the clock; the proxies have cut every connection at once already.
        `kill broker` only cuts the connections: the node and its queues stay as they are."""
        self._node_commands.submit(_rabbitmqctl, "stop_app")
        for lab in self.labs.values():
            if lab.config.queue and not lab.config.knobs.broker.durable:
                lab.suspect = (losses.TRANSIENT_QUEUE, self.now)
            elif lab.config.queue and not lab.config.knobs.broker.persistent:
                lab.suspect = (losses.TRANSIENT_MESSAGE, self.now)
        timer = threading.Timer(action.down_s, self._node_commands.submit, (_start_node,))
        timer.daemon = True
        self._timers.append(timer)
        timer.start()

    def _apply(self, lab: _Lab, action: Command) -> str | None:
        match action:
            case Load():
                lab.load.set_rates(action.reads_per_s, action.writes_per_s)
                return None
            case Set(key=key, value=value):
                field_name = key.removeprefix("load.")
                if field_name in LOAD_FIELDS:
                    lab.load.set_rates(**{field_name: value})
                    return None
                if lab.config.knobs.get(key) == value:
                    return None  # a `set` at 0 s: the services started with it
                return (f"the live lab cannot change {key} while it runs; set it at 0 s or in the scenario's "
                        "knobs")
            case Poison(count=count):
                if not lab.config.queue:
                    return "no broker in a sync variant; poison does nothing"
                self._publish_raw(lab, [POISON_BODY] * count)
                return None
            case Kill() | Revive() | Restart() | Hang() | Heal() | Latency() | Errors():
                return self._fault(lab, action)
            case _:
                assert_never(action)

    def _fault(self, lab: _Lab, action: Kill | Revive | Restart | Hang | Heal | Latency | Errors) -> str | None:
        verb, target = action.verb, action.target
        if target in ("broker", "cache-worker") and not lab.config.queue:
            return f"no {target} in a sync variant; `{verb}` does nothing"
        if isinstance(action, Restart):
            self._apply(lab, Kill(target))
            timer = threading.Timer(action.down_s, self._apply, (lab, Revive(target)))
            timer.daemon = True
            self._timers.append(timer)
            timer.start()
            return None
        if isinstance(action, Errors) and target in (*HTTP_SERVICES, "cache-worker"):
            lab.faults.setdefault(target, {})["error_rate"] = action.rate
            if target == "cache-worker" and lab.config.knobs.consumer.ack == "auto":
                lab.suspect = (losses.AUTO_ACK_FAILED, None)
            return self._send_faults(lab, target)
        if isinstance(action, Latency) and target == "cache-worker":
            lab.faults.setdefault(target, {}).update(latency_ms=action.ms, jitter_ms=action.jitter_ms or 0.0)
            return self._send_faults(lab, target)
        if verb == "heal" and lab.faults.pop(target, None):
            self._send_faults(lab, target)
        if target == "cache-worker":
            return self._fault_worker(lab, verb)
        if verb == "kill" and target == "author" and lab.config.queue:
            lab.suspect = (losses.NEVER_ARRIVED, self.now)
        return self._fault_through_proxy(lab, target, action)

    def _send_faults(self, lab: _Lab, service: str) -> str | None:
        """Tell a service the faults to inject itself (an error rate; the worker's latency), on its own port."""
        faults = dict.fromkeys(("error_rate", "latency_ms", "jitter_ms"), 0.0) | lab.faults.get(service, {})
        try:
            self._probe.post(f"http://127.0.0.1:{lab.ports[service]}/internal/faults", json=faults)
        except httpx.HTTPError:
            return f"{service} is not running; its faults apply once it is revived"
        return None

    def _fault_worker(self, lab: _Lab, verb: str) -> str | None:
        name = f"{lab.variant.name}:cache-worker"
        process = self.supervisor.processes.get(name)
        if verb == "kill":
            self.supervisor.kill(name)
            if lab.config.knobs.consumer.ack == "auto":
                lab.suspect = (losses.AUTO_ACK_DIED, self.now)
        elif verb == "revive":
            return self._revive(lab, "cache-worker")
        elif verb == "hang" and process is not None and process.poll() is None:
            os.kill(process.pid, signal.SIGSTOP)  # a real hang: the process stops, its connection stays open
        elif verb == "heal":
            if process is not None and process.poll() is None:
                os.kill(process.pid, signal.SIGCONT)
        else:
            return f"`{verb}` on the cache-worker is not available in the live lab"
        return None

    def _fault_through_proxy(self, lab: _Lab, target: str,
                             action: Kill | Revive | Hang | Heal | Latency | Errors) -> str | None:
        proxy = lab.proxies[target]
        verb = action.verb
        if verb == "kill":
            proxy.down()
            if target in HTTP_SERVICES:
                self.supervisor.kill(f"{lab.variant.name}:{target}")
            elif target == "redis":
                self._forget_cache(lab)  # a cache comes back empty
        elif verb == "revive":
            proxy.up()
            if target in HTTP_SERVICES:
                return self._revive(lab, target)
        elif verb == "hang":
            proxy.black_hole()
        elif verb == "heal":
            proxy.heal()
        elif isinstance(action, Latency):
            proxy.latency(action.ms, action.jitter_ms, direction="upstream")
        else:
            return f"`{verb}` on {target} is not available in the live lab (its fault proxy speaks TCP, not HTTP)"
        return None

    def _revive(self, lab: _Lab, service: str) -> str | None:
        """Start a killed service again; its counters start from zero in the new process."""
        try:
            self.supervisor.revive(f"{lab.variant.name}:{service}")
        except SupervisorError as exc:
            return f"{service} did not come back: {exc}"
        for key in [k for k in lab.counters if k.startswith(f"{service}.")]:
            del lab.counters[key]
        if lab.faults.get(service):
            self._send_faults(lab, service)
        return None

    def _forget_cache(self, lab: _Lab, everything: bool = False) -> None:
        """Delete the variant's keys in Redis, as a restarted cache would have lost them; the lab's own count of
        messages handled stays, unless `everything`."""
        client = redis.Redis.from_url(self.redis.url, socket_timeout=2)
        try:
            keys = [key for key in client.scan_iter(match=f"{lab.config.redis_prefix}*")
                    if everything or key != lab.config.handled_key.encode()]
            if keys:
                client.unlink(*keys)
        finally:
            client.close()

    def _publish_raw(self, lab: _Lab, bodies: list[bytes]) -> None:
        """Publish bodies as any outside producer would: straight to the variant's queue."""
        connection = pika.BlockingConnection(pika.URLParameters(self.rabbitmq_url))
        try:
            channel = connection.channel()
            channel.confirm_delivery()
            for body in bodies:
                channel.basic_publish("", lab.config.invalidation_queue, body,
                                      pika.BasicProperties(delivery_mode=pika.DeliveryMode.Persistent))
        finally:
            connection.close()
        lab.measurements.count(self.now, "msg.published", len(bodies))
        lab.published_outside += len(bodies)

    def advance(self, seconds: float) -> None:
        """Let wall-clock time pass while the load runs, filing samples and reading gauges each second."""
        end = self.now + seconds
        while True:
            now = self.now
            for lab in self.labs.values():
                self._file_samples(lab)
                lab.staleness_peak_s = max(lab.staleness_peak_s, self._staleness_s(lab))
            while self._closed_s + 1 <= now:
                for lab in self.labs.values():
                    self._close_second(lab, self._closed_s)
                self._closed_s += 1
            if now >= end:
                return
            time.sleep(min(TICK_S, end - now))

    def _file_samples(self, lab: _Lab) -> None:
        m = lab.measurements
        for sample in lab.load.drain():
            if sample.kind == "read":
                stale = sample.ok and sample.version is not None and sample.committed is not None \
                    and sample.version < sample.committed
                m.read(sample.done_s, sample.latency_ms, sample.ok, stale)
            elif sample.kind == "write":
                m.write(sample.done_s, sample.latency_ms, sample.ok)

    def _close_second(self, lab: _Lab, second: int) -> None:
        """Read the second's gauges and counters; for a queue variant, in the order messages move (census.py)."""
        gauges: dict[str, float] = {"staleness.max_s": lab.staleness_peak_s, "queue.ready": 0, "queue.unacked": 0,
                                    "msg.in_flight": 0, "outbox.pending": 0}
        lab.staleness_peak_s = 0.0
        duplicates = lab.db.duplicate_posts()
        if duplicates > lab.duplicates:
            lab.measurements.count(second, "write.duplicates", duplicates - lab.duplicates)
            lab.duplicates = duplicates
        owed = lab.db.version() + lab.published_outside
        for name in HTTP_SERVICES:
            gauges |= self._read_service(lab, second, name)
        if not lab.config.queue:
            lab.measurements.close_second(second, gauges)
            return
        queue = lab.config.invalidation_queue
        outbox = lab.db.outbox_pending()
        ready = self._queues.ready(queue)
        gauges |= self._read_service(lab, second, "cache-worker")
        dead_lettered = self._queues.ready(dead_letter_names(queue)[1])
        handled = self._handled(lab)
        if handled is not None and handled > lab.handled:
            lab.measurements.count(second, "msg.consumed", handled - lab.handled)
            lab.handled = handled
        gauges |= {"queue.ready": ready or 0, "outbox.pending": outbox} | self._held_gauges(lab)
        lab.measurements.close_second(second, gauges)
        census = self._census(lab, owed, lab.metrics, outbox, ready, dead_lettered, handled)
        self._file_lost(lab, second, lab.lost.check(self._recounted(lab, census)))

    def _held_gauges(self, lab: _Lab) -> dict[str, float]:
        """queue.unacked and msg.in_flight, as the simulation counts them, from the second's /metrics.

        The worker knows exactly what it holds; the management API's count lags by its statistics interval
        (5 s by default), so it stands in only while the worker cannot answer (hung)."""
        held = self._in_process(lab, "cache-worker", "holding", lab.metrics["cache-worker"])
        publishing = self._in_process(lab, "author", "publishing", lab.metrics["author"]) or 0
        if lab.config.knobs.consumer.ack == "auto":  # acked on delivery: what the worker holds is in flight
            return {"queue.unacked": 0, "msg.in_flight": publishing + (held or 0)}
        unacked = self._queues.unacked(lab.config.invalidation_queue) if held is None else held
        return {"queue.unacked": unacked, "msg.in_flight": publishing}

    def _census(self, lab: _Lab, owed: int, metrics: dict[str, dict], outbox: int, ready: int | None,
                dead_lettered: int | None, handled: int | None) -> Census | None:
        """A census from counts read in the order messages move; None when some place could not be read."""
        publishing = self._in_process(lab, "author", "publishing", metrics["author"])
        held = self._in_process(lab, "cache-worker", "holding", metrics["cache-worker"])
        counts = (publishing, outbox, ready, held, dead_lettered, handled)
        return None if None in counts else Census(owed, *counts, counted_lost=lab.counted_lost)

    def _recounted(self, lab: _Lab, census: Census | None) -> Census | None:
        """`census`, or, while it comes up short, the best of up to RECOUNTS taken again at once: a message
        between two places turns up in one of them."""
        for _ in range(RECOUNTS):
            if census is None or census.missing <= lab.lost.found:
                return census
            again = self._recount(lab)
            if again is None:
                return None
            census = min(census, again, key=lambda c: c.missing)
        return census

    def _recount(self, lab: _Lab) -> Census | None:
        """A census read afresh, in the order messages move."""
        queue = lab.config.invalidation_queue
        owed = lab.db.version() + lab.published_outside
        metrics = {"author": self._metrics(lab, "author")}
        outbox = lab.db.outbox_pending()
        ready = self._queues.ready(queue)
        metrics["cache-worker"] = self._metrics(lab, "cache-worker")
        dead_lettered = self._queues.ready(dead_letter_names(queue)[1])
        return self._census(lab, owed, metrics, outbox, ready, dead_lettered, self._handled(lab))

    def _read_service(self, lab: _Lab, second: int, name: str) -> dict[str, float]:
        """A service's /metrics: its counters filed, its pool gauges returned."""
        metrics = self._metrics(lab, name)
        lab.metrics[name] = metrics
        for counter, metric in COUNTED.get(name, {}).items():
            self._count_delta(lab, second, name, counter, metric, metrics.get(counter))
        return {f"{name}.busy": metrics.get("busy", 0), f"{name}.waiting": metrics.get("waiting", 0)}

    def _in_process(self, lab: _Lab, service: str, gauge: str, metrics: dict) -> int | None:
        """A service's count of messages it holds, from its `metrics`: 0 when it is dead (they died with it),
        None when unknown."""
        if not self.supervisor.alive(f"{lab.variant.name}:{service}"):
            return 0
        value = metrics.get(gauge)
        return value if isinstance(value, int) else None

    def _handled(self, lab: _Lab) -> int | None:
        """The cache-worker's count of messages handled, from Redis (it outlives the worker); None unreadable."""
        try:
            return int(lab.cache.client.get(lab.config.handled_key) or 0)
        except redis.RedisError:
            return None

    def _file_lost(self, lab: _Lab, second: int, lost: int) -> None:
        """File messages the census found lost, at the moment of the fault that most likely lost them."""
        if not lost:
            return
        cause, at_s = lab.suspect or ("published, then neither queued nor consumed", None)
        lab.measurements.lose(second if at_s is None else at_s, cause, lost)

    def _count_delta(self, lab: _Lab, second: int, service: str, counter: str, metric: str,
                     value: int | None) -> None:
        if value is None:
            return
        key = f"{service}.{counter}"
        last = lab.counters.get(key, 0)
        delta = value - last
        lab.counters[key] = value
        if delta and metric == "msg.lost":
            drop = lab.config.knobs.publish.on_error == "drop"
            lab.measurements.lose(second, losses.DROPPED if drop else losses.WRITE_FAILED, delta)
            lab.counted_lost += delta
        elif delta:
            lab.measurements.count(second, metric, delta)

    def _metrics(self, lab: _Lab, service: str) -> dict:
        """A service's /metrics, read on its own port (behind the proxy, so faults do not blind the probe)."""
        if not self.supervisor.alive(f"{lab.variant.name}:{service}"):
            return {}
        try:
            return self._probe.get(f"http://127.0.0.1:{lab.ports[service]}/metrics").json()
        except (httpx.HTTPError, ValueError):
            return {}

    def _staleness_s(self, lab: _Lab) -> float:
        """Age of the oldest committed post the cached list does not show (0 when fresh or not cached)."""
        try:
            page = lab.cache.get()
        except redis.RedisError:
            return 0.0
        if page is None:
            return 0.0
        first_missing = lab.db.commit_time(page["version"] + 1)
        return 0.0 if first_missing is None else max(0.0, time.time() - first_missing)

    def frames(self) -> list[dict]:
        per_variant = {name: lab.measurements.frames() for name, lab in self.labs.items()}
        seconds = min((len(f) for f in per_variant.values()), default=0)
        return [{"t": t, "variant": name, **{k: v for k, v in frames[t].items() if k != "t"}}
                for t in range(seconds) for name, frames in per_variant.items()]

    def measurements(self, variant: str) -> Measurements:
        return self.labs[variant].measurements

    def status(self) -> dict[str, VariantStatus]:
        return {name: self._status(lab) for name, lab in self.labs.items()}

    def _status(self, lab: _Lab) -> VariantStatus:
        components = {}
        for name in (*HTTP_SERVICES, "cache-worker"):
            metrics = lab.metrics.get(name, {})
            busy, waiting, workers = metrics.get("busy", 0), metrics.get("waiting", 0), metrics.get("workers", 0)
            if name == "cache-worker" and not lab.config.queue:
                state = "absent"
            else:
                state = health(down=not self.supervisor.alive(f"{lab.variant.name}:{name}"), busy=busy,
                               workers=workers, waiting=waiting)
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
        return VariantStatus(
            variant=lab.variant.name, architecture=lab.variant.architecture, now_s=self.now,
            components=components, edges=tuple(edges),
            queue_ready=int(last.get("queue.ready") or 0), queue_unacked=int(last.get("queue.unacked") or 0),
            outbox_pending=int(last.get("outbox.pending") or 0), db_version=lab.db.version())

    def close(self) -> None:
        """Stop the load, every process and proxy; delete the variant queues and cache keys; idempotent.

        The measurements stay readable."""
        if self._closed:
            return
        self._closed = True
        for timer in self._timers:
            timer.cancel()
        if self._node_control:
            self._node_commands.submit(_start_node)  # never leave the node stopped
        self._node_commands.shutdown(wait=True)
        for lab in self.labs.values():
            lab.load.stop(wait_s=2)
        self.supervisor.close()
        for lab in self.labs.values():
            for proxy in lab.proxies.values():
                proxy.stop()
            with contextlib.suppress(redis.RedisError):
                self._forget_cache(lab, everything=True)
            lab.cache.client.close()
            lab.db.close()
            if lab.config.queue:
                self._delete_queues(lab)
        self._probe.close()
        self._queues.close()
        self.redis.close()
        if self._own_workdir:
            shutil.rmtree(self.workdir, ignore_errors=True)

    def _delete_queues(self, lab: _Lab) -> None:
        with contextlib.suppress(pika.exceptions.AMQPError):
            connection = pika.BlockingConnection(pika.URLParameters(self.rabbitmq_url))
            try:
                delete_topology(connection.channel(), lab.config.invalidation_queue, lab.config.user_exchange,
                                (lab.config.directory_queue,))
            finally:
                connection.close()
