"""What every simulated part of one variant shares: its clock, its random draws, its knobs, its record.

Parts receive the context and the parts they call; none of them reaches back into the world that built them.
"""

from __future__ import annotations

import random
from math import log

from sandbox.model.knobs import Knobs
from sandbox.model.measurements import Measurements
from sandbox.model.service_time import service_time_s
from sandbox.sim.clock import Clock
from sandbox.sim.deadlines import Deadlines
from sandbox.sim.traffic import Traffic


class Context:
    def __init__(self, knobs: Knobs, seed: int):
        self.env = Clock()
        self.rng = random.Random(f"{seed}:work")
        self.knobs = knobs
        """Read at the moment of use, so a `set` takes effect at once; replaced whole by the world."""
        self.measurements = Measurements()
        self.lines: list[tuple[float, str]] = []
        self.deadlines = Deadlines(self.env)
        self.traffic = Traffic(self.env, self.log)

    def log(self, text: str) -> None:
        """Note an event in plain words, at the current moment."""
        self.lines.append((self.env.now, text))

    def work_s(self, mean_ms: float) -> float:
        """One draw of a service time with the given mean, in seconds."""
        services = self.knobs.services
        if services.distribution == "exponential" and mean_ms > 0:  # the default, inline: rng.expovariate's formula
            return -log(1.0 - self.rng.random()) / (1.0 / (mean_ms / 1000.0))
        return service_time_s(mean_ms, services.distribution, services.lognormal_sigma, self.rng)
