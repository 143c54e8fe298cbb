"""Challenges (`challenges/*.toml`): a broken system, a goal, constraints, staged hints and a reference solution.

A challenge is a scenario with one variant, the learner's: its load, fixed knobs, timeline of faults and goal
(`[[expect]]` tables without `variant`) are the challenge's; its design (architecture and the knobs the
constraints let the learner change) is the learner's. `[start]` is the broken design the learner begins from,
`[solution]` the reference design. A design is checked against the constraints before it runs: a violation is
a message, never a run. Every error names the file and the field.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from sandbox.catalog import CHALLENGE_DIR, display_path, read_text
from sandbox.model.bounds import Range
from sandbox.model.errors import ScenarioError
from sandbox.model.knobs import KNOBS, Knobs, flatten, validate_knob, validate_knobs
from sandbox.model.metrics import FRAME_METRICS, MetricName, is_frame_metric, is_metric
from sandbox.model.scenario import ARCHITECTURES, Scenario, Variant, check_budget, parse_scenario, parse_toml
from sandbox.teach.lessons import lesson_ids

VARIANT = "yours"
"""The one variant a challenge runs: the learner's design."""
TOP_LEVEL = ("id", "title", "brief", "lesson", "duration", "seed", "watch", "hints", "load", "knobs", "start",
             "constraints", "solution", "timeline", "expect", "tempting")
REQUIRED = ("id", "title", "brief", "duration", "watch", "hints", "start", "constraints", "solution", "expect")
CONSTRAINT_FIELDS = ("architectures", "knobs", "at_most", "at_least")
MIN_HINTS = 2


class ChallengeError(ScenarioError):
    """A challenge file is not valid: names the file and the field."""


@dataclass(frozen=True)
class Design:
    """What the learner decides: an architecture and knob values (flat dotted keys, validated)."""

    architecture: str
    knobs: Mapping[str, Any]

    def describe(self) -> str:
        settings = ", ".join(f"{key} = {value!r}" for key, value in sorted(self.knobs.items()))
        return f"{self.architecture}" + (f"; {settings}" if settings else "")


@dataclass(frozen=True)
class Constraints:
    architectures: tuple[str, ...]
    knobs: tuple[str, ...]
    """The knobs the learner may change, in the order the page shows them."""
    at_most: Mapping[str, float]
    at_least: Mapping[str, float]

    def input_range(self, key: str) -> Range:
        """The documented range of a number the learner may type: the knob's own, narrowed by the constraints."""
        knob = KNOBS[key]
        assert knob.range is not None, f"{key} is not a number"
        return Range(max(knob.range.minimum, self.at_least.get(key, knob.range.minimum)),
                     min(knob.range.maximum, self.at_most.get(key, knob.range.maximum)),
                     knob.range.unit, knob.range.whole)

    def describe(self) -> list[str]:
        """The constraints in plain words, one line each."""
        lines = [f"architecture: {' or '.join(self.architectures)}"]
        for key in self.knobs:
            knob = KNOBS[key]
            if knob.choices:
                allowed = " | ".join(str(c) for c in knob.choices)
            elif knob.range is None:
                allowed = "on or off"
            else:
                allowed = str(self.input_range(key))
            lines.append(f"{key}: {allowed}")
        return lines


@dataclass(frozen=True)
class Tempting:
    """A design that looks right and fails: why it tempts, and the metric of the goal that catches it."""

    name: str
    why: str
    design: Design
    fails: MetricName


@dataclass(frozen=True)
class Challenge:
    id: str
    title: str
    brief: str
    lesson_id: str | None
    watch: tuple[MetricName, ...]
    hints: tuple[str, ...]
    start: Design
    constraints: Constraints
    solution: Design
    solution_why: str
    scenario: Scenario
    """The challenge run with the start design as its one variant."""
    source: str
    tempting: tuple[Tempting, ...] = ()

    def scenario_for(self, design: Design) -> Scenario:
        """The challenge's run with `design` as its one variant."""
        return replace(self.scenario, variants=(Variant(VARIANT, design.architecture, dict(design.knobs)),))

    def knobs_of(self, design: Design) -> Knobs:
        """Every knob's value under `design` at the start of the run."""
        return self.scenario.knobs_for(Variant(VARIANT, design.architecture, dict(design.knobs)))

    def with_changes(self, architecture: str, changes: Mapping[str, Any]) -> Design:
        """The start design with the learner's changes (values as typed; validated against each knob)."""
        knobs = dict(self.start.knobs)
        for key, value in changes.items():
            knobs[key] = validate_knob(key, value, self.id, key)
        return Design(architecture, knobs)

    def violations(self, design: Design) -> list[str]:
        """Why `design` breaks the constraints, in words; empty when it keeps them."""
        problems = []
        if design.architecture not in self.constraints.architectures:
            problems.append(f"the architecture must be {' or '.join(self.constraints.architectures)}, "
                            f"not {design.architecture}")
        start, mine = self.knobs_of(self.start), self.knobs_of(design)
        for key in sorted(design.knobs):
            if key not in self.constraints.knobs and mine.get(key) != start.get(key):
                problems.append(f"{key} is not yours to change here (it stays {start.get(key)!r})")
        for key in self.constraints.knobs:
            value = mine.get(key)
            if key in self.constraints.at_most and value > self.constraints.at_most[key]:
                problems.append(f"{key} = {value:g} is more than the {self.constraints.at_most[key]:g} allowed")
            if key in self.constraints.at_least and value < self.constraints.at_least[key]:
                problems.append(f"{key} = {value:g} is less than the {self.constraints.at_least[key]:g} required")
        conflict = mine.conflict()
        if conflict is not None:
            problems.append(f"{conflict[0]}: {conflict[1]}")
        try:
            check_budget(self.scenario_for(design))
        except ScenarioError as exc:
            problems.append(exc.problem)
        return problems


# loading ------------------------------------------------------------------------------------------------------


def challenge_paths(directory: Path = CHALLENGE_DIR) -> list[Path]:
    return sorted(directory.glob("*.toml"))


def load_challenges(directory: Path = CHALLENGE_DIR) -> list[Challenge]:
    challenges = [load_challenge(path) for path in challenge_paths(directory)]
    seen: dict[str, str] = {}
    for challenge in challenges:
        if challenge.id in seen:
            raise ChallengeError(challenge.source, "id", f"{challenge.id!r} is also the id of {seen[challenge.id]}")
        seen[challenge.id] = challenge.source
    return challenges


def load_challenge(path: str | Path) -> Challenge:
    source = display_path(path)
    try:
        text = read_text(path)
    except ScenarioError as exc:
        raise ChallengeError(source, "", exc.problem) from None
    return parse_challenge_text(text, source)


def parse_challenge_text(text: str, source: str = "<challenge>") -> Challenge:
    try:
        doc = parse_toml(text, source)
    except ScenarioError as exc:
        raise ChallengeError(source, exc.field, exc.problem) from None
    return parse_challenge(doc, source)


def parse_challenge(doc: dict[str, Any], source: str = "<challenge>") -> Challenge:
    """Validate a decoded challenge; raise ChallengeError naming the file and the field."""
    try:
        return _parse(doc, source)
    except ChallengeError:
        raise
    except ScenarioError as exc:  # a knob, action or expectation, in the scenario loader's words
        raise ChallengeError(exc.source, exc.field, exc.problem) from None


def _parse(doc: dict[str, Any], source: str) -> Challenge:
    for key in doc:
        if key not in TOP_LEVEL:
            raise ChallengeError(source, key, f"unknown field; allowed: {', '.join(TOP_LEVEL)}")
    for key in REQUIRED:
        if key not in doc:
            raise ChallengeError(source, key, "is required")
    challenge_id = _text(doc, "id", source)
    lesson_id = _text(doc, "lesson", source) if "lesson" in doc else None
    if lesson_id is not None and lesson_id not in lesson_ids():
        raise ChallengeError(source, "lesson", f"{lesson_id!r} is not a lesson; use one of {', '.join(lesson_ids())}")
    watch: list[MetricName] = []
    for i, name in enumerate(_texts(doc, "watch", source, 1)):
        if not is_frame_metric(name):
            raise ChallengeError(source, f"watch[{i}]", f"{name!r} is not a per-second metric; use one of "
                                                         f"{', '.join(FRAME_METRICS)}")
        watch.append(name)
    hints = _texts(doc, "hints", source, MIN_HINTS)
    start = _design(doc["start"], source, "start")
    solution_table = _table(doc["solution"], source, "solution")
    if "why" not in solution_table:
        raise ChallengeError(source, "solution.why", "is required: why the reference design works")
    solution_why = _text(solution_table, "why", source, "solution.why")
    solution = _design({k: v for k, v in solution_table.items() if k != "why"}, source, "solution")
    constraints = _constraints(doc["constraints"], source)

    for key in ("timeline", "expect"):
        for i, entry in enumerate(doc.get(key, [])):
            if isinstance(entry, dict) and "variant" in entry:
                raise ChallengeError(source, f"{key}[{i}].variant",
                                     "a challenge runs one design, the learner's; leave variant out")
    expect = doc["expect"]
    if not isinstance(expect, list) or not expect:
        raise ChallengeError(source, "expect", "needs at least one [[expect]] table: the goal")
    scenario_doc = {
        "id": challenge_id, "title": doc["title"], "summary": doc["brief"], "duration": doc["duration"],
        "seed": doc.get("seed", 1), "load": doc.get("load", {}), "knobs": doc.get("knobs", {}),
        "variants": {VARIANT: {"architecture": start.architecture, **start.knobs}},
        "timeline": doc.get("timeline", []),
        "expect": [{**e, "variant": VARIANT} if isinstance(e, dict) else e for e in expect],
    }
    scenario = parse_scenario(scenario_doc, source)
    if not scenario.timeline:
        raise ChallengeError(source, "timeline", "a challenge needs something to break: at least one [[timeline]]")

    challenge = Challenge(challenge_id, scenario.title, scenario.summary, lesson_id, tuple(watch), hints, start,
                          constraints, solution, solution_why, scenario, source,
                          _tempting(doc.get("tempting", []), {e.metric for e in scenario.expectations}, source))
    for name, design in (("start", start), ("solution", solution)):
        broken = challenge.violations(design)
        if broken:
            raise ChallengeError(source, name, f"breaks the challenge's own constraints: {'; '.join(broken)}")
    return challenge


def _tempting(raw: Any, goal_metrics: set[str], source: str) -> tuple[Tempting, ...]:
    """The [[tempting]] tables: name, why, fails (a metric of one of the goal's expectations) and a design."""
    if not isinstance(raw, list):
        raise ChallengeError(source, "tempting", "must be a list of [[tempting]] tables")
    designs = []
    for i, entry in enumerate(raw):
        where = f"tempting[{i}]"
        table = _table(entry, source, where)
        for key in ("name", "why", "fails"):
            if key not in table:
                raise ChallengeError(source, f"{where}.{key}", "is required")
        name, why = _text(table, "name", source, f"{where}.name"), _text(table, "why", source, f"{where}.why")
        fails = _text(table, "fails", source, f"{where}.fails")
        if fails not in goal_metrics:
            raise ChallengeError(source, f"{where}.fails", f"{fails!r} is not the metric of one of the goal's "
                                                           f"expectations ({', '.join(sorted(goal_metrics))})")
        assert is_metric(fails)
        design = _design({k: v for k, v in table.items() if k not in ("name", "why", "fails")}, source, where)
        designs.append(Tempting(name, why, design, fails))
    return tuple(designs)


def _design(raw: Any, source: str, where: str) -> Design:
    table = _table(raw, source, where)
    architecture = table.get("architecture")
    if architecture not in ARCHITECTURES:
        raise ChallengeError(source, f"{where}.architecture",
                             f"{architecture!r} is not allowed; use one of {', '.join(ARCHITECTURES)}")
    knobs = validate_knobs({k: v for k, v in table.items() if k != "architecture"}, source, where)
    for key in knobs:
        if key.startswith("load."):
            raise ChallengeError(source, f"{where}.{key}", "the load is the challenge's, not a design's: use [load]")
    return Design(architecture, knobs)


def _constraints(raw: Any, source: str) -> Constraints:
    table = _table(raw, source, "constraints")
    for key in table:
        if key not in CONSTRAINT_FIELDS:
            raise ChallengeError(source, f"constraints.{key}",
                                 f"unknown field; allowed: {', '.join(CONSTRAINT_FIELDS)}")
    if "architectures" not in table:
        raise ChallengeError(source, "constraints.architectures", "is required: the architectures a design may use")
    architectures = _texts(table, "architectures", source, 1, "constraints.architectures")
    for i, name in enumerate(architectures):
        if name not in ARCHITECTURES:
            raise ChallengeError(source, f"constraints.architectures[{i}]",
                                 f"{name!r} is not an architecture; use one of {', '.join(ARCHITECTURES)}")
    knobs = _texts(table, "knobs", source, 0, "constraints.knobs") if "knobs" in table else ()
    for i, key in enumerate(knobs):
        if key not in KNOBS:
            raise ChallengeError(source, f"constraints.knobs[{i}]",
                                 f"unknown knob {key!r}; see `python -m sandbox knobs`")
        if key.startswith("load."):
            raise ChallengeError(source, f"constraints.knobs[{i}]", "the load is the challenge's, not a design's")
    if len(architectures) < 2 and not knobs:
        raise ChallengeError(source, "constraints", "leaves the learner nothing to change: allow two architectures "
                                                    "or at least one knob")
    bounds = {}
    for side in ("at_most", "at_least"):
        flat = flatten(_table(table.get(side, {}), source, f"constraints.{side}"), source=source)
        for key, value in flat.items():
            where = f"constraints.{side}.{key}"
            if key not in knobs:
                raise ChallengeError(source, where, "bounds only a knob listed in constraints.knobs")
            if KNOBS[key].range is None:
                raise ChallengeError(source, where, f"{key} is not a number")
            flat[key] = validate_knob(key, value, source, where)
        bounds[side] = flat
    return Constraints(architectures, knobs, bounds["at_most"], bounds["at_least"])


def _table(value: Any, source: str, where: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise ChallengeError(source, where, "must be a table")
    return value


def _text(table: dict[str, Any], key: str, source: str, where: str = "") -> str:
    value = table[key]
    if not isinstance(value, str) or not value.strip():
        raise ChallengeError(source, where or key, "must be a non-empty string")
    return value.strip()


def _texts(table: dict[str, Any], key: str, source: str, minimum: int, where: str = "") -> tuple[str, ...]:
    value = table[key]
    where = where or key
    if not isinstance(value, list) or len(value) < minimum:
        raise ChallengeError(source, where, f"must be a list of at least {minimum} string{'s' if minimum != 1 else ''}")
    for i, item in enumerate(value):
        if not isinstance(item, str) or not item.strip():
            raise ChallengeError(source, f"{where}[{i}]", "must be a non-empty string")
    return tuple(item.strip() for item in value)
