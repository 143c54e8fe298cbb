"""The invariants a handler is graded on, each checked over a whole run's history. Pure: no IO.

- `no-effect-lost`: every e-mail the events call for was sent (committed);
- `none-applied-twice`: no e-mail was sent twice;
- `final-state-in-order`: the author directory ends as applying the user.updated events in version order gives;
- `bounded-staleness`: no cache read serves a version older than the database's for longer than the bound;
- `settles`: every message ends acked or dead-lettered, within the task's most deliveries;
- `poison-parked`: every message that can never be handled ends in the dead-letter queue, not acked away.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

from sandbox.grade import workloads
from sandbox.grade.cases import Case
from sandbox.grade.history import SETTLED, History

TITLES = {
    "no-effect-lost": "no effect lost",
    "none-applied-twice": "no effect applied twice",
    "final-state-in-order": "final state = the events applied in order",
    "bounded-staleness": "bounded staleness",
    "settles": "every message settles",
    "poison-parked": "poison parked in the dead-letter queue",
}
INVARIANTS = tuple(TITLES)


@dataclass(frozen=True)
class Limits:
    staleness_s: float = 5.0
    max_deliveries: int = 8


@dataclass(frozen=True)
class Verdict:
    invariant: str
    held: bool
    detail: str = ""
    """Why it does not hold, in one sentence naming the messages."""
    messages: tuple[str, ...] = ()

    @property
    def title(self) -> str:
        return TITLES[self.invariant]


def check(invariants: tuple[str, ...], case: Case, history: History, limits: Limits) -> list[Verdict]:
    return [_CHECKS[name](case, history, limits) for name in invariants]


def _held(name: str) -> Verdict:
    return Verdict(name, True)


def _no_effect_lost(case: Case, history: History, _limits: Limits) -> Verdict:
    events = [(m.id, p) for m in case.messages if (p := m.payload) is not None]
    missing = sorted(workloads.expected_mail(events) - set(history.mailbox))
    if not missing:
        return _held("no-effect-lost")
    message_id, to = missing[0]
    more = f" (and {len(missing) - 1} more)" if len(missing) > 1 else ""
    return Verdict("no-effect-lost", False, f"{message_id}'s e-mail to {to} was never sent{more}",
                   tuple(sorted({m for m, _ in missing})))


def _none_applied_twice(_case: Case, history: History, _limits: Limits) -> Verdict:
    twice = sorted((key, n) for key, n in Counter(history.mailbox).items() if n > 1)
    if not twice:
        return _held("none-applied-twice")
    (message_id, to), times = twice[0]
    more = f" (and {len(twice) - 1} more)" if len(twice) > 1 else ""
    return Verdict("none-applied-twice", False, f"{message_id}'s e-mail to {to} was sent {times} times{more}",
                   tuple(sorted({m for (m, _), _ in twice})))


def _final_state_in_order(case: Case, history: History, _limits: Limits) -> Verdict:
    payloads = [p for m in case.messages if (p := m.payload) is not None]
    expected = workloads.final_authors(payloads)
    for user, (name, version) in sorted(expected.items()):
        got = history.authors.get(user)
        if got != (name, version):
            seen = "no row" if got is None else f"{got[0]!r} (version {got[1]})"
            involved = tuple(m.id for m in case.messages if (p := m.payload) and p.get("user_id") == user)
            return Verdict("final-state-in-order", False,
                           f"user {user} ends as {seen}; applying the events in order gives {name!r} "
                           f"(version {version})", involved)
    return _held("final-state-in-order")


def _bounded_staleness(case: Case, history: History, limits: Limits) -> Verdict:
    worst = None
    for read in history.stale_reads:
        written_s = history.writes_s[read.cached] if read.cached < len(history.writes_s) else read.at_s
        stale_s = read.at_s - written_s
        if worst is None or stale_s > worst[0]:
            worst = (stale_s, read)
    if worst is None or worst[0] <= limits.staleness_s:
        return _held("bounded-staleness")
    stale_s, read = worst
    writes = [m.id for m in sorted(case.messages, key=lambda m: m.at_s) if not m.poison]
    involved = (writes[read.cached],) if read.cached < len(writes) else ()
    return Verdict("bounded-staleness", False,
                   f"at {read.at_s:g} s the blog still served version {read.cached} of {read.key}, {stale_s:.1f} s "
                   f"after version {read.cached + 1} was written (the bound is {limits.staleness_s:g} s)", involved)


def _settles(_case: Case, history: History, limits: Limits) -> Verdict:
    for name, end in history.ends.items():
        deliveries = history.deliveries.get(name, 0)
        if end not in SETTLED:
            return Verdict("settles", False, f"{name} never settles: {end} at the end, after {deliveries} "
                                             f"deliveries", (name.split()[0],))
        if deliveries > limits.max_deliveries:
            return Verdict("settles", False, f"{name} was delivered {deliveries} times before it settled (the most "
                                             f"is {limits.max_deliveries})", (name.split()[0],))
    return _held("settles")


def _poison_parked(case: Case, history: History, _limits: Limits) -> Verdict:
    for message in case.messages:
        if not (message.poison or workloads.can_never_succeed(message.payload)):
            continue
        end = history.ends.get(message.id, "never published")
        if end != "dead-lettered":
            what = "a poison body" if message.poison else "an e-mail no retry gets through"
            return Verdict("poison-parked", False, f"{message.id} ({what}) ended {end}, not in the dead-letter "
                                                   f"queue where someone can look at it", (message.id,))
    return _held("poison-parked")


_CHECKS = {
    "no-effect-lost": _no_effect_lost,
    "none-applied-twice": _none_applied_twice,
    "final-state-in-order": _final_state_in_order,
    "bounded-staleness": _bounded_staleness,
    "settles": _settles,
    "poison-parked": _poison_parked,
}
