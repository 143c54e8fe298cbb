"""Where scenarios live, and finding one by id or path."""

from __future__ import annotations

from pathlib import Path

from sandbox.model.errors import ScenarioError
from sandbox.model.scenario import Scenario, load_scenario

ROOT = Path(__file__).resolve().parent.parent
SCENARIO_DIR = ROOT / "scenarios"


def scenario_paths(directory: Path = SCENARIO_DIR) -> list[Path]:
    return sorted(directory.glob("*.toml"))


def find_scenario(ref: str, directory: Path = SCENARIO_DIR) -> Scenario:
    """A scenario by id (a file in scenarios/) or by the path of any TOML file."""
    path = Path(ref)
    if path.suffix == ".toml" or path.exists():
        return load_scenario(path)
    for candidate in scenario_paths(directory):
        if candidate.stem == ref:
            return load_scenario(candidate)
    known = ", ".join(p.stem for p in scenario_paths(directory)) or "none"
    raise ScenarioError(ref, "", f"no scenario with this id or path; known ids: {known}")
