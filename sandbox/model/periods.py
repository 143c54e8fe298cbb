"""When each part was broken, read from a timeline of commands: the shaded bands on the charts."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

from sandbox.model.commands import Command, Errors, Hang, Heal, Kill, Latency, Restart, Revive

FaultKind = Literal["down", "hung", "latency", "errors"]
_HEALED: tuple[FaultKind, ...] = ("hung", "latency", "errors")
"""What `heal` ends; only `revive` (or the end of a restart) ends "down"."""


@dataclass(frozen=True)
class Period:
    """One fault on one part, from `start_s` to `end_s` (None while it lasts)."""

    target: str
    kind: FaultKind
    start_s: float
    end_s: float | None
    label: str


def fault_periods(timeline: Iterable[Command], variant: str | None = None) -> list[Period]:
    """The fault periods one variant lived through (`variant=None`: commands aimed at every variant)."""
    open_: dict[tuple[str, FaultKind], tuple[float, str]] = {}
    periods: list[Period] = []

    def close(target: str, kind: FaultKind, at: float) -> None:
        started = open_.pop((target, kind), None)
        if started is not None:
            periods.append(Period(target, kind, started[0], at, started[1]))

    def start(target: str, kind: FaultKind, command: Command) -> None:
        close(target, kind, command.at)
        open_[(target, kind)] = (command.at, command.describe())

    for command in sorted(timeline, key=lambda c: c.at):
        if command.variant is not None and command.variant != variant:
            continue
        match command:
            case Revive(target=target):
                close(target, "down", command.at)
            case Heal(target=target):
                for kind in _HEALED:
                    close(target, kind, command.at)
            case Kill(target=target):
                close(target, "hung", command.at)
                start(target, "down", command)
            case Restart(target=target, down_s=down_s):
                close(target, "hung", command.at)
                close(target, "down", command.at)
                periods.append(Period(target, "down", command.at, command.at + down_s, command.describe()))
            case Hang(target=target):
                start(target, "hung", command)
            case Latency(target=target, ms=ms, jitter_ms=jitter_ms):
                close(target, "latency", command.at)
                if ms or jitter_ms:
                    start(target, "latency", command)
            case Errors(target=target, rate=rate):
                close(target, "errors", command.at)
                if rate:
                    start(target, "errors", command)
    periods.extend(Period(target, kind, start_s, None, label) for (target, kind), (start_s, label) in open_.items())
    return sorted(periods, key=lambda p: (p.start_s, p.target, p.kind))


def open_faults(timeline: Iterable[Command], variant: str | None = None) -> list[Period]:
    """The faults still in force at the end of the timeline."""
    return [p for p in fault_periods(timeline, variant) if p.end_s is None]
