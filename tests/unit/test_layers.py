"""The layers of docs/architecture.md §7, as the code's own imports: every `import` in `sandbox/` (at the top, in a
function or under TYPE_CHECKING) goes one way, or this test names the file, the line and the rule it breaks."""

from __future__ import annotations

import ast
import sys
from dataclasses import dataclass
from pathlib import Path

import sandbox

PACKAGE = Path(sandbox.__file__).resolve().parent
CONTRACT = {"engine", "catalog"}
"""`sandbox/engine.py` (the engine contract, make_engine, the runners, LabError) and `sandbox/catalog.py` (where the
shipped files are)."""


@dataclass(frozen=True)
class Rule:
    may_import: frozenset[str]
    words: str


def _rule(may_import: set[str], words: str) -> Rule:
    return Rule(frozenset(may_import), words)


RULES: dict[str, Rule] = {
    "model": _rule({"model"}, "model imports nothing from the engines, the UI or the filesystem"),
    "sim": _rule({"model", "sim"}, "sim imports model and never live"),
    "live": _rule({"model", "live", "catalog", "__init__"},
                  "live imports model (and catalog and the package, for where the checkout is) and never sim"),
    "teach": _rule({"model", "teach", *CONTRACT}, "teach imports model and the contract, never an engine or present"),
    "present": _rule({"model", "present", *CONTRACT},
                     "present imports model and the contract, never an engine or teach"),
    "ui": _rule({"model", "teach", "present", "ui", "playground", "grade", *CONTRACT},
                "ui talks to the contract (and model, present, teach), never to an engine's insides (sim/, live/)"),
    "engine": _rule({"model", "sim", "live"}, "the contract knows model and, in make_engine, the two engines"),
    "catalog": _rule({"model"}, "catalog imports model only"),
    "playground": _rule({"model", "sim", *CONTRACT}, "the playground is a simulation: it imports model and sim"),
    "grade": _rule({"model", "grade", *CONTRACT},
                   "grade (a learner's consumer under fire) imports model and the contract, never an engine"),
    "cli": _rule({"model", "sim", "live", "teach", "present", "ui", "playground", "grade", *CONTRACT},
                 "the command line may import anything"),
    "__main__": _rule({"cli"}, "`python -m sandbox` is the command line"),
    "__init__": _rule(set(), "the package itself imports nothing"),
}
"""Layer (the first name under `sandbox/`) -> the layers it may import."""

EXCEPTIONS = {
    ("sandbox.ui.launch", "sandbox.live.processes.ports"):
        "launch.py is the command line's `open`, which runs before any page: it checks its port with the same "
        "port_in_use the lab's processes use",
    ("sandbox.ui.classroom", "sandbox.live.processes.ports"):
        "classroom.py is the command line's `open --workers`: its workers listen on free loopback ports",
    ("sandbox.grade.live", "sandbox.live.proxy"):
        "grading on the live lab puts the lab's own fault proxy in front of the broker and Redis",
    ("sandbox.grade.live", "sandbox.live.servers"):
        "grading on the live lab finds and checks the broker and Redis as the lab does (RABBITMQ_URL, REDIS_URL)",
}
"""(module, imported module) pairs the rules allow by name, each with why."""

OUTSIDE_THE_PROCESS = frozenset({
    "os", "pathlib", "io", "shutil", "tempfile", "glob", "fnmatch", "socket", "ssl", "http", "urllib", "subprocess",
    "multiprocessing", "threading", "asyncio", "signal", "sqlite3", "time", "logging",
})
"""Standard modules that reach outside the process (files, network, processes, the clock, log handlers): model
imports none of them."""


def layer(module: str) -> str:
    """The layer of `sandbox.x.y`: `x` (`sandbox` itself is its `__init__`)."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "__init__"


def module_name(path: Path) -> str:
    relative = path.relative_to(PACKAGE.parent).with_suffix("")
    parts = relative.parts[:-1] if relative.name == "__init__" and len(relative.parts) > 1 else relative.parts
    return ".".join(parts)


def imports(text: str) -> list[tuple[int, str]]:
    """(line, module) for every import in a module's text, `from a import b` as `a.b` when b is a module of the
    package."""
    tree = ast.parse(text)
    found: list[tuple[int, str]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            for alias in node.names:
                submodule = f"{node.module}.{alias.name}"
                is_module = node.module.startswith("sandbox") and _exists(submodule)
                found.append((node.lineno, submodule if is_module else node.module))
    return list(dict.fromkeys(found))


def _exists(module: str) -> bool:
    path = PACKAGE.parent.joinpath(*module.split("."))
    return path.with_suffix(".py").is_file() or (path / "__init__.py").is_file()


def broken_rules(path: Path, text: str | None = None) -> list[str]:
    """What one file of the package (with `text`, when given, instead of what it holds) imports against the rules,
    in words naming the file, the line and the rule."""
    module = module_name(path)
    own = layer(module)
    rule = RULES[own]
    where = path.relative_to(PACKAGE.parent)
    problems = []
    for line, imported in imports(path.read_text(encoding="utf-8") if text is None else text):
        top = imported.split(".")[0]
        if top == "sandbox":
            if layer(imported) in rule.may_import or layer(imported) == own \
                    or (module, imported) in EXCEPTIONS:
                continue
            problems.append(f"{where}:{line} imports {imported}: {rule.words} (docs/architecture.md §7)")
        elif own == "model" and (top in OUTSIDE_THE_PROCESS or top not in sys.stdlib_module_names):
            problems.append(f"{where}:{line} imports {imported}: {rule.words}; the model imports only the standard "
                            f"library, and none of {', '.join(sorted(OUTSIDE_THE_PROCESS))} "
                            "(docs/architecture.md §7)")
    return problems


def package_files() -> list[Path]:
    return sorted(PACKAGE.rglob("*.py"))


def test_every_module_of_the_package_has_a_layer_with_a_rule() -> None:
    unknown = {module_name(p) for p in package_files() if layer(module_name(p)) not in RULES}
    assert not unknown, f"modules in no layer of RULES: {sorted(unknown)}; give their layer a rule"


def test_imports_go_the_way_the_architecture_says() -> None:
    problems = [problem for path in package_files() for problem in broken_rules(path)]
    assert not problems, "imports against the layers:\n" + "\n".join(problems)


def test_every_exception_is_still_needed() -> None:
    used = {(module_name(p), imported) for p in package_files() for _, imported in imports(p.read_text("utf-8"))}
    assert set(EXCEPTIONS) <= used, f"exceptions nothing needs any more: {sorted(set(EXCEPTIONS) - used)}"


def test_the_rules_name_a_forbidden_import() -> None:
    """The checker itself: the model importing the simulation or the filesystem, teach building an engine itself and
    a page reaching into the lab are each named with the file, the line and the rule."""
    cases = {
        "model/bounds.py": ("from sandbox.sim.world import World", "model imports nothing from the engines"),
        "model/knobs.py": ("from pathlib import Path", "model imports nothing from the engines, the UI or the "
                           "filesystem; the model imports only the standard library"),
        "teach/lesson_run.py": ("from sandbox.sim.engine import SimEngine", "teach imports model and the contract"),
        "ui/views/scenarios.py": ("\n\nfrom sandbox.live.errors import LabError", "ui talks to the contract"),
        "sim/world.py": ("import sandbox.live.meter", "sim imports model and never live"),
    }
    for file, (source, rule) in cases.items():
        problems = broken_rules(PACKAGE / file, source)
        line, module = source.count("\n") + 1, source.split()[1]
        assert len(problems) == 1 and problems[0].startswith(f"sandbox/{file}:{line} imports {module}: "), problems
        assert rule in problems[0] and problems[0].endswith("(docs/architecture.md §7)"), problems
