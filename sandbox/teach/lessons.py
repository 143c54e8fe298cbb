"""Lessons (`lessons/*.md`) and interview cards (`lessons/interview.toml`): format, loader and validation.

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
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sandbox.catalog import CARDS_PATH, LESSON_DIR, display_path, load_scenario, read_text, scenario_paths
from sandbox.model.commands import Command
from sandbox.model.errors import ScenarioError
from sandbox.model.expectations import Expectation
from sandbox.model.metrics import FRAME_METRICS
from sandbox.model.scenario import Scenario, parse_scenario
from sandbox.teach.code_refs import CodeRef, parse_code_ref
from sandbox.teach.estimates import Estimate, EstimateError, parse_estimate

DEFAULT_SCENARIO = "happy-path"
FRONT_FIELDS = ("id", "title", "goal", "scenario")
STEP_FIELDS = ("predict", "answer", "choice", "number", "tolerance", "unit", "estimate", "why", "hint", "observe_s",
               "watch", "actions", "run", "code", "expect")
CHOICE_FIELDS = ("text", "wrong")
NUMBER_FIELDS = ("number", "tolerance", "unit", "estimate")
CARD_FIELDS = ("id", "topic", "question", "answer", "key_points", "follow_up", "lessons", "scenario")
_ID = re.compile(r"^[a-z0-9][a-z0-9-]*$")
_FIELD = re.compile(r"^([A-Za-z_]+)(?:\[(\d+)\])?(?:\.([A-Za-z_]+))?")
_TOML_AT = re.compile(r"\s*\(at line (\d+), column (\d+)\)$")
_FENCE = re.compile(r"^\s*(```|~~~)")


class LessonError(ScenarioError):
    """A lesson or interview card is not valid: names the file, the line and the field."""

    def __init__(self, source: str, line: int, field: str, problem: str):
        super().__init__(f"{source}:{line}" if line else source, field, problem)
        self.source = source
        self.line = line


@dataclass(frozen=True)
class Number:
    """A numeric prediction: right when within `tolerance` of `answer`; `estimate` is the theory behind it."""

    answer: float
    tolerance: float
    unit: str
    estimate: Estimate

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
    watch: tuple[str, ...]
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


@dataclass(frozen=True)
class Card:
    id: str
    topic: str
    question: str
    answer: str
    key_points: tuple[str, ...]
    follow_up: str
    """The question a senior interviewer asks next."""
    review: tuple[str, ...]
    """The ids of the lessons to review when an answer missed key points."""
    scenario_id: str
    source: str
    line: int


# loading ------------------------------------------------------------------------------------------------------


def lesson_paths(directory: Path = LESSON_DIR) -> list[Path]:
    """Every lesson file, in the order a learner takes them (by file name); README.md is not a lesson."""
    return sorted(p for p in directory.glob("*.md") if p.name != "README.md")


def load_lessons(directory: Path = LESSON_DIR) -> list[Lesson]:
    lessons = [load_lesson(path) for path in lesson_paths(directory)]
    seen: dict[str, str] = {}
    for lesson in lessons:
        if lesson.id in seen:
            line = _Block(lesson.source, tuple(_read(lesson.source).splitlines()), 1).line_of("id")
            raise LessonError(lesson.source, line, "id", f"{lesson.id!r} is also the id of {seen[lesson.id]}")
        seen[lesson.id] = lesson.source
    return lessons


def load_lesson(path: str | Path) -> Lesson:
    return parse_lesson_text(_read(path), display_path(path))


def lesson_ids(directory: Path = LESSON_DIR) -> dict[str, str]:
    """Every lesson's id and title in order, from the front matter alone (no scenario is loaded): what cards
    and challenges link to."""
    ids = {}
    for path in lesson_paths(directory):
        source = display_path(path)
        lines = _read(path).splitlines()
        close = next((i for i in range(1, len(lines)) if lines[i].strip() == "+++"), None)
        if not lines or lines[0].strip() != "+++" or close is None:
            raise LessonError(source, 1, "", "a lesson starts with TOML front matter between two +++ lines")
        front = _Block(source, tuple(lines[1:close]), 2)
        meta = front.decode()
        _check_fields(meta, FRONT_FIELDS, ("id", "title", "goal"), front)
        ids[_text(meta, "id", front)] = _text(meta, "title", front)
    return ids


def load_cards(path: str | Path = CARDS_PATH) -> list[Card]:
    return parse_cards_text(_read(path), display_path(path))


def _read(path: str | Path) -> str:
    try:
        return read_text(path)
    except ScenarioError as exc:
        raise LessonError(display_path(path), 0, "", exc.problem) from None


# TOML regions of a file, and the line a field is on ------------------------------------------------------------


@dataclass(frozen=True)
class _Block:
    """Lines of TOML inside a file; `first_line` is the file's line number of lines[0]."""

    source: str
    lines: tuple[str, ...]
    first_line: int
    prefix: str = ""

    def decode(self) -> dict[str, Any]:
        try:
            return tomllib.loads("\n".join(self.lines))
        except tomllib.TOMLDecodeError as exc:
            message = str(exc)
            at = _TOML_AT.search(message)
            if at:
                line = self.first_line + int(at.group(1)) - 1
                problem = f"not valid TOML: {message[:at.start()]} (column {at.group(2)})"
            else:
                line = self.first_line + max(len(self.lines) - 1, 0)
                problem = f"not valid TOML: {message}"
            raise LessonError(self.source, line, self.prefix, problem) from None

    def error(self, field: str, problem: str) -> LessonError:
        shown = " ".join(part for part in (self.prefix, field) if part)
        return LessonError(self.source, self.line_of(field), shown, problem)

    def line_of(self, field: str) -> int:
        """The file line that holds `field` (`key`, `table[i]`, `table[i].key`, `array[i]`), or the block's first."""
        match = _FIELD.match(field)
        if not match:
            return self.first_line
        name, index, key = match.group(1), match.group(2), match.group(3)
        lines = self.lines
        header = re.compile(rf"^\s*\[\[\s*{name}\s*\]\]")
        headers = [i for i, line in enumerate(lines) if header.match(line)]
        if headers:
            start = headers[min(int(index or 0), len(headers) - 1)]
            end = next((i for i in range(start + 1, len(lines)) if lines[i].lstrip().startswith("[")), len(lines))
            found = self._assignment(key, start + 1, end) if key else None
            return self.first_line + (start if found is None else found)
        found = self._assignment(name, 0, len(lines))
        if found is None:
            return self.first_line
        if index is not None:
            found = self._nth_item(found, int(index))
        return self.first_line + found

    def _assignment(self, key: str, start: int, end: int) -> int | None:
        pattern = re.compile(rf"^\s*{re.escape(key)}\s*=")
        return next((i for i in range(start, end) if pattern.match(self.lines[i])), None)

    def _nth_item(self, start: int, index: int) -> int:
        """The line where the index-th element of the array assigned on line `start` begins."""
        depth, seen, expecting, quote = 0, -1, False, ""
        for i in range(start, len(self.lines)):
            text = self.lines[i].split("=", 1)[1] if i == start else self.lines[i]
            escaped = False
            for ch in text:
                if quote:
                    if escaped:
                        escaped = False
                    elif ch == "\\" and quote == '"':
                        escaped = True
                    elif ch == quote:
                        quote = ""
                    continue
                if ch == "#":
                    break
                if depth == 1 and expecting and not ch.isspace() and ch not in ",]":
                    seen, expecting = seen + 1, False
                    if seen == index:
                        return i
                if ch in "\"'":
                    quote = ch
                elif ch in "[{":
                    depth += 1
                    expecting = expecting or depth == 1
                elif ch in "]}":
                    depth -= 1
                    if depth == 0:
                        return start
                elif ch == "," and depth == 1:
                    expecting = True
        return start


# lessons ------------------------------------------------------------------------------------------------------


def parse_lesson_text(text: str, source: str = "<lesson>") -> Lesson:
    """Validate a lesson file's text; raise LessonError naming the file, line and field."""
    lines = text.splitlines()
    if not lines or lines[0].strip() != "+++":
        raise LessonError(source, 1, "", "a lesson starts with TOML front matter between two +++ lines")
    close = next((i for i in range(1, len(lines)) if lines[i].strip() == "+++"), None)
    if close is None:
        raise LessonError(source, 1, "", "the front matter opened here has no closing +++ line")
    front = _Block(source, tuple(lines[1:close]), 2)
    meta = front.decode()
    _check_fields(meta, FRONT_FIELDS, ("id", "title", "goal"), front)
    lesson_id = _text(meta, "id", front)
    if not _ID.match(lesson_id):
        raise front.error("id", f"{lesson_id!r}: use lower-case letters, digits and dashes")
    scenario_id = _text(meta, "scenario", front) if "scenario" in meta else DEFAULT_SCENARIO
    base = _scenario(scenario_id, front, "scenario")

    intro, sections = _sections(lines, close + 1, source)
    if not sections:
        raise LessonError(source, close + 1, "", "a lesson needs at least one step: a `## Step title` heading")
    steps = tuple(_parse_step(number, title, line, body, source, base)
                  for number, (title, line, body) in enumerate(sections, start=1))
    return Lesson(lesson_id, _text(meta, "title", front), _text(meta, "goal", front), intro, scenario_id, steps,
                  source)


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
    block = _Block(source, tuple(body[opening + 1:closing]), line + opening + 2, where)
    explain = "\n".join(body[closing + 1:]).strip()
    if not explain:
        raise LessonError(source, line, where, f"{title!r}: needs an explanation (markdown after its ```toml block)")

    data = block.decode()
    if "expect" not in data:
        raise block.error("", "needs at least one [[expect]] table: the claim the step makes")
    _check_fields(data, STEP_FIELDS, ("predict", "why", "watch"), block)
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
    watch = _texts(data, "watch", block, minimum=1)
    for i, name in enumerate(watch):
        if name not in FRAME_METRICS:
            raise block.error(f"watch[{i}]", f"{name!r} is not a per-second metric; use one of "
                                             f"{', '.join(FRAME_METRICS)}")
    expect = data["expect"]
    if not isinstance(expect, list) or not expect:
        raise block.error("expect", "needs at least one [[expect]] table: the claim the step makes")

    if ("actions" in data) == ("run" in data):
        raise block.error("", "needs exactly one of `actions` (a list of timeline actions) or `run` (a scenario id)")
    if "run" in data:
        if "observe_s" in data:
            raise block.error("observe_s", "a `run` step plays its whole scenario; leave observe_s out")
        run = _text(data, "run", block)
        scenario = _scenario(run, block, "run")
        actions: tuple[Command, ...] = ()
        expectations = _validated(scenario, scenario.duration_s, [], expect, block).expectations
        observe_s = scenario.duration_s
    else:
        run = None
        observe_s = _observe_s(data, block)
        checked = _validated(base, observe_s, _action_list(data["actions"], observe_s, block), expect, block)
        actions, expectations = checked.timeline, checked.expectations
    return Step(title, _text(data, "predict", block), choices, answer, wrong, estimate, _text(data, "why", block),
                _text(data, "hint", block) if "hint" in data else "", observe_s, watch, actions, run, code,
                expectations, explain, line)


def _choices(data: dict[str, Any], block: _Block) -> tuple[tuple[str, ...], int, tuple[str, ...]]:
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
        _check_fields(entry, CHOICE_FIELDS, ("text",), block, where)
        texts.append(_text(entry, "text", block, where))
        if i == answer - 1:
            if "wrong" in entry:
                raise block.error(f"{where}.wrong", "is the right choice: explain it in the step's `why`")
            wrong.append("")
        elif "wrong" not in entry:
            raise block.error(where, "`wrong` is required: why a learner who picks this choice is wrong")
        else:
            wrong.append(_text(entry, "wrong", block, where))
    return tuple(texts), answer - 1, tuple(wrong)


def _number(data: dict[str, Any], block: _Block) -> Number:
    if "answer" in data:
        raise block.error("answer", "belongs to a choice; a numeric step's answer is `number`")
    for key in NUMBER_FIELDS:
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
    return Number(float(number), float(tolerance), _text(data, "unit", block), estimate)


def _code(data: dict[str, Any], block: _Block) -> tuple[CodeRef, ...]:
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


def _observe_s(data: dict[str, Any], block: _Block) -> float:
    if "observe_s" not in data:
        raise block.error("observe_s", "an `actions` step needs observe_s: how many seconds it runs")
    value = data["observe_s"]
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise block.error("observe_s", f"{value!r}: use a whole number of seconds, 1 or more")
    return float(value)


def _action_list(raw: Any, observe_s: float, block: _Block) -> list[Any]:
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
               block: _Block) -> Scenario:
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


# interview cards --------------------------------------------------------------------------------------------


def parse_cards_text(text: str, source: str = "<cards>", lessons: dict[str, str] | None = None) -> list[Card]:
    """Validate `[[card]]` tables against the lessons they send a learner to (id -> title; default: the shipped
    lessons); raise LessonError naming the file, line and field."""
    known = lesson_ids() if lessons is None else lessons
    block = _Block(source, tuple(text.splitlines()), 1)
    doc = block.decode()
    for key in doc:
        if key != "card":
            raise block.error(key, "unknown field; a cards file holds only [[card]] tables")
    raw = doc.get("card")
    if not isinstance(raw, list) or not raw:
        raise block.error("card", "needs at least one [[card]] table")
    cards: list[Card] = []
    seen: set[str] = set()
    for i, entry in enumerate(raw):
        where = f"card[{i}]"
        if not isinstance(entry, dict):
            raise block.error(where, "must be a table ([[card]])")
        _check_fields(entry, CARD_FIELDS, CARD_FIELDS, block, where)
        card_id = _text(entry, "id", block, where)
        if not _ID.match(card_id) or card_id in seen:
            raise block.error(f"{where}.id", f"{card_id!r}: use a unique id of lower-case letters, digits and dashes")
        seen.add(card_id)
        scenario_id = _text(entry, "scenario", block, where)
        _scenario(scenario_id, block, f"{where}.scenario")
        reviews = _texts(entry, "lessons", block, 1, where)
        for j, lesson_id in enumerate(reviews):
            if lesson_id not in known:
                raise block.error(f"{where}.lessons[{j}]", f"{lesson_id!r} is not a lesson; use one of "
                                                           f"{', '.join(known)}")
        cards.append(Card(card_id, _text(entry, "topic", block, where), _text(entry, "question", block, where),
                          _text(entry, "answer", block, where), _texts(entry, "key_points", block, 1, where),
                          _text(entry, "follow_up", block, where), reviews, scenario_id, source,
                          block.line_of(where)))
    return cards


# shared checks ----------------------------------------------------------------------------------------------


def _check_fields(table: dict[str, Any], allowed: tuple[str, ...], required: tuple[str, ...], block: _Block,
                  where: str = "") -> None:
    prefix = f"{where}." if where else ""
    for key in table:
        if key not in allowed:
            raise block.error(f"{prefix}{key}", f"unknown field; allowed: {', '.join(allowed)}")
    for key in required:
        if key not in table:
            raise block.error(where, f"`{key}` is required")


def _text(table: dict[str, Any], key: str, block: _Block, where: str = "") -> str:
    value = table[key]
    field = f"{where}.{key}" if where else key
    if not isinstance(value, str) or not value.strip():
        raise block.error(field, "must be a non-empty string")
    return value.strip()


def _texts(table: dict[str, Any], key: str, block: _Block, minimum: int, where: str = "") -> tuple[str, ...]:
    value = table[key]
    field = f"{where}.{key}" if where else key
    if not isinstance(value, list) or len(value) < minimum:
        raise block.error(field, f"must be a list of at least {minimum} string{'s' if minimum > 1 else ''}")
    for i, item in enumerate(value):
        if not isinstance(item, str) or not item.strip():
            raise block.error(f"{field}[{i}]", "must be a non-empty string")
    return tuple(item.strip() for item in value)


def _scenario(scenario_id: str, block: _Block, field: str) -> Scenario:
    """The shipped scenario with this id; its own errors name its own file."""
    paths = {p.stem: p for p in scenario_paths()}
    if scenario_id not in paths:
        raise block.error(field, f"{scenario_id!r} is not a scenario in scenarios/; use one of {', '.join(paths)}")
    return load_scenario(paths[scenario_id])
