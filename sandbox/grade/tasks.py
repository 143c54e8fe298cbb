"""The "write the code" tasks (`tasks/NAME/task.toml`): a consumer to write, the faults it must survive, the
invariants it is graded on, staged hints, a starting file, a reference, and the tempting wrong solutions.

```toml
id = "email-once"            # the folder's name
title = "…"
brief = "…"                  # Markdown
workload = "post-created"    # invalidation | post-created | user-updated (sandbox/grade/workloads.py)
faults = ["crash", …]        # cases.FAULT_KINDS
invariants = ["no-effect-lost", …]   # invariants.INVARIANTS
hints = ["…", "…"]           # two or more, shown one at a time
tail_s = 20                  # how long a run goes on after the last publish (virtual seconds)
staleness_bound_s = 5        # bounded-staleness only
max_deliveries = 8
start = "start.py"
reference = "reference.py"
reference_why = "…"
[[wrong]]                    # each: a tempting wrong solution and the invariant it breaks
file = "wrong/no-dedup.py"
title = "…"
breaks = "none-applied-twice"
why = "…"
```

Every file is read here and every field checked; a mistake is one TaskError naming the file and the field.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sandbox.catalog import TASK_DIR, display_path, read_text
from sandbox.grade import workloads
from sandbox.grade.cases import FAULT_KINDS, Case
from sandbox.grade.context import MailRelay
from sandbox.grade.handler import MAX_SOURCE_BYTES
from sandbox.grade.invariants import INVARIANTS, Limits
from sandbox.model.bounds import Range
from sandbox.model.errors import ScenarioError

FIELDS = ("id", "title", "brief", "workload", "faults", "invariants", "hints", "tail_s", "staleness_bound_s",
          "max_deliveries", "start", "reference", "reference_why", "wrong")
WRONG_FIELDS = ("file", "title", "breaks", "why")
TAIL_S = Range(5, 120, "s")
STALENESS_S = Range(1, 60, "s")
MAX_DELIVERIES = Range(2, 30, "deliveries", whole=True)
MIN_HINTS = 2


class TaskError(ScenarioError):
    """A task's files are not valid: names the file and the field."""


@dataclass(frozen=True)
class WrongSolution:
    file: str
    title: str
    breaks: str
    why: str
    source: str


@dataclass(frozen=True)
class Task:
    id: str
    title: str
    brief: str
    workload: str
    faults: frozenset[str]
    invariants: tuple[str, ...]
    hints: tuple[str, ...]
    tail_s: float
    limits: Limits
    start: str
    reference: str
    reference_why: str
    wrong: tuple[WrongSolution, ...]

    def relay(self, case: Case) -> MailRelay:
        """The mail relay of one case: down during its mail outages, and for good for the domain that is down."""
        down = frozenset({workloads.DOWN_DOMAIN}) if "never-succeeds" in self.faults else frozenset()
        return MailRelay(tuple((o.at_s, o.at_s + o.down_s) for o in case.outages("mail")), down)


def _text(doc: dict[str, Any], key: str, source: str) -> str:
    value = doc.get(key)
    if not isinstance(value, str) or not value.strip():
        raise TaskError(source, key, "must be a non-empty string")
    return value.strip()


def _names(doc: dict[str, Any], key: str, source: str, known: tuple[str, ...]) -> tuple[str, ...]:
    value = doc.get(key)
    if not isinstance(value, list) or not value or not all(isinstance(v, str) for v in value):
        raise TaskError(source, key, f"must be a non-empty list of: {', '.join(known)}")
    for name in value:
        if name not in known:
            raise TaskError(source, key, f"{name!r} is not one of: {', '.join(known)}")
    return tuple(value)


def _source(folder: Path, name: str, field: str, source: str) -> str:
    path = folder / name
    if Path(name).is_absolute() or ".." in Path(name).parts or path.suffix != ".py":
        raise TaskError(source, field, f"{name!r} must be a .py file inside the task's folder")
    try:
        return read_text(path, MAX_SOURCE_BYTES)
    except ScenarioError as exc:
        raise TaskError(source, field, exc.problem) from None


def load_task(folder: Path) -> Task:
    source = display_path(folder / "task.toml")
    try:
        doc = tomllib.loads(read_text(folder / "task.toml"))
    except tomllib.TOMLDecodeError as exc:
        raise TaskError(source, "", f"not valid TOML: {exc}") from None
    except ScenarioError as exc:
        raise TaskError(source, "", exc.problem) from None
    unknown = sorted(set(doc) - set(FIELDS))
    if unknown:
        raise TaskError(source, unknown[0], f"unknown field; the fields are: {', '.join(FIELDS)}")
    task_id = _text(doc, "id", source)
    if task_id != folder.name:
        raise TaskError(source, "id", f"{task_id!r} must be the folder's name, {folder.name!r}")
    workload = _text(doc, "workload", source)
    if workload not in workloads.KINDS:
        raise TaskError(source, "workload", f"{workload!r} is not one of: {', '.join(workloads.KINDS)}")
    invariants = _names(doc, "invariants", source, INVARIANTS)
    hints = doc.get("hints")
    if not isinstance(hints, list) or len(hints) < MIN_HINTS or not all(isinstance(h, str) and h for h in hints):
        raise TaskError(source, "hints", f"must list at least {MIN_HINTS} hints")
    wrong = []
    for index, raw in enumerate(doc.get("wrong", [])):
        where = f"wrong[{index}]"
        if not isinstance(raw, dict) or set(raw) != set(WRONG_FIELDS):
            raise TaskError(source, where, f"must have exactly: {', '.join(WRONG_FIELDS)}")
        breaks = _text(raw, "breaks", source)
        if breaks not in invariants:
            raise TaskError(source, f"{where}.breaks", f"{breaks!r} is not one of this task's invariants")
        wrong.append(WrongSolution(raw["file"], _text(raw, "title", source), breaks, _text(raw, "why", source),
                                   _source(folder, raw["file"], f"{where}.file", source)))
    if not wrong:
        raise TaskError(source, "wrong", "list the tempting wrong solutions, each with the invariant it breaks")
    return Task(
        task_id, _text(doc, "title", source), _text(doc, "brief", source), workload,
        frozenset(_names(doc, "faults", source, FAULT_KINDS)), invariants, tuple(hints),
        TAIL_S.check(doc.get("tail_s", 20), source, "tail_s"),
        Limits(STALENESS_S.check(doc.get("staleness_bound_s", 5), source, "staleness_bound_s"),
               MAX_DELIVERIES.check_whole(doc.get("max_deliveries", 8), source, "max_deliveries")),
        _source(folder, _text(doc, "start", source), "start", source),
        _source(folder, _text(doc, "reference", source), "reference", source),
        _text(doc, "reference_why", source), tuple(wrong))


def task_folders(directory: Path = TASK_DIR) -> list[Path]:
    return sorted(p for p in directory.iterdir() if (p / "task.toml").is_file()) if directory.is_dir() else []


def load_tasks(directory: Path = TASK_DIR) -> list[Task]:
    return [load_task(folder) for folder in task_folders(directory)]


def find_task(task_id: str, directory: Path = TASK_DIR) -> Task:
    for folder in task_folders(directory):
        if folder.name == task_id:
            return load_task(folder)
    known = ", ".join(f.name for f in task_folders(directory)) or "none"
    raise TaskError("--task", "", f"no task {task_id!r}; the tasks are: {known}")
