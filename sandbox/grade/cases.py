"""A case: the messages a run publishes and the faults it suffers, drawn from a seed; and its smaller neighbours.

A seed gives one case (`generate`), so a run replays by seed. When a case fails, `smaller` offers the cases one
step smaller — a fault fewer, a message fewer, one consumer instead of two, a shorter outage — and the grader keeps
any that still fails the same way, as Hypothesis and Maelstrom shrink. Every draw a run makes later (how long a
handler takes) is keyed by message and delivery, not taken in turn, so removing one message leaves the rest as
they were. Pure: no IO.
"""

from __future__ import annotations

import json
import random
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, replace
from typing import Any

from sandbox.grade import workloads

FAULT_WORDS = {
    "crash": "a consumer killed mid-delivery",
    "lost-ack": "an ack lost when a node fails",
    "duplicate": "a duplicate publish",
    "reorder": "two competing consumers, one slow",
    "poison": "a poison message",
    "broker-restart": "a broker restart",
    "redis-blip": "a Redis blip",
    "mail-outage": "a mail relay refusing for a while",
    "never-succeeds": "a domain that never answers",
}
FAULT_KINDS = tuple(FAULT_WORDS)


@dataclass(frozen=True)
class Publish:
    """One message the producer publishes: its id (the AMQP message_id), body and moment."""

    id: str
    body: bytes
    at_s: float
    poison: bool = False

    @property
    def payload(self) -> dict[str, Any] | None:
        """The event, or None for a poison body."""
        if self.poison:
            return None
        parsed = json.loads(self.body)
        return parsed if isinstance(parsed, dict) else None

    def words(self) -> str:
        text = self.body.decode("utf-8", "replace")
        return text if len(text) <= 90 else text[:87] + "…"


BEFORE_COMMIT = 0
"""Crash.before_op: after the handler returned, before its transaction commits (or rolls back)."""


@dataclass(frozen=True)
class Crash:
    """The consumer handling this delivery is killed (SIGKILL): just before its operation `before_op` (1 = the
    first ctx call), BEFORE_COMMIT (the handler has returned; nothing is committed yet), or, when None, after the
    commit and before the ack reaches the broker."""

    message: str
    delivery: int = 1
    before_op: int | None = None

    def words(self) -> str:
        if self.before_op is None:
            where = "after the commit, before the ack"
        elif self.before_op == BEFORE_COMMIT:
            where = "after its handler returned, before the commit"
        else:
            where = f"just before its call number {self.before_op} to ctx"
        return f"the consumer handling {self.message} (delivery {self.delivery}) is killed {where}"


@dataclass(frozen=True)
class LostAck:
    """After this delivery commits, its connection drops (its node fails and the queue's leader moves): the ack is
    lost and the message is delivered again (to whichever consumer asks first)."""

    message: str
    delivery: int = 1

    def words(self) -> str:
        return (f"after {self.message} (delivery {self.delivery}) commits, its consumer's node fails and the "
                "queue's leader moves: the ack is lost")


@dataclass(frozen=True)
class Duplicate:
    """The producer publishes this message twice (a publisher retry after a lost confirm): same id, same body."""

    message: str

    def words(self) -> str:
        return f"{self.message} is published twice"


@dataclass(frozen=True)
class Slow:
    """This delivery takes SLOW_S: a competing consumer overtakes it with the messages behind it."""

    message: str
    delivery: int = 1

    def words(self) -> str:
        return f"{self.message} (delivery {self.delivery}) is slow; the other consumer overtakes it"


@dataclass(frozen=True)
class Outage:
    """`part` ("broker", "redis" or "mail") is down from `at_s` for `down_s`."""

    part: str
    at_s: float
    down_s: float

    def words(self) -> str:
        what = {"broker": "the broker restarts", "redis": "Redis blips", "mail": "the mail relay refuses mail"}
        return f"{what[self.part]} at {self.at_s:g} s for {self.down_s:g} s"


Fault = Crash | LostAck | Duplicate | Slow | Outage


@dataclass(frozen=True)
class Case:
    seed: int
    kind: str
    messages: tuple[Publish, ...]
    faults: tuple[Fault, ...]
    consumers: int = 1

    def describe(self) -> str:
        poison = sum(m.poison for m in self.messages)
        extra = f" ({poison} poison)" if poison else ""
        return (f"{len(self.messages)} message{'s' * (len(self.messages) != 1)}{extra}, "
                f"{len(self.faults)} fault{'s' * (len(self.faults) != 1)}, {self.consumers} consumer"
                f"{'s' * (self.consumers != 1)}")

    def message(self, message_id: str) -> Publish:
        return next(m for m in self.messages if m.id == message_id)

    def crash_at(self, message_id: str, delivery: int) -> Crash | None:
        return next((f for f in self.faults if isinstance(f, Crash) and (f.message, f.delivery) ==
                     (message_id, delivery)), None)

    def loses_ack(self, message_id: str, delivery: int) -> bool:
        return LostAck(message_id, delivery) in self.faults

    def is_slow(self, message_id: str, delivery: int) -> bool:
        return Slow(message_id, delivery) in self.faults

    def duplicated(self, message_id: str) -> bool:
        return Duplicate(message_id) in self.faults

    def outages(self, part: str) -> list[Outage]:
        return [f for f in self.faults if isinstance(f, Outage) and f.part == part]


def draw(seed: int, *key: object) -> float:
    """A number in [0, 1) fixed by the seed and the key (a message and a delivery), not by the order of draws."""
    return zlib.crc32(f"{seed}:{':'.join(map(str, key))}".encode()) / 2**32


def generate(kind: str, faults: frozenset[str], seed: int) -> Case:
    """The case seed `seed` gives a task of this workload kind that suffers these kinds of faults."""
    rng = random.Random(f"{kind}:{seed}")
    count = rng.randint(3, 6) if kind == "invalidation" else rng.randint(4, 9)
    timed = workloads.events(kind, rng, count, "never-succeeds" in faults)
    messages = [Publish(f"m{n}", workloads.body(payload), at_s) for n, (at_s, payload) in enumerate(timed, 1)]
    if "poison" in faults and rng.random() < 0.7:
        where = rng.randrange(len(messages))
        at_s = round(messages[where].at_s + 0.05, 3)
        messages.insert(where + 1, Publish("", rng.choice(workloads.POISON_BODIES), at_s, poison=True))
        messages = [replace(m, id=f"m{n}") for n, m in enumerate(messages, 1)]
    good = [m.id for m in messages if not m.poison]
    span_s = messages[-1].at_s
    chosen: list[Fault] = []
    consumers = 2 if "reorder" in faults and rng.random() < 0.8 else 1
    if "crash" in faults:
        crashed = rng.sample(good, k=min(len(good), rng.choice((1, 2, 2, 3))))
        chosen += [Crash(m, 1, rng.choice((None, None, BEFORE_COMMIT, BEFORE_COMMIT, 1, 2, 3, 4))) for m in crashed]
    if "lost-ack" in faults and rng.random() < 0.6:
        chosen.append(LostAck(rng.choice(good), 1))
    if "duplicate" in faults:
        chosen += [Duplicate(m) for m in sorted(set(rng.choices(good, k=rng.choice((0, 1, 2)))))]
    if "reorder" in faults and consumers == 2:
        chosen += [Slow(m, 1) for m in sorted(set(rng.choices(good, k=rng.choice((1, 2, 2)))))]
    for fault, part, longest_s in (("broker-restart", "broker", 2.5), ("redis-blip", "redis", 2.0),
                                   ("mail-outage", "mail", 4.0)):
        if fault in faults and (rng.random() < 0.7 or part == "mail"):
            near = rng.choice(messages).at_s  # an outage that starts as a message arrives finds it in the works
            at_s = min(max(0.0, near + rng.uniform(-0.3, 0.1)), span_s)
            chosen.append(Outage(part, round(at_s, 2), round(rng.uniform(0.5, longest_s), 2)))
    unique = list(dict.fromkeys(chosen))
    return Case(seed, kind, tuple(messages), tuple(unique), consumers)


def smaller(case: Case) -> Iterator[Case]:
    """The cases one step smaller than `case`, the biggest steps first."""
    for index in range(len(case.faults)):
        yield replace(case, faults=case.faults[:index] + case.faults[index + 1:])
    for message in case.messages:
        kept = tuple(m for m in case.messages if m is not message)
        if kept:
            faults = tuple(f for f in case.faults if getattr(f, "message", None) != message.id)
            yield replace(case, messages=kept, faults=faults)
    if case.consumers > 1:
        yield replace(case, consumers=1, faults=tuple(f for f in case.faults if not isinstance(f, Slow)))
    for index, fault in enumerate(case.faults):
        simpler: Fault | None = None
        if isinstance(fault, Outage) and fault.down_s > 0.5:
            simpler = replace(fault, down_s=round(max(0.5, fault.down_s / 2), 2))
        elif isinstance(fault, Crash) and fault.before_op is not None and fault.before_op > 1:
            simpler = replace(fault, before_op=fault.before_op - 1)
        if simpler is not None:
            yield replace(case, faults=(*case.faults[:index], simpler, *case.faults[index + 1:]))
