"""The scenario format: schema, TOML parsing and validation (reading files is sandbox/catalog.py's job)."""

from __future__ import annotations

import math
import re
import tomllib
from dataclasses import dataclass, field, replace
from typing import Any

from sandbox.model.bounds import MAX_DURATION_S, Range
from sandbox.model.budget import MAX_REQUESTS, expected_requests
from sandbox.model.commands import Command, Set, command_to_table, parse_command
from sandbox.model.errors import ScenarioError
from sandbox.model.expectations import COMPARISONS, Expectation
from sandbox.model.knobs import Knobs, resolve, validate_knob, validate_knobs
from sandbox.model.metrics import WINDOW_METRICS, is_metric

ARCHITECTURES = ("sync", "queue")
TOP_LEVEL = ("id", "title", "summary", "duration", "seed", "load", "knobs", "variants", "timeline", "expect", "live")
LIVE_FIELDS = ("duration",)
LOAD_FIELDS = ("reads_per_s", "writes_per_s", "profile_updates_per_s")
EXPECT_FIELDS = ("variant", "metric", "during", "why", *COMPARISONS)
_ID = re.compile(r"^[a-z0-9][a-z0-9-]{0,63}$")
_VARIANT = re.compile(r"^[a-z0-9][a-z0-9-]{0,39}$")
MAX_TIMELINE = 1000
MAX_TEXT_BYTES = 256 * 1024
"""The largest scenario (or lesson) file read; the shipped ones are 2 to 8 KB."""
MAX_EXPECTATIONS = 200
DURATION = Range(1, MAX_DURATION_S, "s")
SEED = Range(0, 2**31 - 1, whole=True)
MAX_TEXT = {"title": 200, "summary": 4000, "why": 1000}
"""The longest title, summary and `why` a scenario may carry, in characters."""


@dataclass(frozen=True)
class Variant:
    """An architecture plus knob overrides (flat dotted keys)."""

    name: str
    architecture: str
    knobs: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Scenario:
    id: str
    title: str
    summary: str
    duration_s: float
    seed: int
    knobs: dict[str, Any]
    variants: tuple[Variant, ...]
    timeline: tuple[Command, ...]
    expectations: tuple[Expectation, ...]
    source: str = ""
    live_duration_s: float | None = None

    def variant(self, name: str) -> Variant:
        for variant in self.variants:
            if variant.name == name:
                return variant
        raise KeyError(name)

    def knobs_for(self, variant: Variant) -> Knobs:
        """Every knob's value for one variant: defaults, then scenario, then variant overrides."""
        return resolve(self.knobs, variant.knobs)

    def knobs_at_start(self, variant: Variant) -> Knobs:
        """`knobs_for`, with every `set` at 0 s that reaches this variant already in force."""
        opening = {c.key: c.value for c in self.timeline
                   if isinstance(c, Set) and c.at == 0 and c.variant in (None, variant.name)}
        return resolve(self.knobs, variant.knobs, opening)

    def on_live_clock(self) -> Scenario:
        """The scenario as the live lab runs it: with `[live] duration`, every moment scaled to fit it."""
        if self.live_duration_s is None or self.live_duration_s == self.duration_s:
            return self
        factor = self.live_duration_s / self.duration_s
        timeline = tuple(c.scaled(factor) for c in self.timeline)
        expectations = tuple(replace(e, during=None if e.during is None else (e.during[0] * factor,
                                                                              e.during[1] * factor))
                             for e in self.expectations)
        return replace(self, duration_s=self.live_duration_s, timeline=timeline, expectations=expectations,
                       live_duration_s=None)

    def phase_bounds(self) -> list[float]:
        """Times that split the run into phases: start, each timeline moment, end."""
        return sorted({0.0, self.duration_s, *(a.at for a in self.timeline)})


DEFAULT_VARIANTS = (Variant("sync", "sync"), Variant("queue", "queue"))


def parse_scenario_text(text: str, source: str = "<scenario>", default_id: str = "scenario",
                        max_requests: int | None = MAX_REQUESTS) -> Scenario:
    return parse_scenario(parse_toml(text, source), source, default_id, max_requests)


def parse_toml(text: str, source: str) -> dict[str, Any]:
    """A TOML document of at most MAX_TEXT_BYTES, or one ScenarioError saying what is wrong with it."""
    if len(text.encode("utf-8", "surrogatepass")) > MAX_TEXT_BYTES:
        raise ScenarioError(source, "", f"is larger than {MAX_TEXT_BYTES // 1024} KB; a scenario is a few KB")
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ScenarioError(source, "TOML", f"not valid TOML ({exc})") from None
    except RecursionError:
        raise ScenarioError(source, "TOML", "is nested too deeply (arrays or tables inside each other)") from None


def _require_str(doc: dict[str, Any], key: str, source: str, default: str = "", where: str = "") -> str:
    value = doc.get(key, default)
    where = where or key
    if not isinstance(value, str):
        raise ScenarioError(source, where, "must be a string")
    limit = MAX_TEXT.get(key)
    if limit is not None and len(value) > limit:
        raise ScenarioError(source, where, f"is {len(value):,} characters long; the most is {limit:,}")
    return value


def id_from_name(name: str) -> str:
    """A valid scenario id made from a file name: 'My Scenario.toml' -> 'my-scenario'."""
    slug = re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")[:64].strip("-")
    return slug or "scenario"


def _require_table(value: Any, source: str, field_name: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise ScenarioError(source, field_name, "must be a table")
    return value


def parse_scenario(doc: dict[str, Any], source: str = "<scenario>", default_id: str = "scenario",
                   max_requests: int | None = MAX_REQUESTS) -> Scenario:
    """Validate a decoded scenario document. `max_requests` None: no work budget (a benchmark's own long runs)."""
    if not isinstance(doc, dict):
        raise ScenarioError(source, "", "must be a TOML document")
    for key in doc:
        if key not in TOP_LEVEL:
            raise ScenarioError(source, key, f"unknown field; allowed: {', '.join(TOP_LEVEL)}")
    for key in ("title", "duration"):
        if key not in doc:
            raise ScenarioError(source, key, "is required")
    scenario_id = _require_str(doc, "id", source, id_from_name(default_id))
    if not _ID.match(scenario_id):
        raise ScenarioError(source, "id", f"{scenario_id[:80]!r}: use up to 64 lower-case letters, digits and dashes")
    title = _require_str(doc, "title", source)
    summary = _require_str(doc, "summary", source)
    duration_s = DURATION.check(doc["duration"], source, "duration")
    seed = SEED.check_whole(doc.get("seed", 1), source, "seed")

    knobs = validate_knobs(_require_table(doc.get("knobs", {}), source, "knobs"), source)
    load = _require_table(doc.get("load", {}), source, "load")
    for key, value in load.items():
        if key not in LOAD_FIELDS:
            raise ScenarioError(source, f"load.{key}", f"unknown field; allowed: {', '.join(LOAD_FIELDS)}")
        knobs[f"load.{key}"] = validate_knob(f"load.{key}", value, source, f"load.{key}")

    variants = _parse_variants(doc.get("variants"), source)
    names = {v.name for v in variants}
    timeline = tuple(_parse_timeline(doc.get("timeline", []), source, duration_s, names))
    expectations = tuple(_parse_expectations(doc.get("expect", []), source, duration_s, names))
    live_duration_s = _parse_live(doc.get("live", {}), source, duration_s)
    scenario = Scenario(scenario_id, title, summary, duration_s, seed, knobs, variants, timeline,
                        expectations, source, live_duration_s)
    for variant in variants:
        _check_agreement(scenario, variant)
    if max_requests is not None:
        check_budget(scenario, max_requests)
    return scenario


def check_budget(scenario: Scenario, max_requests: int = MAX_REQUESTS) -> None:
    """Refuse, before it starts, a run that would simulate more requests than one run may (model/budget.py)."""
    asked = sum(expected_requests(scenario.knobs_for(v), scenario.timeline, v.name, scenario.duration_s)
                for v in scenario.variants)
    if asked > max_requests:
        raise ScenarioError(scenario.source, "load",
                            f"this run would simulate about {asked:,.0f} requests (rates × duration × variants); "
                            f"the most one run may is {max_requests:,}: lower the rates or shorten the run")


def _check_agreement(scenario: Scenario, variant: Variant) -> None:
    """The variant's knobs, with every `set` that reaches it, ask for nothing RabbitMQ cannot do."""
    sets = {c.key: c.value for c in scenario.timeline if isinstance(c, Set) and c.variant in (None, variant.name)}
    conflict = resolve(scenario.knobs, variant.knobs, sets).conflict()
    if conflict is not None:
        key, why = conflict
        raise ScenarioError(scenario.source, f"variants.{variant.name}.{key}", why)


def _parse_live(raw: Any, source: str, duration_s: float) -> float | None:
    """`[live] duration`: a shorter wall-clock run for the live lab; the timeline is scaled to fit."""
    table = _require_table(raw, source, "live")
    for key in table:
        if key not in LIVE_FIELDS:
            raise ScenarioError(source, f"live.{key}", f"unknown field; allowed: {', '.join(LIVE_FIELDS)}")
    if "duration" not in table:
        return None
    value = DURATION.check(table["duration"], source, "live.duration")
    if value > duration_s:
        raise ScenarioError(source, "live.duration", f"{value:g} is longer than the run ({duration_s:g} s)")
    return value


def _parse_variants(raw: Any, source: str) -> tuple[Variant, ...]:
    if raw is None:
        return DEFAULT_VARIANTS
    table = _require_table(raw, source, "variants")
    if not 1 <= len(table) <= 3:
        raise ScenarioError(source, "variants", f"has {len(table)} variants; a scenario compares 1 to 3")
    variants = []
    for name, body in table.items():
        where = f"variants.{name}"
        check_variant_name(name, source, where)
        body = _require_table(body, source, where)
        architecture = body.get("architecture")
        if architecture not in ARCHITECTURES:
            raise ScenarioError(source, f"{where}.architecture",
                                f"{architecture!r} is not allowed; use one of {', '.join(ARCHITECTURES)}")
        overrides = {k: v for k, v in body.items() if k != "architecture"}
        variants.append(Variant(name, architecture, validate_knobs(overrides, source, where)))
    return tuple(variants)


def check_variant_name(name: str, source: str = "", where: str = "variants") -> None:
    """One rule for a variant's name on both engines (the lab puts it in queue names and Redis keys)."""
    if not _VARIANT.match(name):
        raise ScenarioError(source, where, f"{name[:80]!r} is not a variant name; use up to 40 lower-case letters, "
                                           "digits and dashes, starting with a letter or digit")


def _check_variant(value: Any, names: set[str], source: str, where: str) -> None:
    if value is not None and value not in names:
        raise ScenarioError(source, where, f"{value!r} is not a variant here; use one of {', '.join(sorted(names))}")


def _parse_timeline(raw: Any, source: str, duration_s: float, names: set[str]) -> list[Command]:
    if not isinstance(raw, list):
        raise ScenarioError(source, "timeline", "must be an array of tables ([[timeline]])")
    if len(raw) > MAX_TIMELINE:
        raise ScenarioError(source, "timeline", f"has {len(raw):,} entries; the most is {MAX_TIMELINE:,}")
    commands = []
    for i, entry in enumerate(raw):
        where = f"timeline[{i}]"
        if isinstance(entry, dict) and "at" not in entry:
            raise ScenarioError(source, f"{where}.at", "is required")
        command = parse_command(entry, source, where)
        if command.at > duration_s:
            raise ScenarioError(source, f"{where}.at",
                                f"{command.at:g} is outside the run; use 0 to {duration_s:g}")
        _check_variant(command.variant, names, source, f"{where}.variant")
        commands.append(command)
    return sorted(commands, key=lambda c: c.at)


def _parse_expectations(raw: Any, source: str, duration_s: float, names: set[str]) -> list[Expectation]:
    if not isinstance(raw, list):
        raise ScenarioError(source, "expect", "must be an array of tables ([[expect]])")
    if len(raw) > MAX_EXPECTATIONS:
        raise ScenarioError(source, "expect", f"has {len(raw):,} entries; the most is {MAX_EXPECTATIONS:,}")
    out = []
    for i, entry in enumerate(raw):
        where = f"expect[{i}]"
        entry = _require_table(entry, source, where)
        for key in entry:
            if key not in EXPECT_FIELDS:
                raise ScenarioError(source, f"{where}.{key}", f"unknown field; allowed: {', '.join(EXPECT_FIELDS)}")
        for key in ("variant", "metric"):
            if key not in entry:
                raise ScenarioError(source, f"{where}.{key}", "is required")
        _check_variant(entry["variant"], names, source, f"{where}.variant")
        metric = entry["metric"]
        if not is_metric(metric) or metric not in WINDOW_METRICS:
            raise ScenarioError(source, f"{where}.metric",
                                f"{metric!r} is not a metric; use one of {', '.join(WINDOW_METRICS)}")
        ops = [op for op in COMPARISONS if op in entry]
        if len(ops) != 1:
            raise ScenarioError(source, where, f"needs exactly one of {', '.join(COMPARISONS)}")
        bound = entry[ops[0]]
        if isinstance(bound, bool) or not isinstance(bound, (int, float)) or not math.isfinite(bound):
            raise ScenarioError(source, f"{where}.{ops[0]}", f"{bound!r} is not a finite number")
        during = entry.get("during")
        if during is not None:
            during = parse_window(during, source, f"{where}.during", duration_s)
        why = _require_str(entry, "why", source, where=f"{where}.why")
        out.append(Expectation(entry["variant"], metric, ops[0], float(bound), during, why))
    return out


def parse_window(raw: Any, source: str, where: str, duration_s: float) -> tuple[float, float]:
    if (not isinstance(raw, list) or len(raw) != 2
            or any(isinstance(x, bool) or not isinstance(x, (int, float)) for x in raw)):
        raise ScenarioError(source, where, "must be [start, end] in seconds")
    start, end = float(raw[0]), float(raw[1])
    if not 0 <= start < end <= duration_s:
        raise ScenarioError(source, where,
                            f"[{start:g}, {end:g}] must satisfy 0 ≤ start < end ≤ duration ({duration_s:g})")
    return (start, end)


def scenario_to_document(scenario: Scenario) -> dict[str, Any]:
    """The TOML document that loads back as `scenario` (used to save recordings)."""
    doc: dict[str, Any] = {
        "id": scenario.id, "title": scenario.title, "summary": scenario.summary,
        "duration": scenario.duration_s, "seed": scenario.seed,
    }
    if scenario.knobs:
        doc["knobs"] = _nest(scenario.knobs)
    doc["variants"] = {
        v.name: {"architecture": v.architecture, **_nest(v.knobs)} for v in scenario.variants
    }
    if scenario.live_duration_s is not None:
        doc["live"] = {"duration": scenario.live_duration_s}
    doc["timeline"] = [command_to_table(c) for c in scenario.timeline]
    doc["expect"] = [_expectation_table(e) for e in scenario.expectations]
    return doc


def _expectation_table(e: Expectation) -> dict[str, Any]:
    table: dict[str, Any] = {"variant": e.variant, "metric": e.metric, e.comparison: e.bound}
    if e.during is not None:
        table["during"] = list(e.during)
    if e.why:
        table["why"] = e.why
    return table


def _nest(flat: dict[str, Any]) -> dict[str, Any]:
    nested: dict[str, Any] = {}
    for key, value in flat.items():
        node = nested
        *parents, leaf = key.split(".")
        for part in parents:
            node = node.setdefault(part, {})
        node[leaf] = value
    return nested

