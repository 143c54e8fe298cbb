"""Every shipped scenario and every lesson step gives the frames recorded in golden_frames.json.

A refactoring must not move a single number: each run's per-second frames (and its losses by cause) are
hashed at the scenario's own seed. A deliberate change of behaviour rewrites the file and says why in the
commit: `python -m tests.integration.test_golden_frames --write`.
"""

from __future__ import annotations

import hashlib
import json
import sys
from pathlib import Path

import pytest

from sandbox.catalog import load_scenario, scenario_paths
from sandbox.engine import run_scenario
from sandbox.present.report import run_document
from sandbox.teach.lesson_run import LessonRun
from sandbox.teach.lessons import lesson_paths, load_lesson

GOLDEN = Path(__file__).with_name("golden_frames.json")


def _digest(document: object) -> str:
    text = json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def _rounded(frames: list[dict]) -> list[dict]:
    return [{k: round(v, 6) if isinstance(v, float) else v for k, v in frame.items()} for frame in frames]


def scenario_digest(path: Path) -> str:
    document = run_document(run_scenario(load_scenario(path)))
    return _digest({"frames": document["frames"], "lost_by_cause": document["lost_by_cause"]})


def lesson_digests(path: Path) -> list[str]:
    run = LessonRun(load_lesson(path))
    digests = []
    for _ in run.lesson.steps:
        run.play_step()
        engine = run.engine
        variants = [v.name for v in run.scenario.variants] if run.step.run is None else None
        lost = {name: engine.measurements(name).lost_by_cause for name in (variants or [])}
        digests.append(_digest({"frames": _rounded(engine.frames()), "lost_by_cause": lost}))
        run.next_step()
    return digests


def record() -> dict[str, object]:
    return {
        "scenarios": {path.stem: scenario_digest(path) for path in scenario_paths()},
        "lessons": {path.stem: lesson_digests(path) for path in lesson_paths()},
    }


def _golden() -> dict:
    if not GOLDEN.exists():
        return {"scenarios": {}, "lessons": {}}
    return json.loads(GOLDEN.read_text())


@pytest.mark.parametrize("name", sorted(_golden()["scenarios"]))
def test_scenario_frames_unchanged(name: str) -> None:
    path = next(p for p in scenario_paths() if p.stem == name)
    assert scenario_digest(path) == _golden()["scenarios"][name]


@pytest.mark.parametrize("name", sorted(_golden()["lessons"]))
def test_lesson_step_frames_unchanged(name: str) -> None:
    path = next(p for p in lesson_paths() if p.stem == name)
    assert lesson_digests(path) == _golden()["lessons"][name]


def test_every_scenario_and_lesson_is_recorded() -> None:
    golden = _golden()
    assert sorted(golden["scenarios"]) == sorted(p.stem for p in scenario_paths())
    assert sorted(golden["lessons"]) == sorted(p.stem for p in lesson_paths())


if __name__ == "__main__":
    if sys.argv[1:] != ["--write"]:
        sys.exit("usage: python -m tests.integration.test_golden_frames --write")
    GOLDEN.write_text(json.dumps(record(), indent=1, sort_keys=True) + "\n")
    print(f"wrote {GOLDEN}")
