"""Code next to the concept: the few lines of the live lab's own source that implement a mechanism.

A lesson step names code by reference, `module:qualname` (e.g. `sandbox.live.messaging:Consumer._consume`) with
an optional `focus` (text on the line that matters, e.g. `basic_qos`). The lines are read from the source file
with `ast` when they are shown — nothing is imported, so pika need not load — and so they are always what runs.
A reference that no longer resolves (a module renamed, a method moved) is a CodeRefError naming it.
"""

from __future__ import annotations

import ast
import importlib.util
import re
from dataclasses import dataclass
from pathlib import Path

from sandbox.catalog import PACKAGE_DIR

REF = re.compile(r"^[A-Za-z_][\w.]*:[A-Za-z_][\w.]*$")
MAX_BLOCK_LINES = 12
"""A focus shows the largest statement around it that is at most this long (a `with`, a `try`, a loop)."""
CONTEXT_LINES = 3
"""Without such a statement: this many lines either side of the focus."""


class CodeRefError(ValueError):
    """A code reference that does not resolve: its module, name or focus is not (or no longer) there."""


@dataclass(frozen=True)
class CodeRef:
    ref: str
    """`module:qualname`."""
    focus: str = ""

    @property
    def module(self) -> str:
        return self.ref.split(":")[0]

    @property
    def qualname(self) -> str:
        return self.ref.split(":")[1]


@dataclass(frozen=True)
class Excerpt:
    ref: CodeRef
    path: str
    """The source file, relative to the project."""
    first_line: int
    text: str

    @property
    def caption(self) -> str:
        return f"{self.path}:{self.first_line} · {self.ref.qualname}"


def _source_path(module: str) -> Path:
    try:
        spec = importlib.util.find_spec(module)
    except (ImportError, ValueError):
        spec = None
    if spec is None or spec.origin is None or not spec.origin.endswith(".py"):
        raise CodeRefError(f"{module}: no such module")
    return Path(spec.origin)


def _definition(tree: ast.Module, qualname: str) -> ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef:
    scope: list[ast.stmt] = tree.body
    node = None
    for part in qualname.split("."):
        node = next((n for n in scope if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef))
                     and n.name == part), None)
        if node is None:
            raise CodeRefError(f"no {part!r} in the scope that should hold it")
        scope = node.body
    assert node is not None
    return node


def excerpt(ref: CodeRef) -> Excerpt:
    """The referenced definition's lines, or the block around its focus."""
    path = _source_path(ref.module)
    source = path.read_text(encoding="utf-8")
    try:
        node = _definition(ast.parse(source), ref.qualname)
    except CodeRefError as exc:
        raise CodeRefError(f"{ref.ref}: {exc}") from None
    lines = source.splitlines()
    first = min([node.lineno, *(d.lineno for d in node.decorator_list)])
    last = node.end_lineno or node.lineno
    if ref.focus:
        docstring = ast.get_docstring(node, clean=False) is not None
        after = node.body[0].end_lineno or first if docstring else first  # a focus is code, not the docstring
        at = next((i for i in range(after, last + 1) if ref.focus in lines[i - 1]), None)
        if at is None:
            raise CodeRefError(f"{ref.ref}: no line of it contains {ref.focus!r}")
        first, last = _around(node, at)
    body = lines[first - 1:last]
    indent = min(len(line) - len(line.lstrip()) for line in body if line.strip())
    try:
        shown = str(path.relative_to(PACKAGE_DIR.parent))
    except ValueError:
        shown = str(path)
    return Excerpt(ref, shown, first, "\n".join(line[indent:] for line in body))


def _around(node: ast.AST, line: int) -> tuple[int, int]:
    """The largest statement inside `node` that holds `line` and is at most MAX_BLOCK_LINES long."""
    best: tuple[int, int] | None = None
    for child in ast.walk(node):
        if not isinstance(child, ast.stmt) or child.end_lineno is None:
            continue
        span = child.end_lineno - child.lineno + 1
        fits = child.lineno <= line <= child.end_lineno and span <= MAX_BLOCK_LINES
        if fits and (best is None or span > best[1] - best[0] + 1):
            best = (child.lineno, child.end_lineno)
    return best or (line - CONTEXT_LINES, line + CONTEXT_LINES)


def parse_code_ref(entry: object) -> CodeRef:
    """A CodeRef from `{ref = "module:qualname", focus = "..."}`; ValueError saying what is wrong."""
    if not isinstance(entry, dict):
        raise ValueError('must be a table: {ref = "module:qualname", focus = "text on the line that matters"}')
    for key in entry:
        if key not in ("ref", "focus"):
            raise ValueError(f"unknown field {key!r}; allowed: ref, focus")
    ref = entry.get("ref")
    if not isinstance(ref, str) or not REF.match(ref):
        raise ValueError(f"ref {ref!r} must be module:qualname, e.g. sandbox.live.messaging:Consumer._consume")
    focus = entry.get("focus", "")
    if not isinstance(focus, str):
        raise ValueError("focus must be text")
    return CodeRef(ref, focus)
