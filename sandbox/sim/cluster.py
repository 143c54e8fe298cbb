"""A three-node RabbitMQ cluster as the simulation sees it: which nodes are up, where the queue lives.

A classic queue lives on broker-1 and is there only while that node is. A quorum queue is replicated on all
three nodes with a leader: it works while a majority (two of three) is up, pausing for a leader election
when the leader is lost. Clients connect to the first node that is not down, as a client given the three
addresses in order would, and move on when it dies.

A revived node is not back at once. It boots for `broker.boot_s`; then it syncs with a peer it last saw running,
and when none of those peers is up it waits for one (RabbitMQ's rule: a node that was not the last to stop tries
its peers 10 times, 30 s each, then gives up: `broker.peer_wait_s`). A node killed while every peer was down
was the last to stop and starts alone. A quorum queue's member on a node that is back counts toward a majority
only after it has caught up on the log it missed (`broker.catch_up_s`). The simulation syncs at the end of the
boot; a real node does so partway through it, which makes no difference unless peers die during the boot.
"""

from __future__ import annotations

from collections.abc import Callable

from sandbox.sim.faults import DOWN, UP, Faults

NODES = 3


class Node(Faults):
    """One node, `broker-N`: its own faults; a kill, revive or heal tells the broker. A revived node boots first:
    `revive` asks the broker to boot it, and `answer` brings it up."""

    def __init__(self, index: int, on_change: Callable[[int], None], on_boot: Callable[[int], None]):
        super().__init__()
        self.index = index
        self._on_change = on_change
        self._on_boot = on_boot
        self.booting = False
        self.boots = 0
        """How many times the node was started again: a boot still running after a kill and a revive is stale."""
        self.peers: frozenset[int] = frozenset()
        """The nodes that were up when this one was killed: the ones it waits for when it boots again."""

    def kill(self) -> None:
        self.booting = False
        if self.state != DOWN:
            super().kill()
            self._on_change(self.index)

    def revive(self) -> None:
        if self.state == DOWN and not self.booting:
            self.booting = True
            self.boots += 1
            self._on_boot(self.index)

    def answer(self) -> None:
        """The boot is done: the node answers again."""
        self.booting = False
        if self.state == DOWN:
            super().revive()
            self._on_change(self.index)

    def heal(self) -> None:
        super().heal()
        self._on_change(self.index)


class Cluster:
    def __init__(self, quorum: bool, on_change: Callable[[int], None], on_boot: Callable[[int], None]):
        self.quorum = quorum
        self.nodes = [Node(i, on_change, on_boot) for i in range(NODES)]
        self.leader = 0
        """The quorum queue's leader (a classic queue's home is always broker-1)."""
        self.election_until_s = 0.0
        self.caught_up_s = [0.0] * NODES
        """When each node's quorum member has caught up and counts toward a majority."""

    def up(self, index: int) -> bool:
        return self.nodes[index].state != DOWN

    @property
    def majority(self) -> bool:
        return sum(self.up(i) for i in range(NODES)) * 2 > NODES

    def majority_from_s(self) -> float:
        """When the nodes up now make a majority of caught-up members (infinity: they never can)."""
        ready = sorted(self.caught_up_s[i] for i in range(NODES) if self.up(i))
        needed = NODES // 2 + 1
        return ready[needed - 1] if len(ready) >= needed else float("inf")

    def kill(self, index: int) -> None:
        """Note the peers a node sees running as it dies."""
        self.nodes[index].peers = frozenset(i for i in range(NODES) if i != index and self.up(i))

    def can_sync(self, index: int) -> bool:
        """A booting node can finish: it was the last to stop, or a peer it last saw running is up."""
        peers = self.nodes[index].peers
        return not peers or any(self.up(i) for i in peers)

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
        """A new leader among the nodes that are up, after `election_s` once a majority has caught up."""
        self.leader = next(i for i in range(NODES) if self.up(i))
        self.election_until_s = max(now_s, self.majority_from_s()) + election_s

    def set_all(self, state: str) -> None:
        """The whole broker went down or came back: every node with it."""
        for node in self.nodes:
            node.state = state
            node.booting = False
        if state == UP:
            self.leader = 0

    def named(self) -> list[tuple[str, Node]]:
        return [(f"broker-{i + 1}", node) for i, node in enumerate(self.nodes)]
