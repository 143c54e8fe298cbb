"""One delivery handled, the same way in both engines: the transaction around the handler, every operation reported
before it runs, the crash of the case struck where it says, and the outcome in pika's words.

The engines differ only in what a crash is: the simulation unwinds the handler (`kill` raises Killed), the live
lab's consumer process sends itself SIGKILL (`kill` never returns).
"""

from __future__ import annotations

import itertools
import sqlite3
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sandbox.grade.api import Message
from sandbox.grade.cases import BEFORE_COMMIT, Crash
from sandbox.grade.context import Context, MailRelay, Redis, Transaction
from sandbox.grade.handler import Loaded, Outcome, Stop, call

Record = Callable[[str, str], None]
"""Told (event kind, words) as the delivery goes."""
Kill = Callable[[str], None]
"""Kill the consumer here, told where in words; raises Killed (simulation) or never returns (live lab)."""
AFTER_COMMIT = "after the commit, before the ack"


class Killed(Stop):
    """The simulation's crash: unwinds the handler; its context is dead from then on."""


@dataclass(frozen=True)
class Handled:
    outcome: Outcome | None
    """How the delivery settles; None when the consumer was killed before the handler finished."""
    killed: str = ""
    """Where the consumer was killed ("" when it was not); AFTER_COMMIT leaves the transaction committed."""


@dataclass(frozen=True)
class Store:
    """What a consumer's context is made of: the database, Redis and its namespace, the mail relay and the clock."""

    database: sqlite3.Connection
    redis: Any
    prefix: str
    relay: MailRelay
    clock: Callable[[], float]
    begin: str = "BEGIN"


def handle_delivery(loaded: Loaded, message: Message, store: Store, crash: Crash | None, record: Record,
                    kill: Kill, limit_s: float, after_call: Callable[[], None] = lambda: None) -> Handled:
    ops = itertools.count(1)
    dead = ""

    def on_op(kind: str, words: str) -> None:
        nonlocal dead
        if kind == "failed":
            record("failed", words)
            return
        number = BEFORE_COMMIT if kind == "commit" else next(ops)
        if dead:
            raise Killed()
        if crash is not None and crash.before_op == number:
            dead = "before the commit" if number == BEFORE_COMMIT else "mid-handler"
            kill(dead)
        if kind != "commit":
            record("effect" if kind == "effect" else "op", words)

    transaction = Transaction(store.database, on_op, store.begin)
    ctx = Context(message.id, transaction, Redis(store.redis, store.prefix, on_op), store.relay, store.clock, on_op)
    outcome = None
    try:
        outcome = call(loaded, message, ctx, limit_s)
        on_op("commit", "")  # a crash may strike between the handler's return and the commit, too
    except Killed:
        dead = dead or "mid-handler"
    finally:
        after_call()
    commit = outcome is not None and outcome.kind == "ack" and not dead
    transaction.end(commit)
    if dead or outcome is None:
        return Handled(None, dead or "mid-handler")
    if commit:
        record("commit", "the transaction commits")
    if crash is not None and crash.before_op is None:
        return Handled(outcome, AFTER_COMMIT)
    return Handled(outcome)


def settle_words(outcome: Outcome) -> tuple[str, str]:
    """The event kind and words of settling a delivery this way."""
    if outcome.kind == "ack":
        return "ack", "basic_ack"
    if outcome.kind == "retry":
        return "retry", f"to the retry queue (TTL {outcome.delay_s:g} s), then basic_ack"
    if outcome.kind == "error":
        return "error", f"{outcome.words} → basic_reject(requeue=True): back to the queue"
    if outcome.requeue:
        return "reject", f"{outcome.words}: back to the queue"
    return "dead-letter", f"{outcome.words}: to the dead-letter queue"
