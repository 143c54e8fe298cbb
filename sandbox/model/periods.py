"""When each part was broken, read from a timeline of commands: the shaded bands on the charts."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from sandbox.model.commands import Command, TargetCommand
from sandbox.model.faults import FaultKind, effect


@dataclass(frozen=True)
class Period:
    """One fault on one part, from `start_s` to `end_s` (None while it lasts)."""

    target: str
    kind: FaultKind
    start_s: float
    end_s: float | None
    label: str


def fault_periods(timeline: Iterable[Command], variant: str | None = None) -> list[Period]:
    """The fault periods one variant lived through (`variant=None`: commands aimed at every variant), each verb doing
    what model/faults.py's table says."""
    open_: dict[tuple[str, FaultKind], tuple[float, str, float | None]] = {}
    """(target, kind) -> (start_s, label, the end already planned: a restart's)"""
    periods: list[Period] = []

    def close(target: str, kind: FaultKind, at: float) -> None:
        started = open_.pop((target, kind), None)
        if started is not None:
            start_s, label, until_s = started
            periods.append(Period(target, kind, start_s, at if until_s is None else min(at, until_s), label))

    def down_at(target: str, at: float) -> bool:
        started = open_.get((target, "down"))
        return started is not None and (started[2] is None or at < started[2])

    for command in sorted(timeline, key=lambda c: c.at):
        if (command.variant is not None and command.variant != variant) or not isinstance(command, TargetCommand):
            continue
        row, target = effect(command), command.target
        if row.needs_up and down_at(target, command.at):
            continue  # refused: the part is down
        for kind in (*row.ends, *(() if row.starts is None else (row.starts,))):
            close(target, kind, command.at)
        if row.starts is not None:
            until_s = None if row.lasts_s is None else command.at + row.lasts_s
            open_[(target, row.starts)] = (command.at, command.describe(), until_s)
    periods.extend(Period(target, kind, start_s, until_s, label)
                   for (target, kind), (start_s, label, until_s) in open_.items())
    return sorted(periods, key=lambda p: (p.start_s, p.target, p.kind))


def open_faults(timeline: Iterable[Command], variant: str | None = None) -> list[Period]:
    """The faults still in force at the end of the timeline."""
    return [p for p in fault_periods(timeline, variant) if p.end_s is None]
