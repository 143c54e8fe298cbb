"""One variant of the live lab, wired: its ports, fault proxies, configuration, queue policy, processes and load.

Per variant: author, blog, user and (queue) cache-worker as their own processes, each HTTP service behind a
fault proxy, and the variant's AMQP and Redis connections through proxies of their own — so a fault hits one
variant only. Its queues and Redis keys carry names of their own (a suffix and a prefix with the run's id);
the standing lab's queue variant uses the exact names, `cache-invalidation` and friends.
"""

from __future__ import annotations

import contextlib
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pika
import pika.exceptions
import redis

from sandbox.live.load import LoadGenerator
from sandbox.live.policies import Policies, PolicyUnavailable, QueuePolicy, invalidation_policy
from sandbox.live.ports import free_port
from sandbox.live.proxy import FaultProxy
from sandbox.live.servers import through
from sandbox.live.services.cache import BlogCache
from sandbox.live.services.config import ServiceConfig
from sandbox.live.store import Database
from sandbox.live.supervisor import ServiceSpec, Supervisor, python_module
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

    def process(self, service: str) -> str:
        """The supervisor's name for one of this variant's services."""
        return f"{self.name}:{service}"


@dataclass(frozen=True)
class Site:
    """What every variant of one lab shares: the servers, the supervisor, a folder, the run's names."""

    rabbitmq_url: str
    redis_url: str
    supervisor: Supervisor
    workdir: Path
    run_id: str
    standing: bool
    seed: int
    duration_s: float
    policies: Policies
    broker_version: str | None


def upstream(url: str, default_port: int) -> tuple[str, int]:
    """The host and port a proxy forwards to for a server URL."""
    parts = urlsplit(url)
    return parts.hostname or "127.0.0.1", parts.port or default_port


def wire(site: Site, variant: Variant, knobs: Knobs) -> tuple[VariantLab, str]:
    """Start one variant; return it and a warning ("" when none): a policy the broker would not take."""
    ports = {name: free_port() for name in SERVICES}
    upstreams = {name: ("127.0.0.1", ports[name]) for name in HTTP_SERVICES}
    upstreams |= {"broker": upstream(site.rabbitmq_url, 5672), "redis": upstream(site.redis_url, 6379)}
    proxies = {name: FaultProxy(address, listen_port=free_port(), name=f"{variant.name}/{name}").start()
               for name, address in upstreams.items()}
    config = ServiceConfig(
        variant=variant.name, architecture=variant.architecture,
        **{f"{name}_url": f"http://127.0.0.1:{proxies[name].port}" for name in HTTP_SERVICES},
        rabbitmq_url=through(site.rabbitmq_url, proxies["broker"].port),
        redis_url=through(site.redis_url, proxies["redis"].port),
        database=str(site.workdir / f"{variant.name}.sqlite3"),
        redis_prefix=f"lab:{site.run_id}:{variant.name}:",
        queue_suffix="" if site.standing else f".{site.run_id}.{variant.name}",
        knobs=knobs,
    )
    db = Database(config.database)
    cache = BlogCache(redis.Redis.from_url(site.redis_url, socket_timeout=1.0), config.redis_prefix)
    lab = VariantLab(variant, config, ports, proxies, db, cache, _load(site, config, knobs, db))
    warning = ""
    try:
        if config.queue:  # before its queue is first declared; the policy is the owner's, deleted with the queue
            lab.policy = invalidation_policy(config.topology, knobs.consumer.delivery_limit, site.broker_version)
            try:
                site.policies.set(lab.policy)
            except PolicyUnavailable as exc:
                warning = f"{variant.name}: {exc}; its queue has no dead-letter exchange or delivery limit"
        for name in SERVICES if config.queue else HTTP_SERVICES:
            site.supervisor.start(ServiceSpec(lab.process(name), python_module("sandbox.live.services", name),
                                              env=config.env(ports[name]), port=ports[name]))
    except BaseException:
        unwire(site, lab)
        raise
    return lab, warning


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
    if not lab.config.queue:
        return
    with contextlib.suppress(pika.exceptions.AMQPError):
        connection = pika.BlockingConnection(pika.URLParameters(site.rabbitmq_url))
        try:
            lab.config.topology.delete(connection.channel(), (lab.config.directory_queue,))
        finally:
            connection.close()
    if lab.policy is not None:
        site.policies.clear(lab.policy)
