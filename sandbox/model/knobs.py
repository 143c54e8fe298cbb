"""Every knob of the flow, declared once: typed groups the engines read, and the catalogue the files use.

A knob is a field of a group below, with its default, meaning, unit and range (or its choices). The
engines read `knobs.http.timeout_s`; scenario files, `set` commands and the CLI use the dotted key
(`http.timeout_s`), written in TOML as a dotted key or a nested table, which is the same thing.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field, fields, is_dataclass, replace
from typing import Any

from sandbox.model.bounds import Range
from sandbox.model.errors import ScenarioError

SERVICES = ("author", "blog", "user")
DEDUP_CHOICES = ("none", "inbox", "redis-before")
MAX_NESTING = 8
"""A knob table nested deeper than this is refused (the deepest knob key has three parts)."""


READS_PER_S = Range(0, 2000, "per s")
WRITES_PER_S = Range(0, 500, "per s")
PROFILE_UPDATES_PER_S = Range(0, 100, "per s")
RETRY_GROWTH = 5
"""Each retry queue waits this many times longer than the one before (1, 5, 25 s)."""


def _number(default: float, doc: str, unit: str, maximum: float, minimum: float = 0.0) -> Any:
    return _ranged(default, doc, Range(minimum, maximum, unit))


def _ranged(default: float, doc: str, scale: Range) -> Any:
    return field(default=default, metadata={"doc": doc, "range": scale})


def _whole(default: int, doc: str, unit: str, maximum: int, minimum: int = 0) -> Any:
    return field(default=default, metadata={"doc": doc, "range": Range(minimum, maximum, unit, whole=True)})


def _choice(default: str, doc: str, choices: tuple[str, ...]) -> Any:
    return field(default=default, metadata={"doc": doc, "choices": choices})


def _choice_of_numbers(default: int, doc: str, choices: tuple[int, ...]) -> Any:
    return field(default=default, metadata={"doc": doc, "choices": choices})


def _switch(default: bool, doc: str) -> Any:
    return field(default=default, metadata={"doc": doc})


@dataclass(frozen=True)
class LoadKnobs:
    reads_per_s: float = _ranged(20.0, "Poisson arrival rate of GET /blogs from readers", READS_PER_S)
    writes_per_s: float = _ranged(1.0, "Poisson arrival rate of POST /blogs from authors", WRITES_PER_S)
    profile_updates_per_s: float = _ranged(0.0, "Poisson rate of author profile changes (PUT /user)",
                                           PROFILE_UPDATES_PER_S)


@dataclass(frozen=True)
class PoolKnobs:
    workers: int = _whole(8, "{group}'s worker pool: requests served at once, shared by all its endpoints",
                          "workers", 64, minimum=1)
    service_ms: float = _number(4.0, "{group}'s mean own work per request", "ms", 10_000)


@dataclass(frozen=True)
class ServicesKnobs:
    author: PoolKnobs = PoolKnobs(8, 5.0)
    blog: PoolKnobs = PoolKnobs(8, 4.0)
    user: PoolKnobs = PoolKnobs(8, 4.0)
    distribution: str = _choice("exponential", "shape of every service time", ("exponential", "fixed", "lognormal"))
    lognormal_sigma: float = _number(0.5, "spread of a lognormal service time (sigma of its log)", "", 3)

    def pool(self, service: str) -> PoolKnobs:
        """The pool knobs of one of SERVICES."""
        pool = getattr(self, service)
        assert isinstance(pool, PoolKnobs), service
        return pool


@dataclass(frozen=True)
class DbKnobs:
    read_ms: float = _number(1.5, "the blog's database query on a cache miss", "ms", 10_000)
    write_ms: float = _number(1.0, "the author's insert and commit", "ms", 10_000)


@dataclass(frozen=True)
class BlogKnobs:
    authors_per_page: int = _whole(3, "distinct authors on the blog list page (one user lookup each)", "authors", 20)


@dataclass(frozen=True)
class HttpKnobs:
    rtt_ms: float = _number(3.5, "network round trip of one HTTP call", "ms", 10_000)
    timeout_s: float = _number(5.0, "the caller's timeout on every service-to-service call; 0 waits forever",
                               "s", 600)
    retries: int = _whole(0, "retries after a failed service-to-service call", "retries", 10)
    backoff_ms: float = _number(100.0, "base of the exponential backoff between retries", "ms", 60_000)
    jitter: bool = _switch(True, "full jitter: sleep a uniform random part of the backoff")
    breaker: bool = _switch(False, "a circuit breaker on every service-to-service call")


@dataclass(frozen=True)
class BreakerKnobs:
    min_calls: int = _whole(20, "calls in the rolling window before the breaker may open", "calls", 1000, minimum=1)
    error_rate: float = _number(0.5, "failure fraction in the window that opens the breaker", "", 1)
    open_s: float = _number(5.0, "how long an open breaker fails fast before one trial call", "s", 600)
    window_s: float = _number(10.0, "the breaker's rolling window", "s", 600, minimum=1)


@dataclass(frozen=True)
class SyncKnobs:
    on_invalidate_error: str = _choice("fail", "what the author answers when its call to blog's invalidation fails",
                                       ("fail", "ignore"))


@dataclass(frozen=True)
class CacheKnobs:
    ttl_s: float = _number(0.0, "lifetime of a blogs:* key; 0 keeps it until invalidated", "s", 86_400)
    guarded_set: bool = _switch(True, "the blog writes a rebuilt list into Redis only if no invalidation ran "
                                      "while it was rebuilding")


@dataclass(frozen=True)
class RedisKnobs:
    rtt_ms: float = _number(1.0, "round trip of one Redis command", "ms", 10_000)
    timeout_s: float = _number(1.0, "socket timeout on a Redis command", "s", 60, minimum=0.001)


@dataclass(frozen=True)
class BrokerKnobs:
    durable: bool = _switch(True, "the cache-invalidation queue survives a broker restart; false: a transient queue, "
                                  "exclusive to the cache-worker's connection (3.13 accepts a transient non-exclusive "
                                  "queue, 4.0–4.2 with a deprecation warning, 4.3 refuses one unless "
                                  "deprecated_features.permit.transient_nonexcl_queues is set), gone with a restart "
                                  "or with the worker")
    persistent: bool = _switch(True, "messages are written to disk (delivery mode 2)")
    rtt_ms: float = _number(1.5, "network round trip to RabbitMQ", "ms", 10_000)
    fsync_ms: float = _number(1.0, "time to write a persistent message before its confirm", "ms", 10_000)
    sync_interval_ms: float = _number(200.0, "how often a busy queue writes its new persistent messages to disk "
                                             "in one batch (an idle queue writes at once); a crash loses what "
                                             "the last batch has not reached", "ms", 10_000)
    nodes: int = _choice_of_numbers(1, "RabbitMQ nodes: 1, or a cluster of 3 (targets broker-1, broker-2, broker-3)",
                                    (1, 3))
    queue_type: str = _choice("classic", "cache-invalidation's type: classic (lives on broker-1) or quorum "
                                         "(3 members by default, here one per node; works while a majority is up)",
                              ("classic", "quorum"))
    election_ms: float = _number(150.0, "a quorum queue's pause to elect a new leader when its leader's node is "
                                        "lost (measured on the lab: bench/sim_vs_lab.py)", "ms", 60_000)
    # backpressure: a queue length limit, set as a policy (max-length, overflow)
    max_length: int = _whole(0, "a max-length policy on cache-invalidation: the ready messages it holds at most "
                                "(unacked ones do not count); 0 = no limit", "messages", 100_000)
    overflow: str = _choice("drop-head", "what a full queue does with one more message: drop-head (RabbitMQ's "
                                         "default) drops the oldest, or dead-letters it when the queue has a "
                                         "dead-letter exchange; reject-publish refuses the new one with a nack "
                                         "(only a publisher with confirms hears it)",
                            ("drop-head", "reject-publish"))
    boot_s: float = _number(15.0, "seconds a revived node of a cluster takes to boot before it answers (the lab's "
                                  "nodes: 6-9 s idle, 13-17 s under load; bench/cluster_pause.py)", "s", 600)
    catch_up_s: float = _number(2.0, "seconds a revived node's quorum-queue member takes to catch up on the log it "
                                     "missed before it counts toward a majority (bench/cluster_pause.py)", "s", 600)
    peer_wait_s: float = _number(300.0, "how long a revived node waits for a peer it last saw running before it gives "
                                        "up and stops (RabbitMQ: 10 tries of 30 s)", "s", 3_600)


@dataclass(frozen=True)
class PublishKnobs:
    confirms: bool = _switch(True, "the publisher waits for the broker's confirm")
    on_error: str = _choice("fail", "what the author does when the publish fails", ("fail", "drop", "outbox"))
    timeout_s: float = _number(5.0, "how long a publish waits on an unresponsive broker", "s", 60, minimum=0.001)


@dataclass(frozen=True)
class OutboxKnobs:
    poll_ms: float = _number(200.0, "how often the outbox relay looks for unsent rows", "ms", 60_000, minimum=1)


@dataclass(frozen=True)
class ConsumerKnobs:
    ack: str = _choice("manual", "when the broker forgets a delivered message", ("manual", "auto"))
    prefetch: int = _whole(10, "unacked messages a consumer may hold (basic_qos); 0 = no limit", "messages", 1000)
    count: int = _whole(1, "competing cache-worker consumers", "consumers", 64, minimum=1)
    work_ms: float = _number(5.0, "SCAN + UNLINK of blogs:* per message", "ms", 60_000)
    delivery_limit: int = _whole(0, "RabbitMQ's delivery limit: a message returned more than this many times is "
                                    "dead-lettered; 0 = no limit", "deliveries", 1000)
    reconnect_s: float = _number(1.0, "a consumer's wait before reconnecting to the broker", "s", 60)
    dedup: str = _choice("none", "how the mailer keeps a redelivered post.created from e-mailing twice: none; inbox "
                                 "(the message id recorded in the e-mail's own database transaction); redis-before "
                                 "(SETNX of the id in Redis before the e-mail)", DEDUP_CHOICES)

    # delayed retry: TTL + dead-letter retry queues instead of a requeue at once
    retry: str = _choice("requeue", "what the cache-worker does with a message it failed to handle (manual ack): "
                                    "requeue = reject with requeue, delivered again at once; delayed = publish it to "
                                    "a retry queue whose message TTL holds it, then dead-letters it back to the "
                                    "queue, with a longer wait each time; after the last tier it goes to the DLQ",
                         ("requeue", "delayed"))
    retry_first_s: float = _number(1.0, "the first retry queue's message TTL; each further tier waits 5 times "
                                        "longer (1, 5, 25 s)", "s", 600, minimum=0.01)
    retry_tiers: int = _whole(3, "retry queues a failed message passes through before the DLQ", "tiers", 5,
                              minimum=1)

    @property
    def retry_delays_s(self) -> tuple[float, ...]:
        """Each retry queue's wait, in the order a failed message passes them; () without a delayed retry."""
        if self.retry != "delayed":
            return ()
        return tuple(self.retry_first_s * RETRY_GROWTH ** tier for tier in range(self.retry_tiers))


@dataclass(frozen=True)
class DirectoryKnobs:
    consumers: int = _whole(1, "queue: competing consumers of the blog's user.updated queue (read at the start)",
                            "consumers", 16, minimum=1)
    prefetch: int = _whole(1, "unacked user.updated messages each directory consumer may hold", "messages", 1000,
                           minimum=1)
    order: str = _choice("last-write", "how the directory keeps an older name from overwriting a newer one: "
                                       "last-write (none), version (ignore an event older than the name shown), "
                                       "single-active (x-single-active-consumer: one consumer at a time)",
                         ("last-write", "version", "single-active"))
    work_ms: float = _number(5.0, "a directory consumer's work per user.updated", "ms", 60_000)
    authors: int = _whole(10, "authors whose names the profile changes pick from", "authors", 1000, minimum=1)


@dataclass(frozen=True)
class MailerKnobs:
    enabled: bool = _switch(False, "queue: the author publishes post.created on an exchange of its own, and a mailer "
                                   "consumes it and e-mails the author's followers (a mailbox table)")
    crash_rate: float = _number(0.0, "chance the mailer is killed while it handles one message: half of the kills "
                                     "fall just before its e-mail, half just after it, before the ack", "", 1)
    restart_s: float = _number(1.0, "how long a killed mailer takes to come back (the lab's own restart is what "
                                    "it is)", "s", 60, minimum=0.1)
    work_ms: float = _number(5.0, "the mailer's work per message, before its e-mail", "ms", 60_000)


@dataclass(frozen=True)
class ClientKnobs:
    timeout_s: float = _number(10.0, "the outside client's timeout on GET and POST /blogs; 0 waits forever", "s", 600)
    retries: int = _whole(0, "the outside client's retries of a failed POST /blogs", "retries", 10)
    backoff_ms: float = _number(200.0, "the outside client's wait before a retry", "ms", 60_000)


@dataclass(frozen=True)
class Knobs:
    """Every knob's value for one variant, read by group: `knobs.consumer.prefetch`."""

    load: LoadKnobs = LoadKnobs()
    services: ServicesKnobs = ServicesKnobs()
    db: DbKnobs = DbKnobs()
    blog: BlogKnobs = BlogKnobs()
    http: HttpKnobs = HttpKnobs()
    breaker: BreakerKnobs = BreakerKnobs()
    sync: SyncKnobs = SyncKnobs()
    cache: CacheKnobs = CacheKnobs()
    redis: RedisKnobs = RedisKnobs()
    broker: BrokerKnobs = BrokerKnobs()
    publish: PublishKnobs = PublishKnobs()
    outbox: OutboxKnobs = OutboxKnobs()
    consumer: ConsumerKnobs = ConsumerKnobs()
    mailer: MailerKnobs = MailerKnobs()
    directory: DirectoryKnobs = DirectoryKnobs()
    client: ClientKnobs = ClientKnobs()

    def get(self, key: str) -> Any:
        """One knob's value by its dotted key."""
        value: Any = self
        for part in key.split("."):
            value = getattr(value, part)
        return value

    def with_values(self, changes: Mapping[str, Any]) -> Knobs:
        """These knobs with some values changed (dotted keys, values already validated)."""
        changed = _replaced(self, changes)
        assert isinstance(changed, Knobs)
        return changed

    def conflict(self) -> tuple[str, str] | None:
        """(knob key, why) when two knobs ask for what RabbitMQ cannot do together; None when they agree."""
        if self.consumer.delivery_limit and self.broker.queue_type != "quorum":
            return ("consumer.delivery_limit", "a delivery limit needs broker.queue_type = \"quorum\" "
                                               "(RabbitMQ's classic queues have none)")
        if self.consumer.retry == "delayed" and self.consumer.ack != "manual":
            return ("consumer.retry", "a delayed retry needs consumer.ack = \"manual\" (an auto-acked message is "
                                      "gone before its handler fails)")
        if self.broker.queue_type == "quorum" and not self.broker.durable:
            return ("broker.durable", "a quorum queue is always durable; use broker.queue_type = \"classic\" "
                                      "for a transient queue")
        return None

    def to_flat(self) -> dict[str, Any]:
        """Every knob as {dotted key: value}, in catalogue order."""
        return {key: self.get(key) for key in KNOBS}


def _replaced(group: Any, changes: Mapping[str, Any]) -> Any:
    direct: dict[str, Any] = {}
    nested: dict[str, dict[str, Any]] = {}
    for key, value in changes.items():
        head, _, rest = key.partition(".")
        if rest:
            nested.setdefault(head, {})[rest] = value
        else:
            direct[head] = value
    for head, sub in nested.items():
        direct[head] = _replaced(getattr(group, head), sub)
    return replace(group, **direct)


@dataclass(frozen=True)
class Knob:
    """One entry of the catalogue: a dotted key, its default, what it means, and what it may be."""

    key: str
    default: Any
    doc: str
    choices: tuple[str | int, ...] = ()
    range: Range | None = None

    @property
    def kind(self) -> type:
        return type(self.default)

    @property
    def unit(self) -> str:
        return self.range.unit if self.range else ""

    def validate(self, value: Any, source: str = "", field: str = "") -> Any:
        """Return `value` coerced to this knob's type, or raise ScenarioError naming the field and what is allowed."""
        field = field or self.key
        if self.choices:
            for choice in self.choices:
                if value == choice and isinstance(value, bool) == isinstance(choice, bool):
                    return choice
            allowed = ", ".join(repr(c) for c in self.choices)
            raise ScenarioError(source, field, f"{value!r} is not allowed; use one of {allowed}")
        if self.range is None:
            if not isinstance(value, bool):
                raise ScenarioError(source, field, f"{value!r} is not allowed; use true or false")
            return value
        checked = self.range.check(value, source, field)
        return int(checked) if self.range.whole else checked


def _catalogue(group: Any, prefix: str = "", name: str = "") -> Iterator[Knob]:
    for f in fields(group):
        value = getattr(group, f.name)
        if is_dataclass(value):
            yield from _catalogue(value, f"{prefix}{f.name}.", f.name)
            continue
        meta = f.metadata
        yield Knob(f"{prefix}{f.name}", value, meta["doc"].format(group=name), meta.get("choices", ()),
                   meta.get("range"))


DEFAULT_KNOBS = Knobs()
KNOBS: dict[str, Knob] = {k.key: k for k in _catalogue(DEFAULT_KNOBS)}
DEFAULTS: dict[str, Any] = {k.key: k.default for k in KNOBS.values()}


def flatten(table: Mapping[str, Any], prefix: str = "", depth: int = 0, source: str = "") -> dict[str, Any]:
    """Nested TOML tables to dotted keys: {"http": {"timeout_s": 5}} -> {"http.timeout_s": 5}."""
    if depth > MAX_NESTING:
        raise ScenarioError(source, prefix.rstrip("."), f"is nested more than {MAX_NESTING} tables deep")
    flat: dict[str, Any] = {}
    for key, value in table.items():
        dotted = f"{prefix}{key}"
        if isinstance(value, Mapping):
            flat.update(flatten(value, dotted + ".", depth + 1, source))
        else:
            flat[dotted] = value
    return flat


def validate_knob(key: str, value: Any, source: str = "", field: str = "") -> Any:
    """Check one knob assignment; return the coerced value."""
    knob = KNOBS.get(key)
    if knob is None:
        raise ScenarioError(source, field or key, f"unknown knob {key!r}; see `python -m sandbox knobs`")
    return knob.validate(value, source, field or key)


def validate_knobs(table: Mapping[str, Any], source: str = "", field: str = "knobs") -> dict[str, Any]:
    """Check a (possibly nested) table of knob overrides; return them flat and coerced."""
    return {
        key: validate_knob(key, value, source, f"{field}.{key}")
        for key, value in flatten(table, source=source).items()
    }


def resolve(*layers: Mapping[str, Any]) -> Knobs:
    """The defaults overlaid by each validated layer of flat overrides in turn."""
    merged: dict[str, Any] = {}
    for layer in layers:
        merged.update(layer)
    return DEFAULT_KNOBS.with_values(merged)
