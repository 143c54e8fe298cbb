"""Where the scenarios, lessons, interview cards and challenges live, and finding a scenario by id or path.

The one place that knows: an installed wheel carries them inside the package (`sandbox/_data/`, see
pyproject.toml); a checkout (an editable install included) reads the repository's top-level `scenarios/`,
`lessons/` and `challenges/` folders, so an edit there shows at once.
"""

from __future__ import annotations

from pathlib import Path

from sandbox.model.errors import ScenarioError
from sandbox.model.scenario import Scenario, load_scenario

PACKAGE_DIR = Path(__file__).resolve().parent
_PACKAGED = PACKAGE_DIR / "_data"
_REPOSITORY = PACKAGE_DIR.parent

#: the repository this package runs from, or None when it runs installed from a wheel
CHECKOUT: Path | None = _REPOSITORY if (_REPOSITORY / "pyproject.toml").is_file() else None

DATA_DIR = _PACKAGED if _PACKAGED.is_dir() else _REPOSITORY
SCENARIO_DIR = DATA_DIR / "scenarios"
LESSON_DIR = DATA_DIR / "lessons"
CARDS_PATH = LESSON_DIR / "interview.toml"
CHALLENGE_DIR = DATA_DIR / "challenges"
#: the sandbox's Streamlit settings (the theme); the wheel carries the checkout's .streamlit/config.toml
STREAMLIT_CONFIG = _PACKAGED / "streamlit.toml" if _PACKAGED.is_dir() else _REPOSITORY / ".streamlit" / "config.toml"


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
