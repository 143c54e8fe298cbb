"""TOML inside lesson and card files: a block of lines that knows where it sits in its file, so every error names
the file, the line and the field; and the field checks lessons and cards share."""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sandbox.catalog import display_path, read_text
from sandbox.model.errors import ScenarioError

_FIELD = re.compile(r"^([A-Za-z_]+)(?:\[(\d+)\])?(?:\.([A-Za-z_]+))?")
_TOML_AT = re.compile(r"\s*\(at line (\d+), column (\d+)\)$")


class LessonError(ScenarioError):
    """A lesson or interview card is not valid: names the file, the line and the field."""

    def __init__(self, source: str, line: int, field: str, problem: str):
        super().__init__(f"{source}:{line}" if line else source, field, problem)
        self.source = source
        self.line = line


def read(path: str | Path) -> str:
    try:
        return read_text(path)
    except ScenarioError as exc:
        raise LessonError(display_path(path), 0, "", exc.problem) from None


@dataclass(frozen=True)
class Block:
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
        except RecursionError:
            raise LessonError(self.source, self.first_line, self.prefix, "not valid TOML: nested too deeply") from None

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


def check_fields(table: dict[str, Any], allowed: tuple[str, ...], required: tuple[str, ...], block: Block,
                  where: str = "") -> None:
    prefix = f"{where}." if where else ""
    for key in table:
        if key not in allowed:
            raise block.error(f"{prefix}{key}", f"unknown field; allowed: {', '.join(allowed)}")
    for key in required:
        if key not in table:
            raise block.error(where, f"`{key}` is required")


def required_text(table: dict[str, Any], key: str, block: Block, where: str = "") -> str:
    value = table[key]
    field = f"{where}.{key}" if where else key
    if not isinstance(value, str) or not value.strip():
        raise block.error(field, "must be a non-empty string")
    return value.strip()


def required_texts(table: dict[str, Any], key: str, block: Block, minimum: int, where: str = "") -> tuple[str, ...]:
    value = table[key]
    field = f"{where}.{key}" if where else key
    if not isinstance(value, list) or len(value) < minimum:
        raise block.error(field, f"must be a list of at least {minimum} string{'s' if minimum > 1 else ''}")
    for i, item in enumerate(value):
        if not isinstance(item, str) or not item.strip():
            raise block.error(f"{field}[{i}]", "must be a non-empty string")
    return tuple(item.strip() for item in value)
