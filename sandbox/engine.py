"""The contract every engine implements (DESIGN §2): the runner, CLI and UI talk only to this."""

from __future__ import annotations

from typing import Protocol

from sandbox.model.actions import Action
from sandbox.model.metrics import Measurements
from sandbox.model.status import VariantStatus


class Engine(Protocol):
    name: str

    @property
    def now(self) -> float:
        """Seconds of scenario time since the start."""

    def apply(self, action: Action) -> list[str]:
        """Apply a fault, heal, load or knob change now; return notes for variants where it does nothing."""

    def advance(self, seconds: float) -> None:
        """Let scenario time pass (virtual in the simulation, wall clock in the lab)."""

    def frames(self) -> list[dict]:
        """One row per finished second per variant: {"t", "variant", <§5 metric>: value, ...}."""

    def measurements(self, variant: str) -> Measurements:
        """Everything measured for one variant, for window metrics and expectations."""

    def status(self) -> dict[str, VariantStatus]:
        """Health, calls and queue depths per variant, for the diagram."""

    def log(self) -> list[tuple[float, str, str]]:
        """(time, variant, plain words) for every notable event so far."""

    def close(self) -> None:
        """Release what the engine holds (processes, connections)."""
