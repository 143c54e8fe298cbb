"""The simulation engine: every variant of a scenario as its own deterministic SimPy world."""

from __future__ import annotations

import gc
from contextlib import contextmanager

from sandbox.model.commands import Command
from sandbox.model.measurements import Frame, Measurements, interleave
from sandbox.model.messages import Letters
from sandbox.model.scenario import Scenario
from sandbox.model.status import VariantStatus
from sandbox.sim.world import World


@contextmanager
def cyclic_gc_paused():
    """A run allocates millions of short-lived objects that reference counting frees; the cyclic
    collector's passes over them cost a third of the run and find almost nothing (bench/sim_speed.py).
    Nested, only the outermost turns it back on; each time it does, the collector catches up, so a caller
    advancing in many small steps pauses it around all of them."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


class SimEngine:
    name = "sim"

    def __init__(self, scenario: Scenario, seed: int | None = None):
        self.scenario = scenario
        self.seed = scenario.seed if seed is None else seed
        self.worlds = {
            v.name: World(v.name, v.architecture, scenario.knobs_for(v), self.seed) for v in scenario.variants
        }
        self._now = 0.0

    @property
    def now(self) -> float:
        return self._now

    def apply(self, command: Command) -> list[str]:
        notes = []
        for name, world in self.worlds.items():
            if command.variant is None or command.variant == name:
                note = world.apply(command)
                if note:
                    notes.append(note)
        return notes

    def advance(self, seconds: float) -> None:
        if seconds < 0:
            raise ValueError("time only moves forward")
        target = self._now + seconds
        with cyclic_gc_paused():
            for world in self.worlds.values():
                world.advance_to(target)
        self._now = target

    def frames(self) -> list[Frame]:
        return interleave({name: w.measurements.frames() for name, w in self.worlds.items()})

    def measurements(self, variant: str) -> Measurements:
        return self.worlds[variant].measurements

    def messages(self, variant: str) -> Letters:
        return self.worlds[variant].messages()

    def status(self) -> dict[str, VariantStatus]:
        return {name: world.status() for name, world in self.worlds.items()}

    def log(self) -> list[tuple[float, str, str]]:
        lines = [(t, name, text) for name, w in self.worlds.items() for t, text in w.lines]
        return sorted(lines, key=lambda line: line[0])

    def close(self) -> None:
        """Nothing to release: a simulation holds no processes, ports or connections."""
