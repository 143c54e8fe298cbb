"""What an engine reports for the diagram: each part's health, the calls between parts, the queue."""

from __future__ import annotations

from dataclasses import dataclass, field


def health(*, down: bool, hung: bool = False, busy: int = 0, workers: int = 0, waiting: int = 0,
           degraded: bool = False) -> str:
    """The diagram's word for a part; saturated means every worker is busy and requests wait in line."""
    if down:
        return "down"
    if hung:
        return "hung"
    if workers and busy >= workers and waiting > 0:
        return "saturated"
    return "slow" if degraded else "up"


@dataclass(frozen=True)
class Component:
    name: str
    health: str
    busy: int = 0
    waiting: int = 0
    workers: int = 0
    latency_ms: float = 0.0
    error_rate: float = 0.0


@dataclass(frozen=True)
class Edge:
    """Calls from `source` to `target` in the last whole second, and the fraction that failed."""

    source: str
    target: str
    calls_per_s: float
    error_rate: float


@dataclass(frozen=True)
class VariantStatus:
    variant: str
    architecture: str
    now_s: float
    components: dict[str, Component]
    edges: tuple[Edge, ...] = ()
    breakers: dict[str, str] = field(default_factory=dict)
    queue_ready: int = 0
    queue_unacked: int = 0
    dead_letters: int = 0
    outbox_pending: int = 0
    directory: dict[str, int] = field(default_factory=dict)
    nodes: tuple[Component, ...] = ()
    """A clustered broker's nodes, broker-1 to broker-3 (empty for one node)."""
    queue_leader: str = ""
    """The node whose replica of cache-invalidation leads (a quorum queue), or holds it (classic)."""

    def absent_parts(self) -> set[str]:
        """The parts this variant does not have (sync has no broker or cache-worker): a fault aimed at one of
        them does nothing here."""
        return {part.name for part in (*self.components.values(), *self.nodes) if part.health == "absent"}
