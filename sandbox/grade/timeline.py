"""A counterexample told message by message (the terminal's timeline, the page's table), and the queue as letters
at each step of it, for the message view. Pure: no IO."""

from __future__ import annotations

from sandbox.grade.grader import Counterexample, Report
from sandbox.grade.history import Event
from sandbox.grade.invariants import TITLES
from sandbox.model.messages import STATES, Letter, Letters, State

WORDS = {"publish": "publish", "deliver": "deliver", "op": "call", "failed": "  → failed", "effect": "EFFECT",
         "commit": "commit", "ack": "ack", "reject": "reject", "retry": "retry", "dead-letter": "dead-letter",
         "error": "error", "crash": "CRASH", "restart": "restart", "lost-ack": "ack lost", "down": "fault",
         "up": "healed", "stale": "STALE", "lost": "LOST", "looping": "looping"}
"""The timeline's word for each event kind."""


def marked(event: Event, counter: Counterexample) -> bool:
    """Whether a line concerns the messages the broken invariant names."""
    return bool(event.message) and event.message in counter.involved and event.kind in (
        "effect", "crash", "lost-ack", "lost", "dead-letter", "ack", "deliver", "looping")


def lines(counter: Counterexample) -> list[str]:
    """The timeline: one line per event, `▶` marking the lines about the messages the broken invariant names."""
    out = []
    for event in counter.events:
        who = f"consumer {event.consumer}" if event.consumer else ""
        mark = "▶" if marked(event, counter) else " "
        out.append(f"{mark} {event.at_s:7.2f} s  {event.message or '':4} {who:11} {WORDS[event.kind]:11} "
                   f"{event.words}".rstrip())
    return out


def timeline_rows(counter: Counterexample) -> list[dict[str, str]]:
    """The timeline as table rows for the page: the same events and marks as `lines`."""
    return [{"mark": "▶" if marked(event, counter) else "", "at": f"{event.at_s:.2f} s", "message": event.message,
             "consumer": str(event.consumer or ""), "what": WORDS[event.kind], "details": event.words}
            for event in counter.events]


def explain(report: Report, command: str) -> list[str]:
    """A report in words for the terminal: a line per invariant, then the counterexample and how to replay it."""
    out = []
    if report.stopped:
        return [f"✗ {report.stopped}"]
    for verdict in report.verdicts:
        if verdict.held:
            out.append(f"✓ {TITLES[verdict.invariant]}")
        else:
            seeds = report.failing_seeds.get(verdict.invariant, [])
            out.append(f"✗ {TITLES[verdict.invariant]} — fails at {len(seeds)} of {len(report.seeds)} seeds; "
                       f"seed {seeds[0]}: {verdict.detail}")
    counter = report.counterexample
    if counter is not None:
        out.append("")
        out.append(f"{headline(counter)} breaks “{TITLES[counter.invariant]}”: {counter.detail}.")
        for fault in counter.faults:
            out.append(f"  fault: {fault}")
        out += lines(counter)
        out.append(f"replay it: {command} --seed {counter.seed}")
    return out


def headline(counter: Counterexample) -> str:
    """What the counterexample is: shrunk on the simulation, or a live run's whole case."""
    if counter.shrunk:
        return f"The smallest failing case (seed {counter.seed}, shrunk from {counter.found} to {counter.shrunk})"
    return (f"The failing case (seed {counter.seed}: {counter.found}; a live run is not shrunk — the same seed on the "
            "simulation is)")


def letters_at(events: tuple[Event, ...], step: int) -> Letters:
    """Where every message is after the first `step` events: the message view's letters at that moment."""
    where: dict[str, tuple[State, int, str, float]] = {}
    deliveries: dict[str, int] = {}
    now = 0.0
    for event in events[:step]:
        now = event.at_s
        name = event.message
        if not name:
            continue
        born = where.get(name, ("ready", 0, "", event.at_s))[3]
        if event.kind == "publish":
            where[name] = ("ready", deliveries.get(name, 0), "", born)
        elif event.kind == "deliver":
            deliveries[name] = deliveries.get(name, 0) + 1
            where[name] = ("unacked", deliveries[name], f"consumer {event.consumer}", born)
        elif event.kind in ("crash", "lost-ack", "error") or (event.kind == "reject" and "back to" in event.words):
            if name in where and where[name][0] == "unacked":
                where[name] = ("ready", deliveries.get(name, 0), "", born)
        elif event.kind in ("ack", "retry"):
            where[name] = ("in flight", deliveries.get(name, 0), "acked" if event.kind == "ack" else "retry queue",
                           born)
        elif event.kind == "dead-letter":
            where[name] = ("dead-lettered", deliveries.get(name, 0), "", born)
        elif event.kind == "lost":
            where[name] = ("lost", deliveries.get(name, 0), "", born)
    shown = tuple(Letter(name, state, now - born, count, holder) for name, (state, count, holder, born) in
                  where.items() if not (state == "in flight" and holder == "acked"))
    counts: dict[State, int] = dict.fromkeys(STATES, 0)
    for letter in shown:
        counts[letter.state] += 1
    return Letters(counts, shown)
