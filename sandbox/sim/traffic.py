"""Calls between parts, counted per second for the diagram's arrows; a change in what a link answers is logged."""

from __future__ import annotations

from collections.abc import Callable

import simpy

from sandbox.sim.outcome import Outcome


class Traffic:
    def __init__(self, env: simpy.Environment, log: Callable[[str], None]):
        self._env = env
        self._log = log
        self._counts: dict[tuple[str, str], list[int]] = {}
        self.last_second: dict[tuple[str, str], list[int]] = {}
        """{(caller, callee): [calls, failed]} in the last whole second."""
        self._status: dict[tuple[str, str], tuple[str, float]] = {}

    def edge(self, caller: str, callee: str, outcome: Outcome) -> None:
        """Count a call; log when what a link answers changes (at most once a second)."""
        key = (caller, callee)
        counts = self._counts.get(key)
        if counts is None:
            counts = self._counts[key] = [0, 0]
        counts[0] += 1
        if not outcome.ok:
            counts[1] += 1
        status, logged_s = self._status.get(key, ("200 OK", -1.0))
        now = self._env.now
        if outcome.status != status and now - logged_s >= 1.0 and (not outcome.ok or status != "200 OK"):
            self._status[key] = (outcome.status, now)
            self._log(f"{caller} → {callee}: {outcome.status}")

    def close_second(self) -> None:
        self.last_second, self._counts = self._counts, {}
