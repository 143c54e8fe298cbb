"""Every knob of the flow, with its unit and default, in one documented place.

A knob key is dotted (`http.timeout_s`); in a scenario file it is written as a
TOML dotted key or nested table, which is the same thing.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sandbox.model.errors import ScenarioError

SERVICES = ("author", "blog", "user")


@dataclass(frozen=True)
class Knob:
    key: str
    default: Any
    doc: str
    choices: tuple[str, ...] = ()
    minimum: float | None = 0.0
    maximum: float | None = None

    @property
    def kind(self) -> type:
        return type(self.default)

    def validate(self, value: Any, source: str = "", field: str = "") -> Any:
        """Return `value` coerced to this knob's type, or raise ScenarioError."""
        field = field or self.key
        if self.choices:
            if value not in self.choices:
                allowed = ", ".join(repr(c) for c in self.choices)
                raise ScenarioError(source, field, f"{value!r} is not allowed; use one of {allowed}")
            return value
        if self.kind is bool:
            if not isinstance(value, bool):
                raise ScenarioError(source, field, f"{value!r} is not allowed; use true or false")
            return value
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ScenarioError(source, field, f"{value!r} is not a number")
        if self.kind is int and value != int(value):
            raise ScenarioError(source, field, f"{value!r} must be a whole number")
        if value != value or value in (float("inf"), float("-inf")):
            raise ScenarioError(source, field, f"{value!r} is not a finite number")
        if self.minimum is not None and value < self.minimum:
            raise ScenarioError(source, field, f"{value!r} is below the minimum {self.minimum:g}")
        if self.maximum is not None and value > self.maximum:
            raise ScenarioError(source, field, f"{value!r} is above the maximum {self.maximum:g}")
        return self.kind(value)


def _service_knobs(name: str, workers: int, service_ms: float) -> list[Knob]:
    return [
        Knob(f"services.{name}.workers", workers,
             f"{name}'s worker pool: requests served at once, shared by all its endpoints", minimum=1),
        Knob(f"services.{name}.service_ms", service_ms,
             f"{name}'s mean own work per request, in milliseconds"),
    ]


_ALL = [
    Knob("load.reads_per_s", 20.0, "Poisson arrival rate of GET /blogs from readers"),
    Knob("load.writes_per_s", 1.0, "Poisson arrival rate of POST /blogs from authors"),
    Knob("load.profile_updates_per_s", 0.0, "Poisson rate of author profile changes (PUT /user)"),
    *_service_knobs("author", 8, 5.0),
    *_service_knobs("blog", 8, 4.0),
    *_service_knobs("user", 8, 4.0),
    Knob("services.distribution", "exponential", "shape of every service time",
         choices=("exponential", "fixed", "lognormal")),
    Knob("services.lognormal_sigma", 0.5, "spread of a lognormal service time (sigma of its log)"),
    Knob("db.read_ms", 1.5, "the blog's database query on a cache miss, in milliseconds"),
    Knob("db.write_ms", 1.0, "the author's insert and commit, in milliseconds"),
    Knob("blog.authors_per_page", 3, "distinct authors on the blog list page (one user lookup each)"),
    Knob("http.rtt_ms", 3.5, "network round trip of one HTTP call, in milliseconds"),
    Knob("http.timeout_s", 5.0, "the caller's timeout on every service-to-service call; 0 waits forever"),
    Knob("http.retries", 0, "retries after a failed service-to-service call"),
    Knob("http.backoff_ms", 100.0, "base of the exponential backoff between retries, in milliseconds"),
    Knob("http.jitter", True, "full jitter: sleep a uniform random part of the backoff"),
    Knob("http.breaker", False, "a circuit breaker on every service-to-service call"),
    Knob("breaker.min_calls", 20, "calls in the rolling window before the breaker may open", minimum=1),
    Knob("breaker.error_rate", 0.5, "failure fraction in the window that opens the breaker", maximum=1.0),
    Knob("breaker.open_s", 5.0, "how long an open breaker fails fast before one trial call"),
    Knob("breaker.window_s", 10.0, "the breaker's rolling window, in seconds", minimum=1.0),
    Knob("sync.on_invalidate_error", "fail",
         "what the author answers when its call to blog's invalidation fails", choices=("fail", "ignore")),
    Knob("cache.ttl_s", 0.0, "lifetime of a blogs:* key; 0 keeps it until invalidated"),
    Knob("cache.guarded_set", True,
         "the blog fills the cache only if no invalidation ran during its rebuild (closes the "
         "read/invalidate race that leaves an old list cached)"),
    Knob("redis.rtt_ms", 1.0, "round trip of one Redis command, in milliseconds"),
    Knob("redis.timeout_s", 1.0, "socket timeout on a Redis command, in seconds", minimum=0.001),
    Knob("broker.durable", True, "the cache-invalidation queue survives a broker restart"),
    Knob("broker.persistent", True, "messages are written to disk (delivery mode 2)"),
    Knob("broker.rtt_ms", 1.5, "network round trip to RabbitMQ, in milliseconds"),
    Knob("broker.fsync_ms", 1.0, "time to write a persistent message before its confirm, in milliseconds"),
    Knob("publish.confirms", True, "the publisher waits for the broker's confirm"),
    Knob("publish.on_error", "fail", "what the author does when the publish fails",
         choices=("fail", "drop", "outbox")),
    Knob("publish.timeout_s", 5.0, "how long a publish waits on an unresponsive broker", minimum=0.001),
    Knob("outbox.poll_ms", 200.0, "how often the outbox relay looks for unsent rows", minimum=1.0),
    Knob("consumer.ack", "manual", "when the broker forgets a delivered message", choices=("manual", "auto")),
    Knob("consumer.prefetch", 10, "unacked messages a consumer may hold (basic_qos); 0 = no limit"),
    Knob("consumer.count", 1, "competing cache-worker consumers", minimum=1),
    Knob("consumer.work_ms", 5.0, "SCAN + UNLINK of blogs:* per message, in milliseconds"),
    Knob("consumer.delivery_limit", 0,
         "RabbitMQ's x-delivery-limit: a message returned more than this many times is dead-lettered; "
         "0 = no limit"),
    Knob("consumer.reconnect_s", 1.0, "a consumer's wait before reconnecting to the broker"),
    Knob("client.timeout_s", 10.0, "the outside client's timeout on GET and POST /blogs; 0 waits forever"),
    Knob("client.retries", 0, "the outside client's retries of a failed POST /blogs"),
    Knob("client.backoff_ms", 200.0, "the outside client's wait before a retry, in milliseconds"),
]

KNOBS: dict[str, Knob] = {k.key: k for k in _ALL}
DEFAULTS: dict[str, Any] = {k.key: k.default for k in _ALL}


def flatten(table: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """Nested TOML tables to dotted keys: {"http": {"timeout_s": 5}} -> {"http.timeout_s": 5}."""
    flat: dict[str, Any] = {}
    for key, value in table.items():
        dotted = f"{prefix}{key}"
        if isinstance(value, dict):
            flat.update(flatten(value, dotted + "."))
        else:
            flat[dotted] = value
    return flat


def validate_knob(key: str, value: Any, source: str = "", field: str = "") -> Any:
    """Check one knob assignment; return the coerced value."""
    knob = KNOBS.get(key)
    if knob is None:
        raise ScenarioError(source, field or key, f"unknown knob {key!r}; see `python -m sandbox knobs`")
    return knob.validate(value, source, field or key)


def validate_knobs(table: dict[str, Any], source: str = "", field: str = "knobs") -> dict[str, Any]:
    """Check a (possibly nested) table of knob overrides; return them flat and coerced."""
    return {
        key: validate_knob(key, value, source, f"{field}.{key}")
        for key, value in flatten(table).items()
    }


def resolve(*layers: dict[str, Any]) -> dict[str, Any]:
    """Defaults overlaid by each validated layer in turn."""
    knobs = dict(DEFAULTS)
    for layer in layers:
        knobs.update(layer)
    return knobs
