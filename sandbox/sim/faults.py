"""The injectable fault state every simulated part carries; what each verb starts and ends is model/faults.py's."""

from __future__ import annotations

import random
from typing import assert_never

from sandbox.model.faults import HEALED, FaultKind

UP, DOWN, HUNG = "up", "down", "hung"


class Faults:
    """Up, down (refuses at once) or hung (accepts, never answers); plus latency and error rate."""

    def __init__(self) -> None:
        self.state = UP
        self.latency_ms = 0.0
        self.jitter_ms = 0.0
        self.error_rate = 0.0

    @property
    def degraded(self) -> bool:
        return bool(self.latency_ms or self.jitter_ms or self.error_rate)

    def delay_s(self, rng: random.Random) -> float:
        """Injected one-way delay for one request: latency ± uniform jitter, never negative."""
        delay_ms = self.latency_ms
        if self.jitter_ms:
            delay_ms += rng.uniform(-self.jitter_ms, self.jitter_ms)
        return max(0.0, delay_ms) / 1000.0

    def wire_s(self, rtt_s: float, rng: random.Random) -> float:
        """One request's time on the wire: the round trip, plus the injected delay when there is one."""
        return rtt_s + self.delay_s(rng) if self.latency_ms or self.jitter_ms else rtt_s

    def fails(self, rng: random.Random) -> bool:
        return self.error_rate > 0 and rng.random() < self.error_rate

    def kill(self) -> None:
        self.state = DOWN

    def revive(self) -> None:
        if self.state == DOWN:
            self.state = UP

    def heal(self) -> None:
        """End what `heal` ends (HEALED: a hang, latency, errors); a killed part stays down until revived.

        Requests a hang already swallowed stay unanswered: their callers time out (or wait forever)."""
        for kind in HEALED:
            self.end(kind)

    def end(self, kind: FaultKind) -> None:
        """End one kind of fault on this part."""
        match kind:
            case "down":
                self.revive()
            case "hung":
                if self.state == HUNG:
                    self.state = UP
            case "latency":
                self.latency_ms = self.jitter_ms = 0.0
            case "errors":
                self.error_rate = 0.0
            case _:
                assert_never(kind)
