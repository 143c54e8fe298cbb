"""Lessons (`lessons/*.md`): format, loader and validation (the interview cards are cards.py's).

A lesson file starts with TOML front matter between `+++` lines (`id`, `title`, `goal`, optional `scenario`),
then markdown intro prose, then its steps. A step is a `## Title` heading, a ```toml block holding the step's
data (a prediction, actions or a scenario to run, `[[expect]]` tables like a scenario's), and markdown prose
that explains it. A prediction is either a choice — `answer` and `[[choice]]` tables, each wrong choice with
its own `wrong` explanation — or a number: `number` ± `tolerance` in `unit`, with the `estimate` (a law of
queueing theory and its inputs) it must agree with. Every error names the file and the line.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sandbox.catalog import LESSON_DIR, display_path, load_scenario, scenario_paths
from sandbox.model.commands import Command
from sandbox.model.errors import ScenarioError
from sandbox.model.expectations import Expectation
from sandbox.model.metrics import FRAME_METRICS, MetricName, is_frame_metric
from sandbox.model.scenario import Scenario, parse_scenario
from sandbox.teach.blocks import Block, LessonError, check_fields, read, required_text, required_texts
from sandbox.teach.code_refs import CodeRef, parse_code_ref
from sandbox.teach.estimates import Estimate, EstimateError, parse_estimate
from sandbox.teach.measures import Measure, MeasureError, parse_measure

DEFAULT_SCENARIO = "happy-path"
FRONT_FIELDS = ("id", "title", "goal", "scenario")
STEP_FIELDS = ("predict", "answer", "choice", "number", "tolerance", "unit", "estimate", "measure", "why", "hint",
               "observe_s", "watch", "actions", "run", "code", "expect")
CHOICE_FIELDS = ("text", "wrong")
NUMBER_FIELDS = ("number", "tolerance", "unit", "estimate", "measure")
NUMBER_REQUIRED = ("number", "tolerance", "unit", "estimate")
_ID = re.compile(r"^[a-z0-9][a-z0-9-]*$")
_FENCE = re.compile(r"^\s*(```|~~~)")


@dataclass(frozen=True)
class Number:
    """A numeric prediction: right when within `tolerance` of `answer`; `estimate` is the theory behind it."""

    answer: float
    tolerance: float
    unit: str
    estimate: Estimate
    measure: Measure | None = None
    """What the step's run measured for the same number (`measures.py`)."""

    def is_right(self, value: float) -> bool:
        return abs(value - self.answer) <= self.tolerance * (1 + 1e-9)


@dataclass(frozen=True)
class Step:
    """Predict → act → observe → explain; `line` is the heading's line.

    A choice step has `choices`, the 0-based `answer` and, per choice, `wrong`: why that choice is wrong
    ("" for the answer). A numeric step has `number` instead (and no choices, `answer` None)."""

    title: str
    predict: str
    choices: tuple[str, ...]
    answer: int | None
    wrong: tuple[str, ...]
    number: Number | None
    why: str
    hint: str
    observe_s: float
    watch: tuple[MetricName, ...]
    actions: tuple[Command, ...]
    run: str | None
    code: tuple[CodeRef, ...]
    expectations: tuple[Expectation, ...]
    explain: str
    line: int

    def is_right(self, prediction: float) -> bool:
        """Whether a prediction (a 0-based choice, or a number) is right."""
        if self.number is not None:
            return self.number.is_right(prediction)
        return prediction == self.answer


@dataclass(frozen=True)
class Lesson:
    id: str
    title: str
    goal: str
    intro: str
    scenario_id: str
    steps: tuple[Step, ...]
    source: str


# loading ------------------------------------------------------------------------------------------------------


def lesson_paths(directory: Path = LESSON_DIR) -> list[Path]:
    """Every lesson file, in the order a learner takes them (by file name); README.md is not a lesson."""
    return sorted(p for p in directory.glob("*.md") if p.name != "README.md")


def load_lessons(directory: Path = LESSON_DIR) -> list[Lesson]:
    lessons = [load_lesson(path) for path in lesson_paths(directory)]
    seen: dict[str, str] = {}
    for lesson in lessons:
        if lesson.id in seen:
            line = Block(lesson.source, tuple(read(lesson.source).splitlines()), 1).line_of("id")
            raise LessonError(lesson.source, line, "id", f"{lesson.id!r} is also the id of {seen[lesson.id]}")
        seen[lesson.id] = lesson.source
    return lessons


def load_lesson(path: str | Path) -> Lesson:
    return parse_lesson_text(read(path), display_path(path))


def lesson_ids(directory: Path = LESSON_DIR) -> dict[str, str]:
    """Every lesson's id and title in order, from the front matter alone (no scenario is loaded): what cards
    and challenges link to."""
    ids = {}
    for path in lesson_paths(directory):
        source = display_path(path)
        lines = read(path).splitlines()
        close = next((i for i in range(1, len(lines)) if lines[i].strip() == "+++"), None)
        if not lines or lines[0].strip() != "+++" or close is None:
            raise LessonError(source, 1, "", "a lesson starts with TOML front matter between two +++ lines")
        front = Block(source, tuple(lines[1:close]), 2)
        meta = front.decode()
        check_fields(meta, FRONT_FIELDS, ("id", "title", "goal"), front)
        ids[required_text(meta, "id", front)] = required_text(meta, "title", front)
    return ids


# lessons ------------------------------------------------------------------------------------------------------


def parse_lesson_text(text: str, source: str = "<lesson>") -> Lesson:
    """Validate a lesson file's text; raise LessonError naming the file, line and field."""
    lines = text.splitlines()
    if not lines or lines[0].strip() != "+++":
        raise LessonError(source, 1, "", "a lesson starts with TOML front matter between two +++ lines")
    close = next((i for i in range(1, len(lines)) if lines[i].strip() == "+++"), None)
    if close is None:
        raise LessonError(source, 1, "", "the front matter opened here has no closing +++ line")
    front = Block(source, tuple(lines[1:close]), 2)
    meta = front.decode()
    check_fields(meta, FRONT_FIELDS, ("id", "title", "goal"), front)
    lesson_id = required_text(meta, "id", front)
    if not _ID.match(lesson_id):
        raise front.error("id", f"{lesson_id!r}: use lower-case letters, digits and dashes")
    scenario_id = required_text(meta, "scenario", front) if "scenario" in meta else DEFAULT_SCENARIO
    base = shipped_scenario(scenario_id, front, "scenario")

    intro, sections = _sections(lines, close + 1, source)
    if not sections:
        raise LessonError(source, close + 1, "", "a lesson needs at least one step: a `## Step title` heading")
    steps = tuple(_parse_step(number, title, line, body, source, base)
                  for number, (title, line, body) in enumerate(sections, start=1))
    return Lesson(lesson_id, required_text(meta, "title", front), required_text(meta, "goal", front), intro,
                  scenario_id, steps, source)


def _sections(lines: list[str], start: int, source: str) -> tuple[str, list[tuple[str, int, list[str]]]]:
    """The intro, then (title, heading line, body lines) per `## ` heading outside fenced code."""
    intro: list[str] = []
    sections: list[tuple[str, int, list[str]]] = []
    fenced = False
    for i in range(start, len(lines)):
        line = lines[i]
        if _FENCE.match(line):
            fenced = not fenced
        if not fenced and line.startswith("## "):
            title = line[3:].strip()
            if not title:
                raise LessonError(source, i + 1, "", "a step heading needs a title")
            sections.append((title, i + 1, []))
        elif sections:
            sections[-1][2].append(line)
        else:
            intro.append(line)
    return "\n".join(intro).strip(), sections


def _parse_step(number: int, title: str, line: int, body: list[str], source: str, base: Scenario) -> Step:
    where = f"step {number}"
    opening = next((i for i, text in enumerate(body) if text.strip()), None)
    if opening is None or body[opening].strip() != "```toml":
        raise LessonError(source, line, where, f"{title!r}: the heading must be followed by a ```toml block "
                                               "with the step's data")
    closing = next((i for i in range(opening + 1, len(body)) if body[i].strip() == "```"), None)
    if closing is None:
        raise LessonError(source, line + 1 + opening, where, "the ```toml block opened here is never closed")
    block = Block(source, tuple(body[opening + 1:closing]), line + opening + 2, where)
    explain = "\n".join(body[closing + 1:]).strip()
    if not explain:
        raise LessonError(source, line, where, f"{title!r}: needs an explanation (markdown after its ```toml block)")

    data = block.decode()
    if "expect" not in data:
        raise block.error("", "needs at least one [[expect]] table: the claim the step makes")
    check_fields(data, STEP_FIELDS, ("predict", "why", "watch"), block)
    if ("choice" in data) == ("number" in data):
        raise block.error("", "needs one kind of prediction: `answer` with [[choice]] tables, or `number` with "
                              "`tolerance`, `unit` and `estimate`")
    answer: int | None = None
    estimate: Number | None = None
    choices: tuple[str, ...] = ()
    wrong: tuple[str, ...] = ()
    if "choice" in data:
        choices, answer, wrong = _choices(data, block)
    else:
        estimate = _number(data, block)
    code = _code(data, block)
    watch: list[MetricName] = []
    for i, name in enumerate(required_texts(data, "watch", block, minimum=1)):
        if not is_frame_metric(name):
            raise block.error(f"watch[{i}]", f"{name!r} is not a per-second metric; use one of "
                                             f"{', '.join(FRAME_METRICS)}")
        watch.append(name)
    expect = data["expect"]
    if not isinstance(expect, list) or not expect:
        raise block.error("expect", "needs at least one [[expect]] table: the claim the step makes")

    if ("actions" in data) == ("run" in data):
        raise block.error("", "needs exactly one of `actions` (a list of timeline actions) or `run` (a scenario id)")
    if "run" in data:
        if "observe_s" in data:
            raise block.error("observe_s", "a `run` step plays its whole scenario; leave observe_s out")
        run = required_text(data, "run", block)
        scenario = shipped_scenario(run, block, "run")
        actions: tuple[Command, ...] = ()
        expectations = _validated(scenario, scenario.duration_s, [], expect, block).expectations
        observe_s = scenario.duration_s
    else:
        run = None
        observe_s = _observe_s(data, block)
        checked = _validated(base, observe_s, _action_list(data["actions"], observe_s, block), expect, block)
        actions, expectations = checked.timeline, checked.expectations
    predict, why = required_text(data, "predict", block), required_text(data, "why", block)
    hint = required_text(data, "hint", block) if "hint" in data else ""
    return Step(title, predict, choices, answer, wrong, estimate, why, hint, observe_s, tuple(watch), actions, run,
                code, expectations, explain, line)


def _choices(data: dict[str, Any], block: Block) -> tuple[tuple[str, ...], int, tuple[str, ...]]:
    """The choices' texts, the 0-based answer, and why each other choice is wrong."""
    for key in NUMBER_FIELDS:
        if key in data:
            raise block.error(key, "belongs to a numeric prediction; this step has [[choice]] tables")
    raw = data["choice"]
    if not isinstance(raw, list) or len(raw) < 2:
        raise block.error("choice", "needs at least two [[choice]] tables")
    if "answer" not in data:
        raise block.error("", "`answer` is required: the number of the right [[choice]]")
    answer = data["answer"]
    if isinstance(answer, bool) or not isinstance(answer, int) or not 1 <= answer <= len(raw):
        raise block.error("answer", f"{answer!r}: use the number of the right choice, 1 to {len(raw)}")
    texts, wrong = [], []
    for i, entry in enumerate(raw):
        where = f"choice[{i}]"
        if not isinstance(entry, dict):
            raise block.error(where, "must be a table ([[choice]])")
        check_fields(entry, CHOICE_FIELDS, ("text",), block, where)
        texts.append(required_text(entry, "text", block, where))
        if i == answer - 1:
            if "wrong" in entry:
                raise block.error(f"{where}.wrong", "is the right choice: explain it in the step's `why`")
            wrong.append("")
        elif "wrong" not in entry:
            raise block.error(where, "`wrong` is required: why a learner who picks this choice is wrong")
        else:
            wrong.append(required_text(entry, "wrong", block, where))
    return tuple(texts), answer - 1, tuple(wrong)


def _number(data: dict[str, Any], block: Block) -> Number:
    if "answer" in data:
        raise block.error("answer", "belongs to a choice; a numeric step's answer is `number`")
    for key in NUMBER_REQUIRED:
        if key not in data:
            raise block.error("", f"`{key}` is required for a numeric prediction")
    number, tolerance = data["number"], data["tolerance"]
    for key, value in (("number", number), ("tolerance", tolerance)):
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            raise block.error(key, f"{value!r} is not a finite number")
    if tolerance < 0:
        raise block.error("tolerance", f"{tolerance!r}: use 0 or more")
    if not isinstance(data["estimate"], dict):
        raise block.error("estimate", 'must be a table, e.g. {law = "utilisation", arrivals_per_s = 5, ...}')
    try:
        estimate = parse_estimate(data["estimate"])
    except EstimateError as exc:
        raise block.error("estimate", f"{exc.field}: {exc.problem}") from None
    if abs(estimate.value() - number) > tolerance:
        raise block.error("number", f"{number!r} ± {tolerance!r} disagrees with its estimate: {estimate.explain()}")
    measure = None
    if "measure" in data:
        if not isinstance(data["measure"], dict):
            raise block.error("measure", 'must be a table, e.g. {variant = "queue", what = "queue.depth_max"}')
        try:
            measure = parse_measure(data["measure"], float(tolerance))
        except MeasureError as exc:
            raise block.error("measure", f"{exc.field}: {exc.problem}") from None
    return Number(float(number), float(tolerance), required_text(data, "unit", block), estimate, measure)


def _code(data: dict[str, Any], block: Block) -> tuple[CodeRef, ...]:
    raw = data.get("code", [])
    if not isinstance(raw, list):
        raise block.error("code", 'must be a list of {ref = "module:qualname", focus = "..."} tables')
    refs = []
    for i, entry in enumerate(raw):
        try:
            refs.append(parse_code_ref(entry))
        except ValueError as exc:
            raise block.error(f"code[{i}]", str(exc)) from None
    return tuple(refs)


def _observe_s(data: dict[str, Any], block: Block) -> float:
    if "observe_s" not in data:
        raise block.error("observe_s", "an `actions` step needs observe_s: how many seconds it runs")
    value = data["observe_s"]
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise block.error("observe_s", f"{value!r}: use a whole number of seconds, 1 or more")
    return float(value)


def _action_list(raw: Any, observe_s: float, block: Block) -> list[Any]:
    """The step's actions as scenario timeline entries: `at` defaults to 0 and must fall inside the step."""
    if not isinstance(raw, list):
        raise block.error("actions", 'must be a list of tables, e.g. [{at = 0, do = "kill", target = "user"}]')
    entries = []
    for i, entry in enumerate(raw):
        if isinstance(entry, dict):
            at = entry.get("at", 0)
            if isinstance(at, (int, float)) and not isinstance(at, bool) and at >= observe_s:
                raise block.error(f"actions[{i}].at", f"{at!r} is not inside the step; use 0 to below {observe_s:g}")
            entry = {"at": 0, **entry}
        entries.append(entry)
    return entries


def _validated(scenario: Scenario, duration_s: float, timeline: list[Any], expect: list[Any],
               block: Block) -> Scenario:
    """Check actions and expectations exactly as the scenario loader does, against `scenario`'s variants."""
    doc = {
        "title": "step", "duration": duration_s, "timeline": timeline, "expect": expect,
        "variants": {v.name: {"architecture": v.architecture} for v in scenario.variants},
    }
    try:
        return parse_scenario(doc, "", "step")
    except ScenarioError as exc:
        field = re.sub(r"^timeline", "actions", exc.field)
        raise block.error(field, exc.problem) from None


def shipped_scenario(scenario_id: str, block: Block, field: str) -> Scenario:
    """The shipped scenario with this id; its own errors name its own file."""
    paths = {p.stem: p for p in scenario_paths()}
    if scenario_id not in paths:
        raise block.error(field, f"{scenario_id!r} is not a scenario in scenarios/; use one of {', '.join(paths)}")
    return load_scenario(paths[scenario_id])
