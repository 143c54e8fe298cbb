"""How things are named on screen: as the diagram names them, with their units — never a raw id."""

from __future__ import annotations

from sandbox.model.commands import Command, Set
from sandbox.model.knobs import KNOBS
from sandbox.present.diagram import TITLES

GROUPS = {
    "load": "load", "services.author": "Author Service", "services.blog": "Blog Service",
    "services.user": "User Service", "services": "services", "db": "database", "blog": "Blog Service's page",
    "http": "service-to-service HTTP", "breaker": "circuit breaker", "sync": "sync author", "cache": "cache",
    "redis": "Redis", "broker": "RabbitMQ", "publish": "author's publish", "outbox": "outbox relay",
    "consumer": "cache-worker", "client": "outside clients", "mailer": "mailer",
    "directory": "blog's directory of names",
}
"""A knob's group (its key up to the last dot) in the diagram's words."""
WORDS = {
    "rtt": "round trip", "fsync": "disk write per message", "ttl": "key lifetime", "service": "own work per request",
    "on invalidate error": "when the cache invalidation fails", "on error": "when a publish fails",
    "guarded set": "guarded cache fill", "open": "stays open", "election": "leader election", "poll": "poll every",
    "work": "work per message", "reconnect": "reconnect after", "ack": "acknowledge", "count": "consumers",
    "reads": "reads", "writes": "writes", "profile updates": "profile updates", "lognormal sigma": "lognormal spread",
    "dedup": "the mailer's duplicate check", "crash rate": "killed per message", "restart": "back after",
    "order": "older names", "authors": "authors renamed",
}
"""A knob's last part, its unit suffix dropped, where the id's words are not a person's."""
UNIT_SUFFIXES = ("_per_s", "_ms", "_s")


def knob_label(key: str) -> str:
    """'service-to-service HTTP: timeout (s)' for http.timeout_s: the group as the diagram says it, the knob in
    words, and its unit."""
    group, _, name = key.rpartition(".")
    for suffix in UNIT_SUFFIXES:
        name = name.removesuffix(suffix)
    words = WORDS.get(name.replace("_", " "), name.replace("_", " "))
    unit = KNOBS[key].unit
    if unit == "per s":
        return f"{GROUPS[group]}: {words} per second"
    return f"{GROUPS[group]}: {words}" + (f" ({unit})" if unit and unit != words else "")


def target_label(target: str) -> str:
    """A fault's target as the diagram names it: 'User Service', 'RabbitMQ', 'RabbitMQ node broker-2'."""
    if target.startswith("broker-"):
        return f"RabbitMQ node {target}"
    return TITLES.get(target, target).replace("\n", " ")


def knob_value(key: str, value: object) -> str:
    """A knob's value as a person writes it: 'on', '50 ms', '1,000 messages', 'quorum'."""
    if isinstance(value, bool):
        return "on" if value else "off"
    if isinstance(value, int | float):
        unit = KNOBS[key].unit
        return f"{value:,g}" + (f" {unit}" if unit else "")
    return str(value)


def moment_words(command: Command) -> str:
    """A recorded action as a chart's legend says it, in the diagram's names: 'kill User Service',
    'set cache-worker: work per message to 50 ms [queue]'."""
    if isinstance(command, Set):
        text = f"set {knob_label(command.key).split(' (')[0]} to {knob_value(command.key, command.value)}"
        return text if command.variant is None else f"{text} [{command.variant}]"
    target = getattr(command, "target", None)
    text = command.describe()
    return text.replace(f" {target}", f" {target_label(target)}", 1) if isinstance(target, str) else text


def variant_title(name: str, architecture: str) -> str:
    """"sync" for the variant sync, "queue-outbox" for queue-outbox, "mine (queue)" for a variant called mine."""
    return name if name.startswith(architecture) else f"{name} ({architecture})"
