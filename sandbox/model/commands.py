"""Timeline verbs as typed commands: one small frozen dataclass per verb, parsed and validated here.

A timeline table such as `{at = 10, do = "kill", target = "user"}` becomes `Kill("user", at=10)`. Each
engine dispatches on the type (`match`), and the type checker proves it handles every verb in `Command`.
Adding a verb takes more than this file: the checklist is docs/architecture.md §8.
"""

from __future__ import annotations

from dataclasses import KW_ONLY, MISSING, dataclass, field, fields, replace
from typing import Any, ClassVar

from sandbox.model.bounds import MAX_DURATION_S, Range
from sandbox.model.errors import ScenarioError
from sandbox.model.knobs import KNOBS, READS_PER_S, WRITES_PER_S, validate_knob

TARGETS = ("author", "blog", "user", "cache-worker", "broker", "redis", "broker-1", "broker-2", "broker-3")
"""`broker` is the whole broker; `broker-N` one node of a cluster (`broker.nodes = 3`; broker-1 is the node itself
when there is one)."""

AT = Range(0, MAX_DURATION_S, "s")
DOWN = Range(0, 600, "s")
LATENCY = Range(0, 60_000, "ms")
RATE = Range(0, 1)
POISON = Range(1, 10_000, "messages", whole=True)


def _target() -> Any:
    return field(metadata={"parse": "target"})


def _number(scale: Range, default: float | None = None) -> Any:
    metadata = {"parse": "number", "range": scale}
    return field(metadata=metadata) if default is None else field(default=default, metadata=metadata)


def _optional_number(scale: Range) -> Any:
    return field(default=None, metadata={"parse": "number", "range": scale})


@dataclass(frozen=True)
class _Timed:
    """What every command carries: its moment (scenario seconds) and the variant it is for (None: every one)."""

    verb: ClassVar[str]
    _: KW_ONLY
    at: float = 0.0
    variant: str | None = None

    def words(self) -> str:
        raise NotImplementedError

    def describe(self) -> str:
        """The command in plain words, e.g. 'latency user 2000 ms ± 200 ms [sync]'."""
        text = self.words()
        return text if self.variant is None else f"{text} [{self.variant}]"

    def scaled(self, factor: float) -> Any:
        """The command on a clock running `factor` times as long (the live lab's shorter runs)."""
        return replace(self, at=self.at * factor)


@dataclass(frozen=True)
class _Targeted(_Timed):
    """A command aimed at one part: `target`, one of TARGETS."""

    target: str = _target()

    def words(self) -> str:
        return f"{self.verb} {self.target}"


@dataclass(frozen=True)
class Kill(_Targeted):
    """SIGKILL: refuse new connections, drop the work in flight."""

    verb: ClassVar[str] = "kill"


@dataclass(frozen=True)
class Revive(_Targeted):
    verb: ClassVar[str] = "revive"


@dataclass(frozen=True)
class Hang(_Targeted):
    """A black hole: connections are accepted and never answered."""

    verb: ClassVar[str] = "hang"


@dataclass(frozen=True)
class Heal(_Targeted):
    """Clear latency, errors and a hang; a killed part stays down until revived."""

    verb: ClassVar[str] = "heal"


@dataclass(frozen=True)
class Restart(_Targeted):
    """A deploy: down for `down_s`, then back."""

    verb: ClassVar[str] = "restart"
    down_s: float = _number(DOWN)

    def words(self) -> str:
        return f"restart {self.target} (down {self.down_s:g} s)"

    def scaled(self, factor: float) -> Restart:
        return replace(self, at=self.at * factor, down_s=self.down_s * factor)


@dataclass(frozen=True)
class Latency(_Targeted):
    verb: ClassVar[str] = "latency"
    ms: float = _number(LATENCY)
    jitter_ms: float = _number(LATENCY, 0.0)

    def words(self) -> str:
        text = f"latency {self.target} {self.ms:g} ms"
        return text + f" ± {self.jitter_ms:g} ms" if self.jitter_ms else text


@dataclass(frozen=True)
class Errors(_Targeted):
    """A fraction of requests answered 500 (or handler failures, for the cache-worker)."""

    verb: ClassVar[str] = "errors"
    rate: float = _number(RATE)

    def words(self) -> str:
        return f"errors {self.target} {self.rate:.0%}"


@dataclass(frozen=True)
class Load(_Timed):
    """New arrival rates; a rate left out keeps its value."""

    verb: ClassVar[str] = "load"
    reads_per_s: float | None = _optional_number(READS_PER_S)
    writes_per_s: float | None = _optional_number(WRITES_PER_S)

    def words(self) -> str:
        parts = []
        if self.reads_per_s is not None:
            parts.append(f"{self.reads_per_s:g} reads/s")
        if self.writes_per_s is not None:
            parts.append(f"{self.writes_per_s:g} writes/s")
        return "load " + ", ".join(parts)

    def rates(self) -> dict[str, float]:
        """{knob key: rate} for the rates this command sets."""
        rates = {"load.reads_per_s": self.reads_per_s, "load.writes_per_s": self.writes_per_s}
        return {key: rate for key, rate in rates.items() if rate is not None}


@dataclass(frozen=True)
class Set(_Timed):
    """One knob's new value (validated against the knob)."""

    verb: ClassVar[str] = "set"
    key: str = field(metadata={"parse": "key"})
    value: Any = field(metadata={"parse": "value"})

    def words(self) -> str:
        return f"set {self.key} = {self.value!r}"


@dataclass(frozen=True)
class Poison(_Timed):
    """Malformed messages published to cache-invalidation."""

    verb: ClassVar[str] = "poison"
    count: int = field(metadata={"parse": "count", "range": POISON})

    def words(self) -> str:
        return f"poison {self.count} message{'s' if self.count != 1 else ''}"


Command = Kill | Revive | Hang | Heal | Restart | Latency | Errors | Load | Set | Poison
TargetCommand = Kill | Revive | Hang | Heal | Restart | Latency | Errors
VERBS: dict[str, type[Command]] = {cls.verb: cls for cls in (Kill, Revive, Hang, Heal, Restart, Latency, Errors,
                                                            Load, Set, Poison)}


def _own_fields(cls: type[Command]) -> list[Any]:
    return [f for f in fields(cls) if f.name not in ("at", "variant")]


def _required(f: Any) -> bool:
    return f.default is MISSING and f.default_factory is MISSING


def parse_command(entry: Any, source: str = "", field_name: str = "action") -> Command:
    """A Command from a timeline table such as {"at": 10, "do": "kill", "target": "user"}."""
    if not isinstance(entry, dict):
        raise ScenarioError(source, field_name, "must be a table with at least `do`")
    verb = entry.get("do")
    if not isinstance(verb, str) or verb not in VERBS:
        raise ScenarioError(source, f"{field_name}.do", f"{verb!r} is not a verb; use one of {', '.join(VERBS)}")
    cls = VERBS[verb]
    own = _own_fields(cls)
    allowed = {"at", "do", "variant", *(f.name for f in own)}
    for key in entry:
        if key not in allowed:
            raise ScenarioError(source, f"{field_name}.{key}",
                                f"unknown field for `{verb}`; allowed: {', '.join(sorted(allowed))}")
    values: dict[str, Any] = {}
    if "at" in entry:
        values["at"] = AT.check(entry["at"], source, f"{field_name}.at")
    if "variant" in entry:
        if not isinstance(entry["variant"], str):
            raise ScenarioError(source, f"{field_name}.variant", "must be a variant name")
        values["variant"] = entry["variant"]
    for f in own:
        where = f"{field_name}.{f.name}"
        if f.name not in entry:
            if _required(f):
                raise ScenarioError(source, where, f"`{verb}` needs `{f.name}`")
            continue
        values[f.name] = _parse_field(f, entry[f.name], entry, source, where)
    if cls is Load and not values.keys() & {"reads_per_s", "writes_per_s"}:
        raise ScenarioError(source, field_name, "`load` needs `reads_per_s`, `writes_per_s` or both")
    return cls(**values)


def _parse_field(f: Any, raw: Any, entry: dict[str, Any], source: str, where: str) -> Any:
    kind = f.metadata["parse"]
    if kind == "target":
        if raw not in TARGETS:
            raise ScenarioError(source, where, f"{raw!r} is not a target; use one of {', '.join(TARGETS)}")
        return raw
    if kind == "number":
        return f.metadata["range"].check(raw, source, where)
    if kind == "count":
        return f.metadata["range"].check_whole(raw, source, where)
    if kind == "key":
        if not isinstance(raw, str) or raw not in KNOBS:
            raise ScenarioError(source, where, f"unknown knob {raw!r}; see `python -m sandbox knobs`")
        return raw
    key = entry.get("key")
    return validate_knob(key, raw, source, where) if isinstance(key, str) and key in KNOBS else raw


def command_to_table(command: Command) -> dict[str, Any]:
    """The inverse of parse_command: the timeline table that reads back as `command`."""
    table: dict[str, Any] = {"at": command.at, "do": command.verb}
    for f in _own_fields(type(command)):
        value = getattr(command, f.name)
        if value is not None:
            table[f.name] = value
    if command.variant is not None:
        table["variant"] = command.variant
    return table
