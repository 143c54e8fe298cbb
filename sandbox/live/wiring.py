"""One variant of the live lab, wired: its ports, fault proxies, configuration, queue policy, processes and load.

Per variant: author, blog, user and (queue) cache-worker as their own processes, each HTTP service behind a
fault proxy, and the variant's AMQP and Redis connections through proxies of their own — so a fault hits one
variant only. A broker of three nodes gets a proxy per node (`broker-1` to `broker-3`), and every client of the
variant is given the three in that order; a cluster's queue is declared through broker-1, where it lives (a classic
queue) or has its first leader (a quorum queue), and the lab waits until a quorum queue has a serving member on
every node (cluster.py). Its queues and Redis keys carry names of their own (a suffix and a
prefix with the run's id), written down in the run's record before they exist (runs.py); the standing lab's queue
variant uses the exact names, `cache-invalidation` and friends.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pika
import pika.exceptions
import redis

from sandbox.live.load import LoadGenerator
from sandbox.live.processes.ports import free_port
from sandbox.live.processes.supervisor import ServiceSpec, Supervisor, python_module
from sandbox.live.proxy import FaultProxy
from sandbox.live.rabbitmq.broker import connect
from sandbox.live.rabbitmq.policies import Policies, PolicyUnavailable, QueuePolicy, invalidation_policy
from sandbox.live.servers import through
from sandbox.live.services.cache import BlogCache
from sandbox.live.services.config import ServiceConfig
from sandbox.live.store import Database
from sandbox.model.knobs import Knobs
from sandbox.model.measurements import Measurements
from sandbox.model.scenario import Variant

HTTP_SERVICES = ("user", "blog", "author")
SERVICES = (*HTTP_SERVICES, "cache-worker")
MAX_CLIENT_THREADS = 512


@dataclass
class VariantLab:
    """One variant's running parts."""

    variant: Variant
    config: ServiceConfig
    ports: dict[str, int]
    proxies: dict[str, FaultProxy]
    db: Database
    cache: BlogCache
    load: LoadGenerator
    policy: QueuePolicy | None = None
    measurements: Measurements = field(default_factory=Measurements)
    injected: dict[str, dict[str, Any]] = field(default_factory=dict)
    """What each service injects itself (/internal/faults), kept to tell a revived process again."""

    @property
    def name(self) -> str:
        return self.variant.name

    def node_proxies(self, target: str) -> list[FaultProxy]:
        """The broker proxies a target names: `broker` every node's, `broker-N` node N's."""
        if target == "broker":
            return [proxy for name, proxy in self.proxies.items() if name.startswith("broker")]
        return [self.proxies[target]]

    def process(self, service: str) -> str:
        """The supervisor's name for one of this variant's services."""
        return f"{self.name}:{service}"


@dataclass(frozen=True)
class Site:
    """What every variant of one lab shares: the servers, the supervisor, a folder, the run's names."""

    rabbitmq_urls: tuple[str, ...]  # the broker's nodes, in the order clients try them
    owns_nodes: bool  # the nodes are the lab's own (cluster.py), deleted with everything on them
    redis_url: str
    supervisor: Supervisor
    workdir: Path
    run_id: str
    standing: bool
    seed: int
    duration_s: float
    policies: Policies
    broker_version: str | None
    remember: Callable[[ServiceConfig], None]
    """Writes a variant's names into the run's record before they exist."""
    await_members: Callable[[str], None] | None = None
    """Waits until a quorum queue has a serving member on every node of the lab's own cluster."""

    @property
    def rabbitmq_url(self) -> str:
        return self.rabbitmq_urls[0]

    @property
    def node_names(self) -> tuple[str, ...]:
        """The proxies' names for the broker's nodes."""
        if len(self.rabbitmq_urls) == 1:
            return ("broker",)
        return tuple(f"broker-{n}" for n in range(1, len(self.rabbitmq_urls) + 1))


def upstream(url: str, default_port: int) -> tuple[str, int]:
    """The host and port a proxy forwards to for a server URL."""
    parts = urlsplit(url)
    return parts.hostname or "127.0.0.1", parts.port or default_port


def wire(site: Site, variant: Variant, knobs: Knobs) -> tuple[VariantLab, str]:
    """Start one variant; return it and a warning ("" when none): a policy the broker would not take."""
    ports = {name: free_port() for name in SERVICES}
    upstreams = {name: ("127.0.0.1", ports[name]) for name in HTTP_SERVICES}
    upstreams |= {name: upstream(url, 5672) for name, url in zip(site.node_names, site.rabbitmq_urls, strict=True)}
    upstreams |= {"redis": upstream(site.redis_url, 6379)}
    proxies = {name: FaultProxy(address, listen_port=free_port(), name=f"{variant.name}/{name}").start()
               for name, address in upstreams.items()}
    brokers = [through(url, proxies[name].port) for name, url in zip(site.node_names, site.rabbitmq_urls, strict=True)]
    config = ServiceConfig(
        variant=variant.name, architecture=variant.architecture,
        **{f"{name}_url": f"http://127.0.0.1:{proxies[name].port}" for name in HTTP_SERVICES},
        rabbitmq_url=brokers[0], rabbitmq_other_nodes=tuple(brokers[1:]),
        redis_url=through(site.redis_url, proxies["redis"].port),
        database=str(site.workdir / f"{variant.name}.sqlite3"),
        redis_prefix=f"lab:{site.run_id}:{variant.name}:",
        queue_suffix="" if site.standing else f".{site.run_id}.{variant.name}",
        knobs=knobs,
    )
    site.remember(config)
    db = Database(config.database)
    cache = BlogCache(redis.Redis.from_url(site.redis_url, socket_timeout=1.0), config.redis_prefix)
    lab = VariantLab(variant, config, ports, proxies, db, cache, _load(site, config, knobs, db))
    warning = ""
    try:
        if config.queue:  # before its queue is first declared; the policy is the owner's, deleted with the queue
            lab.policy = invalidation_policy(config.topology, knobs.consumer.delivery_limit, site.broker_version,
                                             knobs.broker.max_length, knobs.broker.overflow)
            try:
                site.policies.set(lab.policy)
            except PolicyUnavailable as exc:
                warning = f"{variant.name}: {exc}; its queue has no dead-letter exchange or delivery limit"
            if len(site.rabbitmq_urls) > 1 and not config.topology.exclusive:
                _declare_on_first_node(site, config)
        for name in SERVICES if config.queue else HTTP_SERVICES:
            site.supervisor.start(ServiceSpec(lab.process(name), python_module("sandbox.live.services", name),
                                              env=config.env(ports[name]), port=ports[name]))
        if config.mailer:
            site.supervisor.start(ServiceSpec(lab.process("mailer"), python_module("sandbox.live.services.mailer"),
                                              env=config.env()))
    except BaseException:
        unwire(site, lab)
        raise
    return lab, warning


def _declare_on_first_node(site: Site, config: ServiceConfig) -> None:
    """The variant's queues, declared through broker-1 itself: a classic queue lives where it was declared."""
    connection = connect(site.rabbitmq_url, timeout_s=5.0, name=f"{config.variant}-topology")
    try:
        config.topology.declare(connection.channel())
    finally:
        connection.close()
    if config.topology.queue_type == "quorum" and site.await_members is not None:
        site.await_members(config.topology.queue)


def _load(site: Site, config: ServiceConfig, knobs: Knobs, db: Database) -> LoadGenerator:
    """The variant's clients, as the scenario's load asks."""
    rates = asdict(knobs.load)
    rate_per_s = sum(rates.values())
    # enough client threads for every request that can be open at once, up to the client's timeout:
    # with fewer, requests queue inside the load generator and the author never sees them
    client = knobs.client
    threads = min(MAX_CLIENT_THREADS, max(32, int(rate_per_s * (client.timeout_s or site.duration_s)) + 1))
    return LoadGenerator(
        config.blog_url, config.author_url, config.user_url,
        **rates, timeout_s=client.timeout_s, client_retries=client.retries, client_backoff_ms=client.backoff_ms,
        max_requests=int(site.duration_s * rate_per_s * 10) + 1000,
        max_duration_s=site.duration_s + 1, seed=site.seed, db_version=db.version, threads=threads)


def forget_cache(lab: VariantLab, redis_url: str, everything: bool = False) -> None:
    """Delete the variant's keys in Redis, as a restarted cache would have lost them; the count of messages
    the worker handled stays, unless `everything`."""
    client = redis.Redis.from_url(redis_url, socket_timeout=2)
    try:
        keys = [key for key in client.scan_iter(match=f"{lab.config.redis_prefix}*")
                if everything or key != lab.config.handled_key.encode()]
        if keys:
            client.unlink(*keys)
    finally:
        client.close()


def unwire(site: Site, lab: VariantLab) -> None:
    """Stop the variant's proxies; delete its keys, queues and policy; close its database (its processes are the
    supervisor's to stop)."""
    for proxy in lab.proxies.values():
        proxy.stop()
    with contextlib.suppress(redis.RedisError):
        forget_cache(lab, site.redis_url, everything=True)
    lab.cache.client.close()
    lab.db.close()
    if not lab.config.queue or site.owns_nodes:  # the lab's own nodes go with everything on them
        return
    with contextlib.suppress(pika.exceptions.AMQPError):
        connection = pika.BlockingConnection(pika.URLParameters(site.rabbitmq_url))
        try:
            channel = connection.channel()
            lab.config.topology.delete(channel, (lab.config.directory_queue, lab.config.mailer_queue))
            channel.exchange_delete(lab.config.post_exchange)
        finally:
            connection.close()
    if lab.policy is not None:
        site.policies.clear(lab.policy)


def names(config: ServiceConfig) -> tuple[list[str], list[str], list[str]]:
    """The queues, exchanges and policies a variant declares on the broker."""
    if not config.queue:
        return [], [], []
    topology = config.topology
    queues = [topology.queue, topology.dead_letter_queue, config.directory_queue]
    queues += topology.retry_queues
    exchanges = [topology.dead_letter_exchange, config.user_exchange]
    if config.mailer:
        queues.append(config.mailer_queue)
        exchanges.append(config.post_exchange)
    if topology.retry_queues:
        exchanges.append(topology.retry_return_exchange)
    return queues, exchanges, [invalidation_policy(topology, 0, None).name]
