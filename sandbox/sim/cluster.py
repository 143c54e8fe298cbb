"""A three-node RabbitMQ cluster as the simulation sees it: which nodes are up, where the queue lives.

A classic queue lives on broker-1 and is there only while that node is. A quorum queue is replicated on all
three nodes with a leader: it works while a majority (two of three) is up, pausing for a leader election
when the leader is lost. Clients connect to the first node that is not down, as a client given the three
addresses in order would, and move on when it dies.
"""

from __future__ import annotations

from collections.abc import Callable

from sandbox.sim.faults import DOWN, UP, Faults

NODES = 3


class Node(Faults):
    """One node, `broker-N`: its own faults; a kill, revive or heal tells the broker."""

    def __init__(self, index: int, on_change: Callable[[int], None]):
        super().__init__()
        self.index = index
        self._on_change = on_change

    def kill(self) -> None:
        if self.state != DOWN:
            super().kill()
            self._on_change(self.index)

    def revive(self) -> None:
        if self.state == DOWN:
            super().revive()
            self._on_change(self.index)

    def heal(self) -> None:
        super().heal()
        self._on_change(self.index)


class Cluster:
    def __init__(self, quorum: bool, on_change: Callable[[int], None]):
        self.quorum = quorum
        self.nodes = [Node(i, on_change) for i in range(NODES)]
        self.leader = 0
        """The quorum queue's leader (a classic queue's home is always broker-1)."""
        self.election_until_s = 0.0

    def up(self, index: int) -> bool:
        return self.nodes[index].state != DOWN

    @property
    def majority(self) -> bool:
        return sum(self.up(i) for i in range(NODES)) * 2 > NODES

    def client_node(self) -> Node | None:
        """The node clients are connected to: the first one not down."""
        return next((node for node in self.nodes if node.state != DOWN), None)

    def queue_up(self) -> bool:
        """The queue exists somewhere it can be reached (it may still be electing a leader)."""
        return self.majority if self.quorum else self.up(0)

    def available(self, now_s: float) -> bool:
        """The queue takes and delivers messages now."""
        return self.queue_up() and now_s >= self.election_until_s

    def elect(self, now_s: float, election_s: float) -> None:
        """A new leader among the nodes that are up, after `election_s`."""
        self.leader = next(i for i in range(NODES) if self.up(i))
        self.election_until_s = now_s + election_s

    def set_all(self, state: str) -> None:
        """The whole broker went down or came back: every node with it."""
        for node in self.nodes:
            node.state = state
        if state == UP:
            self.leader = 0

    def named(self) -> list[tuple[str, Node]]:
        return [(f"broker-{i + 1}", node) for i, node in enumerate(self.nodes)]
