"""Command line: post-office-lab (python -m sandbox) open | list | run | check | lessons | challenges | tasks | grade |
knobs | lab."""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TextIO, TypeVar

from sandbox.catalog import (
    CARDS_PATH,
    LESSON_DIR,
    TASK_DIR,
    display_path,
    find_scenario,
    load_scenario,
    read_text,
    scenario_paths,
)
from sandbox.engine import run_scenario
from sandbox.grade import grading
from sandbox.grade.handler import MAX_SOURCE_BYTES
from sandbox.grade.invariants import TITLES
from sandbox.grade.tasks import find_task, load_task, task_folders
from sandbox.grade.timeline import explain
from sandbox.live.errors import LabError
from sandbox.model.errors import ScenarioError
from sandbox.model.expectations import Verdict
from sandbox.model.knobs import KNOBS
from sandbox.present.report import format_run, run_document
from sandbox.teach.cards import load_cards
from sandbox.teach.challenge_run import attempt, judge_tempting, judged_seeds, spent
from sandbox.teach.challenges import CHALLENGE_DIR, challenge_paths, load_challenge
from sandbox.teach.choices import key_balance
from sandbox.teach.guessers import MAX_OVER_CHANCE, guess_scores
from sandbox.teach.lesson_run import play_lesson
from sandbox.teach.lessons import lesson_paths, load_lesson
from sandbox.ui import classroom, launch

T = TypeVar("T")

EXIT_OK, EXIT_FAILED, EXIT_BAD_INPUT = 0, 1, 2


def _parser() -> argparse.ArgumentParser:
    prog = "post-office-lab" if Path(sys.argv[0]).name == "post-office-lab" else "python -m sandbox"
    parser = argparse.ArgumentParser(
        prog=prog, description="Post Office Lab: open the sandbox, run and check failure scenarios.")
    commands = parser.add_subparsers(dest="command", required=True)
    serve = commands.add_parser(
        "open", help=f"serve the sandbox in the browser at http://{launch.HOST}:{launch.DEFAULT_PORT}",
        description="Serve the sandbox with Streamlit on 127.0.0.1 (or --address), with usage statistics off.")
    serve.add_argument("--port", type=int, default=launch.DEFAULT_PORT,
                       help=f"the port, from {launch.LOWEST_PORT} to {launch.HIGHEST_PORT} "
                            f"(default {launch.DEFAULT_PORT})")
    serve.add_argument("--address", default=launch.HOST,
                       help=f"the address to listen on (default {launch.HOST}: this machine only); another address "
                            "lets others reach the sandbox, and refuses learners' code unless --allow-code")
    serve.add_argument("--workers", type=int,
                       help=f"serve with this many Streamlit processes, {classroom.MIN_WORKERS} to "
                            f"{classroom.MAX_WORKERS} (two per core), behind nginx, which keeps each browser on its "
                            "process (a cookie): a classroom uses every core; needs nginx installed")
    serve.add_argument("--allow-code", action="store_true",
                       help="on a server others reach, run learners' code (in a confined child process; read "
                            "docs/threat-model.md first)")
    commands.add_parser("list", help="list the scenarios in scenarios/")
    run = commands.add_parser("run", help="run one scenario and check its expectations")
    run.add_argument("scenario", help="a scenario id from scenarios/, or the path of a TOML file")
    run.add_argument("--engine", choices=["sim", "live"], default="sim",
                     help="sim: the simulation (default); live: real processes, RabbitMQ and Redis")
    run.add_argument("--seed", type=int, help="override the scenario's seed")
    run.add_argument("--json", metavar="PATH", type=Path, help="also write the run (frames, verdicts) as JSON")
    commands.add_parser("check", help="run every scenario and every lesson's steps, check the interview cards, "
                                      "prove every challenge (its start fails, its reference passes)")
    commands.add_parser("lessons", help="list the lessons in lessons/ and count the interview cards")
    commands.add_parser("challenges", help="list the challenges in challenges/ with what each lets you change")
    commands.add_parser("tasks", help="list the code tasks in tasks/: write the consumer, grade it under fire")
    grade = commands.add_parser(
        "grade", help="grade your consumer, handle(message, ctx), on a task under crashes, duplicates and poison",
        description="Run your handler module against a task's fault schedules, check its invariants over each whole "
                    "history, and on a failure print the smallest failing case message by message.")
    grade.add_argument("handler", help="your handler: a Python file with handle(message, ctx)")
    grade.add_argument("--task", required=True, help="the task's name (python -m sandbox tasks lists them)")
    grade.add_argument("--engine", choices=["sim", "live"], default="sim",
                       help="sim: the simulation, in a confined child process (default); live: a real consumer "
                            "process on RabbitMQ, Redis and SQLite")
    grade.add_argument("--seeds", type=int, help=f"how many seeds, from 1 (sim: 1 to {grading.MAX_SEEDS}, default "
                                                 f"{grading.DEFAULT_SEEDS}; live: 1 to {grading.MAX_LIVE_SEEDS}, "
                                                 "default 1)")
    grade.add_argument("--seed", type=int, help=f"replay this one seed (0 to {grading.MAX_SEED:,})")
    commands.add_parser("knobs", help="list every knob with its default and meaning")
    lab = commands.add_parser("lab", help="a standing live lab on real RabbitMQ and Redis: up, status, down")
    lab.add_argument("action", choices=["up", "status", "down"])
    return parser


def _cmd_list() -> int:
    scenarios, status = _load_each(scenario_paths(), load_scenario)
    for _, s in scenarios:
        variants = " vs ".join(v.name for v in s.variants)
        print(f"{s.id:28} {s.duration_s:>5g} s  {variants:34} {s.title}")
    return status


def _cmd_run(args: argparse.Namespace) -> int:
    scenario = find_scenario(args.scenario)
    if args.seed is not None and args.seed < 0:
        raise ScenarioError("--seed", "", f"{args.seed} must be 0 or more")
    if args.json and not args.json.parent.is_dir():
        raise ScenarioError(str(args.json), "--json", "its folder does not exist")
    if args.engine == "live":
        print(f"running {scenario.id} on the live lab: {scenario.on_live_clock().duration_s:g} s of wall-clock time",
              flush=True)
    result = run_scenario(scenario, args.engine, args.seed)
    print(format_run(result))
    if args.json:
        try:
            args.json.write_text(json.dumps(run_document(result), indent=1, ensure_ascii=False) + "\n")
        except OSError as exc:
            raise ScenarioError(str(args.json), "--json", f"cannot be written: {exc.strerror}") from None
        print(f"wrote {args.json}")
    return EXIT_OK if result.passed else EXIT_FAILED


def _cmd_check() -> int:
    """Exit 0 when everything holds, 1 when a claim fails, 2 when a file is bad."""
    return max(_check_scenarios(), _check_lessons(), _check_cards(), _check_challenges(), _check_tasks())


def _load_each(paths: list[Path], load: Callable[[Path], T]) -> tuple[list[tuple[Path, T]], int]:
    """Each file loaded, in order, and EXIT_BAD_INPUT if any did not load (each such file is one INVALID line)."""
    loaded: list[tuple[Path, T]] = []
    status = EXIT_OK
    for path in paths:
        try:
            loaded.append((path, load(path)))
        except ScenarioError as exc:
            print(f"✗ {path.stem}: INVALID — {exc}")
            status = EXIT_BAD_INPUT
    return loaded, status


def _held_line(name: str, verdicts: list[Verdict], wall_s: float) -> int:
    """Print how many of `verdicts` hold; return that many."""
    held = sum(v.passed for v in verdicts)
    mark = "✓" if held == len(verdicts) else "✗"
    print(f"{mark} {name:28} {held}/{len(verdicts)} expectations hold  ({wall_s:.2f} s)")
    return held


def _check_scenarios() -> int:
    scenarios, status = _load_each(scenario_paths(), load_scenario)
    held_total = checked = 0
    for _, scenario in scenarios:
        result = run_scenario(scenario)
        held_total += _held_line(scenario.id, result.verdicts, result.wall_s)
        checked += len(result.verdicts)
        for verdict in result.verdicts:
            if not verdict.passed:
                print(f"    ✗ {_failed(verdict, scenario.duration_s)}")
        if not result.passed:
            status = max(status, EXIT_FAILED)
    print(f"{len(scenario_paths())} scenarios, {held_total}/{checked} expectations hold")
    return status


def _check_lessons() -> int:
    """Step through every lesson as a learner would; every step's claims must hold."""
    paths = lesson_paths()
    lessons, status = _load_each(paths, load_lesson)
    held_total = checked = 0
    for path, lesson in lessons:
        started = time.perf_counter()
        steps = play_lesson(lesson)
        verdicts = [v for step in steps for v in step]
        held = _held_line(path.stem, verdicts, time.perf_counter() - started)
        held_total += held
        checked += len(verdicts)
        for number, (step, step_verdicts) in enumerate(zip(lesson.steps, steps, strict=True), start=1):
            for verdict in step_verdicts:
                if not verdict.passed:
                    print(f"    ✗ step {number} {step.title!r}: {_failed(verdict, 0)}")
        if held < len(verdicts):
            status = max(status, EXIT_FAILED)
    print(f"{len(paths)} lessons, {held_total}/{checked} expectations hold")
    return status


def _check_cards() -> int:
    try:
        cards = load_cards()
    except ScenarioError as exc:
        print(f"✗ interview cards: INVALID — {exc}")
        return EXIT_BAD_INPUT
    print(f"✓ {len(cards)} interview cards, each naming a scenario that exists")
    return EXIT_OK


def _check_challenges() -> int:
    """Every challenge's start must fail its goal, every tempting wrong design must break the goal it names, and
    the reference solution must reach the goal on every judged seed."""
    paths = challenge_paths()
    challenges, status = _load_each(paths, load_challenge)
    proven = 0
    for path, challenge in challenges:
        started = time.perf_counter()
        start = attempt(challenge, challenge.start, until_failure=True)
        reference = attempt(challenge, challenge.solution)
        caught = [judge_tempting(challenge, tempting) for tempting in challenge.tempting]
        goal, seeds = len(challenge.scenario.expectations), judged_seeds(challenge)
        ok = not start.passed and reference.passed and all(c.proven for c in caught)
        proven += ok
        print(f"{'✓' if ok else '✗'} {path.stem:28} start holds {start.held}/{goal}, reference {reference.held}/{goal}"
              f" on seeds {_seeds(seeds)}, {sum(c.proven for c in caught)}/{len(caught)} tempting designs fail"
              f"  ({time.perf_counter() - started:.2f} s)")
        if start.passed:
            print("    ✗ the start already reaches the goal on every judged seed: there is nothing to solve")
        for verdict in reference.result.verdicts if reference.result else ():
            if not verdict.passed:
                print(f"    ✗ reference at seed {reference.seed}: {_failed(verdict, challenge.scenario.duration_s)}")
        for c in caught:
            name = f"“{c.tempting.name}”"
            if c.proven:
                print(f"    ✓ {name} breaks {c.tempting.fails} on {len(c.seeds)}/{len(seeds)} seeds")
            elif c.tried.passed:
                print(f"    ✗ {name} passes on every judged seed: it is not wrong here")
            else:
                broke = sorted({challenge.scenario.expectations[i].metric for i in c.tried.broken_goals()})
                print(f"    ✗ {name} fails, but {c.tempting.fails} holds on every seed; it breaks {', '.join(broke)}")
        for cost in challenge.costs:
            par = spent(challenge, cost, reference)
            print(f"    par: {'nothing measured' if par is None else format(par, ',g')} {cost.name}")
        if not ok:
            status = max(status, EXIT_FAILED)
    print(f"{len(paths)} challenges, {proven} proven (the start fails, each tempting wrong design breaks the goal it "
          "names, the reference passes on every judged seed)")
    return status


def _seeds(seeds: tuple[int, ...]) -> str:
    """Consecutive seeds as a range: 7–12."""
    return f"{seeds[0]}–{seeds[-1]}" if len(seeds) > 1 else str(seeds[0])


def _check_tasks() -> int:
    """Every code task's reference must pass its seeds, and its start and each tempting wrong solution must fail
    (each wrong one breaking the invariant it names)."""
    tasks, status = _load_each(task_folders(), load_task)
    proven = 0
    for path, task in tasks:
        started = time.perf_counter()
        proof = grading.prove(task)
        proven += proof.ok
        print(f"{'✓' if proof.ok else '✗'} {path.name:28} reference passes {len(proof.seeds)} seeds, start fails, "
              f"{proof.wrong_failing}/{len(task.wrong)} wrong solutions fail as named  "
              f"({time.perf_counter() - started:.2f} s)")
        for line in proof.broken:
            print(f"    ✓ {line}")
        for line in proof.problems:
            print(f"    ✗ {line}")
        if not proof.ok:
            status = max(status, EXIT_FAILED)
    print(f"{len(tasks)} code tasks, {proven} proven (the reference passes, every wrong solution fails as named)")
    return status


def _failed(verdict: Verdict, duration_s: float) -> str:
    observed = "nothing measured" if verdict.observed is None else f"{verdict.observed:.4g}"
    return f"{verdict.expectation.describe(duration_s)}: observed {observed}"


def _cmd_lessons() -> int:
    loaded, status = _load_each(lesson_paths(), load_lesson)
    lessons = [lesson for _, lesson in loaded]
    for path, lesson in loaded:
        print(f"{path.stem:28} {len(lesson.steps):>2} steps  {lesson.title}")
    balance = key_balance(lessons)
    print(f"{'✓' if balance.balanced else '✗'} the key: {balance.describe()}")
    for score in guess_scores(lessons):
        print(f"  {'✓' if score.over_chance <= MAX_OVER_CHANCE else '✗'} {score.describe()}")
    try:
        cards = f"{len(load_cards())} interview cards"
    except ScenarioError as exc:
        cards = f"interview cards INVALID: {exc}"
        status = EXIT_BAD_INPUT
    print(f"{len(lesson_paths())} lessons in {display_path(LESSON_DIR)}/; {cards} in {display_path(CARDS_PATH)}")
    return status


def _cmd_challenges() -> int:
    challenges, status = _load_each(challenge_paths(), load_challenge)
    for path, challenge in challenges:
        print(f"{path.stem:28} {challenge.title}")
        print(f"{'':28} you may change: {'; '.join(challenge.constraints.describe())}")
    print(f"{len(challenge_paths())} challenges in {display_path(CHALLENGE_DIR)}/; try them on the Challenges page")
    return status


def _cmd_tasks() -> int:
    tasks, status = _load_each(task_folders(), load_task)
    for path, task in tasks:
        print(f"{path.name:28} {task.title}")
        print(f"{'':28} graded on: {', '.join(TITLES[i] for i in task.invariants)}")
    print(f"{len(task_folders())} code tasks in {display_path(TASK_DIR)}/; write one: python -m sandbox grade "
          "my_handler.py --task NAME (docs/handlers.md), or on the Challenges page")
    return status


def _cmd_lab(action: str) -> int:
    from sandbox.live import lab

    if action == "up":
        state = lab.up()
        print(f"the lab runs (process {state['pid']}); RabbitMQ {state['rabbitmq_url'].split('@')[-1]}, "
              f"Redis {state['redis_url']}")
        for warning in state.get("warnings", []):
            print(f"warning: {warning}")
        for variant, services in state["services"].items():
            print(f"  {variant}: " + ", ".join(f"{name} {url}" for name, url in services.items()))
        for variant, queue in state["queues"].items():
            print(f"  {variant}: the cache-worker consumes {queue!r}")
        print("stop it with: python -m sandbox lab down")
        return EXIT_OK
    if action == "status":
        report = lab.status()
        if report is None:
            print("no lab runs; start one with: python -m sandbox lab up")
            return EXIT_FAILED
        for variant, services in report.items():
            for name, line in services.items():
                print(f"{variant:6} {name:7} {line}")
        return EXIT_OK
    stopped, swept = lab.down()
    print("the lab is down" if stopped == 1 else f"{stopped} labs are down" if stopped else "no lab was running")
    if swept:
        print(swept)
    return EXIT_OK


def _cmd_grade(args: argparse.Namespace) -> int:
    task = find_task(args.task)
    source = read_text(args.handler, MAX_SOURCE_BYTES)
    seeds = grading.seeds_of(args.engine, args.seeds, args.seed)
    where = "the simulation" if args.engine == "sim" else "the live lab (real RabbitMQ, Redis and SQLite)"
    print(f"grading {display_path(args.handler)} on {task.id}: {len(seeds)} seed{'s' * (len(seeds) != 1)} on "
          f"{where}", flush=True)
    report = grading.grade_file(task, source, seeds, args.engine, Path(args.handler).name)
    if report.stopped:
        raise ScenarioError(display_path(args.handler), "", report.stopped)
    command = f"{Path(sys.argv[0]).name if Path(sys.argv[0]).name == 'post-office-lab' else 'python -m sandbox'} " \
              f"grade {args.handler} --task {task.id}" + (" --engine live" if args.engine == "live" else "")
    for line in explain(report, command):
        print(line)
    if report.printed:
        print("your handler printed:\n" + report.printed.rstrip())
    verdict = "passes" if report.passed else "fails"
    print(f"{'✓' if report.passed else '✗'} {display_path(args.handler)} {verdict} {task.id} "
          f"({len(seeds)} seed{'s' * (len(seeds) != 1)}, {report.wall_s:.1f} s)")
    return EXIT_OK if report.passed else EXIT_FAILED


def _cmd_knobs() -> int:
    for knob in KNOBS.values():
        choices = f" ({' | '.join(str(c) for c in knob.choices)})" if knob.choices else ""
        print(f"{knob.key:28} {knob.default!s:12} {knob.doc}{choices}")
    return EXIT_OK


def _dispatch(args: argparse.Namespace) -> int:
    if args.command == "open" and args.workers is not None:
        classroom.open_classroom(args.workers, args.port, address=args.address, allow_code=args.allow_code)
    if args.command == "open":
        launch.open_sandbox(args.port, address=args.address, allow_code=args.allow_code)
    if args.command == "list":
        return _cmd_list()
    if args.command == "run":
        return _cmd_run(args)
    if args.command == "check":
        return _cmd_check()
    if args.command == "lessons":
        return _cmd_lessons()
    if args.command == "challenges":
        return _cmd_challenges()
    if args.command == "tasks":
        return _cmd_tasks()
    if args.command == "lab":
        return _cmd_lab(args.action)
    if args.command == "grade":
        return _cmd_grade(args)
    return _cmd_knobs()


_CONTROL_CHARACTERS = dict.fromkeys((*range(0, 9), *range(11, 32), *range(127, 160)), "?")
"""Every C0 and C1 control character but tab and newline: an escape code in a title must not drive the terminal."""


class _Printable:
    """A text stream that writes control characters as '?'."""

    def __init__(self, stream: TextIO):
        self._stream = stream

    def write(self, text: str) -> int:
        return self._stream.write(text.translate(_CONTROL_CHARACTERS))

    def __getattr__(self, name: str) -> Any:
        return getattr(self._stream, name)


def main(argv: list[str] | None = None) -> int:
    if hasattr(sys.stdout, "reconfigure"):
        sys.stdout.reconfigure(errors="replace")
    stdout, stderr = sys.stdout, sys.stderr
    sys.stdout, sys.stderr = _Printable(stdout), _Printable(stderr)
    try:
        return _main(argv)
    finally:
        sys.stdout, sys.stderr = stdout, stderr


def _interrupt(*_: object) -> None:
    raise KeyboardInterrupt


def _main(argv: list[str] | None) -> int:
    args = _parser().parse_args(argv)
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, _interrupt)  # a live run cleans up after SIGTERM as after Ctrl-C
    try:
        code = _dispatch(args)
        sys.stdout.flush()  # a reader that went away shows here, not in the interpreter's exit
        return code
    except (ScenarioError, LabError, launch.LaunchError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # the reader went away (`| head`): stop quietly, as other shell tools do
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # what is left to flush goes nowhere
        return EXIT_OK
