"""What one service process needs to know: its variant, the other services, the servers, the knobs.

The supervisor hands it over as one JSON object in the environment variable `SANDBOX_SERVICE_CONFIG`;
`RABBITMQ_URL` and `REDIS_URL` fill in the servers when the JSON does not name them. Knobs travel as the
flat dotted keys of `sandbox/model/knobs.py` (nested tables work too), are checked the same way, and are read
typed: `config.knobs.consumer.prefetch`.
"""

from __future__ import annotations

import json
import os
import re
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import Any

from sandbox.live.rabbitmq.broker import Topology
from sandbox.live.servers import (
    DEFAULT_RABBITMQ_URL,
    DEFAULT_REDIS_URL,
    BadSetting,
    checked_rabbitmq_url,
    checked_redis_url,
    rabbitmq_url,
    redis_url,
)
from sandbox.model.errors import ScenarioError
from sandbox.model.knobs import DEFAULT_KNOBS, Knobs, resolve, validate_knobs

CONFIG_ENV = "SANDBOX_SERVICE_CONFIG"
PORT_ENV = "SANDBOX_PORT"

ARCHITECTURES = ("sync", "queue")
SERVICES = ("author", "blog", "user", "cache-worker")
INVALIDATION_QUEUE = "cache-invalidation"
USER_EXCHANGE = "user.updated"
DIRECTORY_QUEUE = "blog.user-updated"
POST_EXCHANGE = "post.created"
MAILER_QUEUE = "mailer.post-created"

_SUFFIX = re.compile(r"[A-Za-z0-9._-]*")
_GLOB_CHARS = set("*?[]\\")


class ConfigError(ValueError):
    """The service configuration is not valid; the message names the field and what is allowed."""


@dataclass(frozen=True)
class ServiceConfig:
    """One variant's settings, shared by its four services."""

    variant: str = "default"
    architecture: str = "queue"
    author_url: str = ""
    blog_url: str = ""
    user_url: str = ""
    rabbitmq_url: str = DEFAULT_RABBITMQ_URL
    rabbitmq_other_nodes: tuple[str, ...] = ()
    """A cluster's other nodes, tried in order after rabbitmq_url (broker-2, broker-3)."""
    redis_url: str = DEFAULT_REDIS_URL
    database: str = ""
    redis_prefix: str = ""
    queue_suffix: str = ""
    knobs: Knobs = DEFAULT_KNOBS

    def __post_init__(self) -> None:
        if self.architecture not in ARCHITECTURES:
            raise ConfigError(f"architecture: {self.architecture!r} is not allowed; use 'sync' or 'queue'")
        if not self.variant:
            raise ConfigError("variant: must not be empty")
        if _GLOB_CHARS & set(self.redis_prefix):
            raise ConfigError(f"redis_prefix: {self.redis_prefix!r} must not contain * ? [ ] or \\ "
                              "(the cache-worker uses it in a SCAN pattern)")
        if not _SUFFIX.fullmatch(self.queue_suffix):
            raise ConfigError(f"queue_suffix: {self.queue_suffix!r} may contain only letters, digits, '.', '_' "
                              "and '-'")
        object.__setattr__(self, "rabbitmq_other_nodes", tuple(self.rabbitmq_other_nodes))
        try:
            checked_rabbitmq_url(self.rabbitmq_url, "rabbitmq_url")
            for url in self.rabbitmq_other_nodes:
                checked_rabbitmq_url(url, "rabbitmq_other_nodes")
            checked_redis_url(self.redis_url, "redis_url")
        except BadSetting as exc:
            raise ConfigError(str(exc)) from None
        conflict = self.knobs.conflict()
        if conflict:
            raise ConfigError(f"knobs.{conflict[0]}: {conflict[1]}")
        if not self.database:
            path = os.path.join(tempfile.gettempdir(), f"post-office-lab-{self.variant}.sqlite3")
            object.__setattr__(self, "database", path)
        for name in ("author_url", "blog_url", "user_url"):
            object.__setattr__(self, name, getattr(self, name).rstrip("/"))

    # reading ------------------------------------------------------------------

    @classmethod
    def from_json(cls, text: str, environ: Mapping[str, str] | None = None) -> ServiceConfig:
        """Parse the JSON object of `SANDBOX_SERVICE_CONFIG`; servers default to RABBITMQ_URL / REDIS_URL."""
        environ = os.environ if environ is None else environ
        try:
            doc = json.loads(text) if text.strip() else {}
        except json.JSONDecodeError as exc:
            raise ConfigError(f"{CONFIG_ENV} is not valid JSON: {exc}") from None
        if not isinstance(doc, dict):
            raise ConfigError(f"{CONFIG_ENV} must be a JSON object, not {type(doc).__name__}")
        allowed = {f.name for f in fields(cls)}
        unknown = sorted(set(doc) - allowed)
        if unknown:
            raise ConfigError(f"{unknown[0]}: unknown field; use one of {', '.join(sorted(allowed))}")
        for name, value in doc.items():
            if name == "knobs":
                doc[name] = parse_knobs(value)
            elif name == "rabbitmq_other_nodes":
                if not isinstance(value, list) or not all(isinstance(url, str) for url in value):
                    raise ConfigError(f"{name}: must be a list of amqp:// URLs, not {json.dumps(value)}")
            elif not isinstance(value, str):
                raise ConfigError(f"{name}: must be a string, not {json.dumps(value)}")
        try:
            doc.setdefault("rabbitmq_url", rabbitmq_url(environ))
            doc.setdefault("redis_url", redis_url(environ))
        except BadSetting as exc:
            raise ConfigError(str(exc)) from None
        return cls(**doc)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> ServiceConfig:
        environ = os.environ if environ is None else environ
        return cls.from_json(environ.get(CONFIG_ENV, ""), environ)

    def to_json(self) -> str:
        doc = {f.name: getattr(self, f.name) for f in fields(self)} | {"knobs": self.knobs.to_flat()}
        return json.dumps(doc, sort_keys=True)

    def env(self, port: int | None = None) -> dict[str, str]:
        """The environment a service process of this variant needs (for the supervisor)."""
        env = {CONFIG_ENV: self.to_json()}
        if port is not None:
            env[PORT_ENV] = str(port)
        return env

    def require(self, service: str) -> None:
        """Raise ConfigError when `service` in this architecture lacks a URL it calls."""
        if service not in SERVICES:
            raise ConfigError(f"unknown service {service!r}; use one of {', '.join(SERVICES)}")
        needs = {("author", "sync"): "blog_url", ("blog", "sync"): "user_url"}
        name = needs.get((service, self.architecture))
        if name and not getattr(self, name):
            raise ConfigError(f"{name}: {service} in a sync variant calls it; give its base URL "
                              "(e.g. http://127.0.0.1:8002)")

    # names --------------------------------------------------------------------

    @property
    def rabbitmq_urls(self) -> tuple[str, ...]:
        """The broker's nodes in the order a client tries them."""
        return (self.rabbitmq_url, *self.rabbitmq_other_nodes)

    @property
    def queue(self) -> bool:
        return self.architecture == "queue"

    @property
    def invalidation_queue(self) -> str:
        """`cache-invalidation` for the default variant; a suffix keeps parallel variants apart."""
        return INVALIDATION_QUEUE + self.queue_suffix

    @property
    def topology(self) -> Topology:
        """The variant's invalidation queue, its dead letters and the user.updated exchange, as the knobs ask."""
        broker = self.knobs.broker
        return Topology(self.invalidation_queue, self.user_exchange, broker.durable, broker.queue_type,
                        self.knobs.consumer.retry_delays_s)

    @property
    def user_exchange(self) -> str:
        return USER_EXCHANGE + self.queue_suffix

    @property
    def directory_queue(self) -> str:
        """The blog's own queue on the user.updated fanout exchange."""
        return DIRECTORY_QUEUE + self.queue_suffix

    @property
    def post_exchange(self) -> str:
        """The fanout exchange of post.created events (`mailer.enabled`)."""
        return POST_EXCHANGE + self.queue_suffix

    @property
    def mailer_queue(self) -> str:
        """The mailer's durable queue on the post.created exchange."""
        return MAILER_QUEUE + self.queue_suffix

    @property
    def mailer(self) -> bool:
        """This variant runs the mailer: a queue variant with `mailer.enabled`."""
        return self.queue and self.knobs.mailer.enabled

    def mailer_seen_key(self, message_id: str) -> str:
        """The Redis key `consumer.dedup = "redis-before"` sets (SET NX) before the e-mail."""
        return f"{self.redis_prefix}mailer:seen:{message_id}"

    @property
    def cache_key(self) -> str:
        return f"{self.redis_prefix}blogs:list"

    @property
    def generation_key(self) -> str:
        """Bumped by every invalidation; deliberately outside `blogs:*` so invalidations never delete it."""
        return f"{self.redis_prefix}cache-generation:blogs"

    @property
    def handled_key(self) -> str:
        """The cache-worker's count of messages handled, kept in Redis so that it survives the worker."""
        return f"{self.redis_prefix}cache-worker:handled"

    def workers(self, service: str) -> int:
        """The worker pool of `service` (author, blog or user)."""
        return self.knobs.services.pool(service).workers


def parse_knobs(table: Any) -> Knobs:
    """Knobs from a JSON object of knob keys and values (flat dotted keys or nested tables), checked."""
    if not isinstance(table, Mapping):
        raise ConfigError("knobs: must be a JSON object of knob keys and values")
    try:
        return resolve(validate_knobs(table, field="knobs"))
    except ScenarioError as exc:
        raise ConfigError(str(exc)) from None
