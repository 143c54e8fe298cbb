"""When each part was broken, read from a timeline of actions: the shaded bands on the charts."""

from __future__ import annotations

from dataclasses import dataclass

from sandbox.model.actions import Action

# fault kind -> the verbs that start it; heal ends every kind but "down", which only revive ends
_STARTS = {"down": ("kill", "restart"), "hung": ("hang",), "latency": ("latency",), "errors": ("errors",)}


@dataclass(frozen=True)
class Period:
    """One fault on one part, from `start_s` to `end_s` (None while it lasts)."""

    target: str
    kind: str
    start_s: float
    end_s: float | None
    label: str


def _kind(verb: str) -> str | None:
    return next((kind for kind, verbs in _STARTS.items() if verb in verbs), None)


def _is_noop(action: Action) -> bool:
    """A fault set to nothing: latency 0 or an error rate of 0."""
    return (action.verb == "latency" and not action.ms and not action.jitter_ms) or (
        action.verb == "errors" and not action.rate)


def fault_periods(timeline: list[Action] | tuple[Action, ...], variant: str | None = None) -> list[Period]:
    """The fault periods one variant lived through (`variant=None`: actions aimed at every variant)."""
    open_: dict[tuple[str, str], tuple[float, str]] = {}
    periods: list[Period] = []

    def close(target: str, kind: str, at: float) -> None:
        started = open_.pop((target, kind), None)
        if started is not None:
            periods.append(Period(target, kind, started[0], at, started[1]))

    for action in sorted(timeline, key=lambda a: a.at):
        if action.target is None or (action.variant is not None and action.variant != variant):
            continue
        target, verb = action.target, action.verb
        if verb == "revive":
            close(target, "down", action.at)
        elif verb in ("kill", "restart"):
            close(target, "hung", action.at)
        elif verb == "heal":
            for kind in ("hung", "latency", "errors"):
                close(target, kind, action.at)
        kind = _kind(verb)
        if kind is None:
            continue
        close(target, kind, action.at)
        if verb == "restart":
            periods.append(Period(target, "down", action.at, action.at + action.down_s, action.describe()))
        elif not _is_noop(action):
            open_[(target, kind)] = (action.at, action.describe())
    periods.extend(Period(target, kind, start, None, label) for (target, kind), (start, label) in open_.items())
    return sorted(periods, key=lambda p: (p.start_s, p.target, p.kind))


def open_faults(timeline: list[Action] | tuple[Action, ...], variant: str | None = None) -> list[Period]:
    """The faults still in force at the end of the timeline."""
    return [p for p in fault_periods(timeline, variant) if p.end_s is None]
