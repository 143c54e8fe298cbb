"""Where the scenarios, lessons, interview cards and challenges live, and finding a scenario by id or path.

The one place that knows: an installed wheel carries them inside the package (`sandbox/_data/`, see
pyproject.toml); a checkout (an editable install included) reads the repository's top-level `scenarios/`,
`lessons/`, `challenges/` and `tasks/` folders, so an edit there shows at once.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

from sandbox.model.errors import ScenarioError
from sandbox.model.scenario import MAX_TEXT_BYTES, Scenario, parse_scenario_text

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
#: the "write the code" tasks: one folder each, with task.toml, the start, the reference and the wrong solutions
TASK_DIR = DATA_DIR / "tasks"
#: the sandbox's Streamlit settings (the theme); the wheel carries the checkout's .streamlit/config.toml
STREAMLIT_CONFIG = _PACKAGED / "streamlit.toml" if _PACKAGED.is_dir() else _REPOSITORY / ".streamlit" / "config.toml"


MAX_PATH_CHARS = 1024
"""The longest file path a command takes."""


def display_path(path: str | Path) -> str:
    """A path as messages name it: relative to the working directory when it is inside it, and cut short when it
    is longer than anyone would read."""
    text = str(path)
    if len(text) > 120:
        return text[:100] + f"… ({len(text):,} characters)"
    try:
        return str(Path(path).resolve().relative_to(Path.cwd().resolve()))
    except (ValueError, OSError):
        return text


def read_text(path: str | Path, max_bytes: int = MAX_TEXT_BYTES) -> str:
    """A small text file's contents: only a regular file (never a FIFO or a device, which could block or never
    end), at most `max_bytes`, UTF-8. Anything else is one ScenarioError naming the file and what is wrong."""
    source = display_path(path)
    if len(str(path)) > MAX_PATH_CHARS:
        raise ScenarioError(source, "", f"the path is longer than {MAX_PATH_CHARS:,} characters")
    try:
        info = os.stat(path)
        if not stat.S_ISREG(info.st_mode):
            raise ScenarioError(source, "", "is not a regular file (a folder, FIFO or device); give a file")
        if info.st_size > max_bytes:
            raise ScenarioError(source, "", f"is {info.st_size:,} bytes; the most a file here may be is "
                                            f"{max_bytes:,}")
        with open(path, "rb") as file:
            data = file.read(max_bytes + 1)
    except FileNotFoundError:
        raise ScenarioError(source, "", "no such file") from None
    except OSError as exc:
        raise ScenarioError(source, "", f"cannot be read: {exc.strerror or exc}") from None
    if len(data) > max_bytes:
        raise ScenarioError(source, "", f"is larger than {max_bytes:,} bytes")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ScenarioError(source, "", f"is not UTF-8 text (byte {exc.start})") from None


def load_scenario(path: str | Path) -> Scenario:
    """Read and validate a scenario file; ScenarioError naming the file and the field."""
    return parse_scenario_text(read_text(path), display_path(path), default_id=Path(path).stem)


def scenario_paths(directory: Path = SCENARIO_DIR) -> list[Path]:
    return sorted(directory.glob("*.toml"))


def find_scenario(ref: str, directory: Path = SCENARIO_DIR) -> Scenario:
    """A scenario by id (a file in scenarios/) or by the path of any TOML file."""
    for candidate in scenario_paths(directory):
        if candidate.stem == ref:
            return load_scenario(candidate)
    if len(ref) > MAX_PATH_CHARS or Path(ref).suffix == ".toml" or os.path.lexists(ref):
        return load_scenario(ref)
    known = ", ".join(p.stem for p in scenario_paths(directory)) or "none"
    raise ScenarioError(display_path(ref), "", f"no scenario with this id or path; known ids: {known}")
