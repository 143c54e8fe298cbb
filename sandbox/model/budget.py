"""The work one run may ask for: simulated client requests, counted before the run starts.

A run's time and memory grow with the requests it simulates (each one is a few SimPy events and a
latency kept for percentiles), so a scenario that would make more than MAX_REQUESTS is refused with
one message that says how many it asks for and what to lower. The shipped scenarios and lessons ask
for a few thousand to about 150,000.
"""

from __future__ import annotations

from collections.abc import Iterable

from sandbox.model.commands import Command, Load, Set
from sandbox.model.knobs import Knobs

MAX_REQUESTS = 300_000
"""Client requests (reads, writes with their retries, profile updates) one run may simulate, all variants together."""

_RATES = ("load.reads_per_s", "load.writes_per_s", "load.profile_updates_per_s")


def expected_requests(knobs: Knobs, timeline: Iterable[Command], variant: str, duration_s: float) -> float:
    """The client requests one variant makes on average: each rate times the time it is in force, writes
    counted once per attempt the client may make."""
    rates = {key: float(knobs.get(key)) for key in _RATES}
    attempts = 1 + knobs.client.retries
    total, since_s = 0.0, 0.0

    def per_s() -> float:
        return rates[_RATES[0]] + rates[_RATES[1]] * attempts + rates[_RATES[2]]

    for command in sorted(timeline, key=lambda c: c.at):
        if command.variant not in (None, variant):
            continue
        changes: dict[str, float] = {}
        if isinstance(command, Load):
            changes = command.rates()
        elif isinstance(command, Set) and command.key in _RATES:
            changes = {command.key: float(command.value)}
        elif isinstance(command, Set) and command.key == "client.retries":
            total += per_s() * (command.at - since_s)
            since_s = command.at
            attempts = 1 + int(command.value)
        if changes:
            total += per_s() * (command.at - since_s)
            since_s = command.at
            rates |= changes
    return total + per_s() * (duration_s - since_s)
