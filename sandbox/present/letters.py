"""The queue as letters for the message view: exact counts per state, and the first letters of each state with their
id, where they are in words (ready / held unacked by worker N / redelivered / dead-lettered / lost and why) and age.

Thousands queued stay cheap: the engine hands over at most SHOWN_PER_STATE letters of a state, and the view lists at
most LISTED_PER_STATE of those, saying how many more there are.
"""

from __future__ import annotations

from typing import Any

from sandbox.model.messages import STATE_WORDS, STATES, Letter, Letters

LISTED_PER_STATE = 12


def age(seconds: float) -> str:
    """'4 s', '2 min 05 s', '1 h 03 min'."""
    whole = int(seconds)
    if whole < 60:
        return f"{whole} s"
    if whole < 3600:
        return f"{whole // 60} min {whole % 60:02d} s"
    return f"{whole // 3600} h {whole % 3600 // 60:02d} min"


def _delivery(letter: Letter) -> str:
    return f"delivery {letter.deliveries:,}, redelivered" if letter.redelivered else ""


def whereabouts(letter: Letter) -> str:
    """Where one letter is, in words: 'held unacked by worker 1 · delivery 3, redelivered'."""
    match letter.state:
        case "ready":
            words = "ready, redelivered next" if letter.deliveries else "ready"
        case "unacked":
            words = f"held unacked by {letter.holder or 'a worker'}"
        case "in flight":
            words = f"held by {letter.holder}" if letter.holder else "on its way to the queue"
        case "outbox":
            words = "in the author's outbox"
        case "dead-lettered":
            words = f"dead-lettered after {letter.deliveries:,} deliveries"
        case "lost":
            words = f"lost: {letter.cause}" if letter.cause else "lost"
    extra = _delivery(letter) if letter.state in ("unacked", "in flight") else ""
    return f"{words} · {extra}" if extra else words


def mailbag(letters: Letters) -> dict[str, Any]:
    """JSON-ready: {"states": [{"state", "count", "meaning", "more"}], "letters": [{"id", "state",
    "where", "age", "poison", "deliveries"}]} with every state, even empty, so the view keeps its shape."""
    listed: list[dict[str, Any]] = []
    states = []
    for state in STATES:
        mine = letters.of(state)
        count = letters.counts.get(state, 0)
        shown = mine[:LISTED_PER_STATE]
        states.append({"state": state, "count": count, "meaning": STATE_WORDS[state], "more": count - len(shown)})
        listed += [{"id": letter.id, "state": state, "where": whereabouts(letter), "age": age(letter.age_s),
                    "poison": letter.poison, "deliveries": letter.deliveries} for letter in shown]
    return {"states": states, "letters": listed}
