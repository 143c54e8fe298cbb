"""requirements.txt and requirements-dev.txt (the ranges the team pins) say what pyproject.toml says."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())


def normalised(requirement: str) -> str:
    """`Tomli_W >= 1.0, <2` -> `tomli-w>=1.0,<2`: the name as PEP 503 compares it, no spaces."""
    requirement = re.sub(r"\s+", "", requirement)
    name, rest = re.match(r"([A-Za-z0-9][A-Za-z0-9._-]*)(.*)", requirement).groups()
    return re.sub(r"[-_.]+", "-", name).lower() + rest


def requirements_file(name: str) -> tuple[list[str], list[str]]:
    """The requirements of a file, and its `-r` includes."""
    requirements, includes = [], []
    for line in (ROOT / name).read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if line.startswith("-r"):
            includes.append(line[2:].strip())
        elif line:
            requirements.append(normalised(line))
    return requirements, includes


def test_requirements_txt_is_the_packages_dependencies():
    requirements, includes = requirements_file("requirements.txt")
    assert includes == []
    assert sorted(requirements) == sorted(normalised(r) for r in PYPROJECT["project"]["dependencies"])


def test_requirements_dev_txt_is_requirements_txt_plus_the_dev_extra():
    requirements, includes = requirements_file("requirements-dev.txt")
    assert includes == ["requirements.txt"]
    dev = PYPROJECT["project"]["optional-dependencies"]["dev"]
    assert sorted(requirements) == sorted(normalised(r) for r in dev)


def test_every_requirement_is_a_compatible_range_with_an_upper_bound():
    for name in ("requirements.txt", "requirements-dev.txt"):
        for requirement in requirements_file(name)[0]:
            assert re.fullmatch(r"[a-z0-9-]+>=[0-9.]+,<[0-9.]+", requirement), f"{name}: {requirement}"


def test_the_console_script_is_the_cli():
    assert PYPROJECT["project"]["scripts"] == {"post-office-lab": "sandbox.cli:main"}
