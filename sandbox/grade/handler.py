"""A learner's handler module: compiled once, loaded fresh for every consumer process (a crash loses its memory),
and called for one delivery, whose result is said in pika's words (an Outcome)."""

from __future__ import annotations

import inspect
import signal
import threading
import types
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from sandbox.grade.api import Message, Nack, Reject, RetryLater, Settle
from sandbox.grade.context import Context

MAX_SOURCE_BYTES = 16 * 1024
"""The largest handler file: a handler is a page or two."""
CALL_LIMIT_S = 1.0
"""How long one call of `handle` (or loading the module) may take in the simulation, whose handlers never wait."""


class HandlerError(Exception):
    """A handler that cannot be graded: it does not compile or load, or it was stopped. One line, for the learner."""


class Stop(BaseException):
    """Raised into a handler to stop it (a crash, the time limit); a BaseException so `except Exception` lets it
    through. A handler that swallows it anyway is still stopped: its context is dead from then on."""


class TimeLimit(Stop):
    pass


@dataclass(frozen=True)
class Outcome:
    """How a delivery settles: "ack", "reject" (requeue or not), "retry" (delay_s) or "error" (requeue)."""

    kind: str
    requeue: bool = False
    delay_s: float = 0.0
    words: str = ""


@dataclass(frozen=True)
class Loaded:
    handle: Callable[[Message, Context], Any]
    auto_ack: bool


def compile_handler(source: str, filename: str = "handler.py") -> types.CodeType:
    """The module's code, or a HandlerError naming the line of a syntax error."""
    if len(source.encode("utf-8", "replace")) > MAX_SOURCE_BYTES:
        raise HandlerError(f"{filename} is larger than {MAX_SOURCE_BYTES // 1024} KB; a handler is a page or two")
    try:
        return compile(source, filename, "exec", dont_inherit=True)
    except SyntaxError as exc:
        raise HandlerError(f"{filename} line {exc.lineno}: {exc.msg}") from None
    except ValueError as exc:  # a NUL byte
        raise HandlerError(f"{filename}: {exc}") from None


def load(code: types.CodeType, limit_s: float = CALL_LIMIT_S) -> Loaded:
    """Run the module's code in a fresh module, as a consumer process starting would; its `handle` and AUTO_ACK."""
    module = types.ModuleType("handler")
    module.__file__ = code.co_filename
    try:
        with time_limit(limit_s):
            exec(code, module.__dict__)
    except TimeLimit:
        raise HandlerError(f"loading {code.co_filename} took longer than {limit_s:g} s") from None
    except Exception as exc:
        raise HandlerError(f"loading {code.co_filename} failed: {type(exc).__name__}: {exc}") from None
    handle = getattr(module, "handle", None)
    if not callable(handle):
        raise HandlerError(f"{code.co_filename} has no function handle(message, ctx)")
    try:
        inspect.signature(handle).bind(None, None)
    except (TypeError, ValueError):
        raise HandlerError(f"{code.co_filename}: handle must take two arguments, (message, ctx)") from None
    auto_ack = getattr(module, "AUTO_ACK", False)
    if not isinstance(auto_ack, bool):
        raise HandlerError(f"{code.co_filename}: AUTO_ACK must be True or False")
    return Loaded(handle, auto_ack)


def outcome_of(error: Exception | None) -> Outcome:
    """What a return (None) or a raised exception means, in pika's words."""
    if error is None:
        return Outcome("ack", words="basic_ack")
    if isinstance(error, (Reject, Nack)):
        return Outcome("reject", requeue=bool(error.requeue), words=str(error))
    if isinstance(error, RetryLater):
        return Outcome("retry", delay_s=error.tier_s, words=f"retry in {error.tier_s:g} s")
    if isinstance(error, Settle):
        return Outcome("reject", requeue=True, words=str(error))
    text = f"{type(error).__name__}: {error}"
    return Outcome("error", requeue=True, words=(text if len(text) <= 120 else text[:117] + "…"))


def call(loaded: Loaded, message: Message, ctx: Context, limit_s: float = CALL_LIMIT_S) -> Outcome:
    """Call `handle` once under the time limit. Stop (a crash, the limit) and MemoryError pass through."""
    try:
        with time_limit(limit_s):
            loaded.handle(message, ctx)
    except MemoryError:
        raise
    except Exception as exc:
        return outcome_of(exc)
    except (KeyboardInterrupt, SystemExit) as exc:
        return outcome_of(RuntimeError(f"the handler raised {type(exc).__name__}"))
    return outcome_of(None)


@contextmanager
def time_limit(limit_s: float) -> Iterator[None]:
    """Raise TimeLimit into the code running inside after `limit_s` of wall time (SIGALRM: main thread only; a
    thread runs without it, and the process's own wall clock remains)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def expire(_signum: int, _frame: object) -> None:
        raise TimeLimit(f"did not return within {limit_s:g} s")

    previous = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, limit_s)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
