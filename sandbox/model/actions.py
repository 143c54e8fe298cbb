"""Timeline verbs: faults, heals, load and knob changes (DESIGN §3)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sandbox.model.errors import ScenarioError
from sandbox.model.knobs import KNOBS, validate_knob

TARGETS = ("author", "blog", "user", "cache-worker", "broker", "redis")

# verb -> (required fields, optional fields with defaults)
VERBS: dict[str, tuple[tuple[str, ...], dict[str, Any]]] = {
    "kill": (("target",), {}),
    "revive": (("target",), {}),
    "hang": (("target",), {}),
    "heal": (("target",), {}),
    "restart": (("target", "down_s"), {}),
    "latency": (("target", "ms"), {"jitter_ms": 0.0}),
    "errors": (("target", "rate"), {}),
    "load": ((), {"reads_per_s": None, "writes_per_s": None}),
    "set": (("key", "value"), {}),
    "poison": (("count",), {}),
}

_NUMBER_FIELDS = {"down_s", "ms", "jitter_ms", "rate", "reads_per_s", "writes_per_s"}


@dataclass(frozen=True)
class Action:
    """One thing done to the system at a moment of scenario time."""

    verb: str
    at: float = 0.0
    target: str | None = None
    variant: str | None = None
    down_s: float | None = None
    ms: float | None = None
    jitter_ms: float | None = None
    rate: float | None = None
    reads_per_s: float | None = None
    writes_per_s: float | None = None
    key: str | None = None
    value: Any = None
    count: int | None = None

    def describe(self) -> str:
        """The action in plain words, e.g. 'latency user 2000 ms ± 200 ms'."""
        verb = self.verb
        if verb == "restart":
            text = f"restart {self.target} (down {self.down_s:g} s)"
        elif verb == "latency":
            text = f"latency {self.target} {self.ms:g} ms"
            if self.jitter_ms:
                text += f" ± {self.jitter_ms:g} ms"
        elif verb == "errors":
            text = f"errors {self.target} {self.rate:.0%}"
        elif verb == "load":
            parts = []
            if self.reads_per_s is not None:
                parts.append(f"{self.reads_per_s:g} reads/s")
            if self.writes_per_s is not None:
                parts.append(f"{self.writes_per_s:g} writes/s")
            text = "load " + ", ".join(parts)
        elif verb == "set":
            text = f"set {self.key} = {self.value!r}"
        elif verb == "poison":
            text = f"poison {self.count} message{'s' if self.count != 1 else ''}"
        else:
            text = f"{verb} {self.target}"
        return text if self.variant is None else f"{text} [{self.variant}]"


def _number(value: Any, source: str, field: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ScenarioError(source, field, f"{value!r} is not a number")
    if value != value or value in (float("inf"), float("-inf")):
        raise ScenarioError(source, field, f"{value!r} is not a finite number")
    if value < 0:
        raise ScenarioError(source, field, f"{value!r} is negative; it must be 0 or more")
    return float(value)


def parse_action(entry: Any, source: str = "", field: str = "action") -> Action:
    """Build an Action from a timeline table such as {"at": 10, "do": "kill", "target": "user"}."""
    if not isinstance(entry, dict):
        raise ScenarioError(source, field, "must be a table with at least `do`")
    verb = entry.get("do")
    if verb not in VERBS:
        allowed = ", ".join(VERBS)
        raise ScenarioError(source, f"{field}.do", f"{verb!r} is not a verb; use one of {allowed}")
    required, optional = VERBS[verb]
    allowed_fields = {"at", "do", "variant", *required, *optional}
    for key in entry:
        if key not in allowed_fields:
            raise ScenarioError(
                source, f"{field}.{key}",
                f"unknown field for `{verb}`; allowed: {', '.join(sorted(allowed_fields))}")
    for key in required:
        if key not in entry:
            raise ScenarioError(source, f"{field}.{key}", f"`{verb}` needs `{key}`")
    values: dict[str, Any] = {"verb": verb}
    if "at" in entry:
        values["at"] = _number(entry["at"], source, f"{field}.at")
    if "variant" in entry:
        if not isinstance(entry["variant"], str):
            raise ScenarioError(source, f"{field}.variant", "must be a variant name")
        values["variant"] = entry["variant"]
    for key, default in optional.items():
        if default is not None:
            values[key] = default
    for key in (*required, *optional):
        if key not in entry:
            continue
        raw = entry[key]
        if key == "target":
            if raw not in TARGETS:
                raise ScenarioError(
                    source, f"{field}.target", f"{raw!r} is not a target; use one of {', '.join(TARGETS)}")
            values[key] = raw
        elif key in _NUMBER_FIELDS:
            values[key] = _number(raw, source, f"{field}.{key}")
        elif key == "count":
            if isinstance(raw, bool) or not isinstance(raw, int) or raw < 1:
                raise ScenarioError(source, f"{field}.count", f"{raw!r} must be a whole number of 1 or more")
            values[key] = raw
        elif key == "key":
            if raw not in KNOBS:
                raise ScenarioError(
                    source, f"{field}.key", f"unknown knob {raw!r}; see `python -m sandbox knobs`")
            values[key] = raw
        else:
            values[key] = raw
    if verb == "errors" and values["rate"] > 1:
        raise ScenarioError(source, f"{field}.rate", f"{values['rate']!r} is a fraction from 0 to 1")
    if verb == "load" and "reads_per_s" not in values and "writes_per_s" not in values:
        raise ScenarioError(source, field, "`load` needs `reads_per_s`, `writes_per_s` or both")
    if verb == "set":
        values["value"] = validate_knob(values["key"], values["value"], source, f"{field}.value")
    return Action(**values)


def action_to_table(action: Action) -> dict[str, Any]:
    """The inverse of parse_action: the timeline table that reads back as `action`."""
    table: dict[str, Any] = {"at": action.at, "do": action.verb}
    required, optional = VERBS[action.verb]
    for key in (*required, *optional):
        value = getattr(action, key)
        if value is not None:
            table[key] = value
    if action.variant is not None:
        table["variant"] = action.variant
    return table
