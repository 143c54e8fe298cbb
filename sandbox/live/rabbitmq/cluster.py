"""The lab's own RabbitMQ nodes, broker-1 to broker-3: started, clustered, killed, revived (the twin of sim/cluster.py).

A node is rabbitmq-server run by the lab (node.py's tools) under a name, ports and folder of its own:
`lab-<run id>-<n>@localhost`, AMQP and Erlang distribution on 127.0.0.1 only, on ports below the kernel's ephemeral
range (so a killed node finds its ports free when it starts again), its data and logs in the run's temporary folder,
no plugins. The nodes start at once; nodes 2 and 3 then join node 1 (`rabbitmqctl stop_app; join_cluster; start_app`),
so a queue declared through broker-1 lives there (a classic queue) or has its first leader there (a quorum queue).
`start` returns only once `rabbitmqctl cluster_status` on broker-1 lists all three nodes as running: a quorum queue
takes its members when it is declared (in 3.x; 4.x adds members later only with `rabbitmq-queues grow` or its
membership reconciliation), so one declared before every node had joined would have fewer members than the cluster
has nodes, and no majority with one node down. A member whose Raft server did not start at declare time (RabbitMQ
accepts a quorum queue once a majority of its servers started) is as bad, so `await_members` waits until
`rabbitmq-queues quorum_status` shows every member as a leader or follower.

The nodes run at a higher priority than the lab's services (nice -5, when the lab may raise it): on its own machine a
broker does not share two cores with its clients and their load, and a node that boots beside two busy loops
answered after 22-36 s at the default priority against 13-17 s at nice -5.

`kill` is SIGKILL. `revive` starts the node again with its folder, and it rejoins the cluster by itself; RabbitMQ
takes seconds to boot (15-30 s on two cores under a scenario's load), so a revived node answers that much after
the command. `restart_app` is the one-node lab's `restart broker`: `rabbitmqctl stop_app`, then `start_app`. Every
node is the lab's child with the parent-death signal set: it dies with the lab, even when the lab is killed by
SIGKILL.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import socket
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from sandbox.live.errors import LabError
from sandbox.live.processes.ports import free_port
from sandbox.live.processes.supervisor import ServiceSpec, Supervisor
from sandbox.live.processes.timers import Timers
from sandbox.live.rabbitmq import node

JOIN_ATTEMPTS = 3
START_TIMEOUT_S = 120.0
MEMBERS_TIMEOUT_S = 120.0
POLL_S = 0.1
STATUS_POLL_S = 1.0  # rabbitmqctl takes about a second itself: asked no more often than this
NAME_PREFIX = "lab-"
NODE_NICE = -5  # the nodes' priority, when the lab may raise it (root)
RAFT_SERVING = ("leader", "follower")


class NodeError(LabError):
    """A node of the lab's own did not start or join the cluster; the message says what its log says."""


@dataclass(frozen=True)
class Node:
    """One node of the lab's own: broker-<number>."""

    number: int
    name: str  # lab-<run id>-<number>@localhost
    amqp_port: int
    dist_port: int
    folder: Path

    @property
    def label(self) -> str:
        return f"broker-{self.number}"

    @property
    def url(self) -> str:
        """A fresh node's default user, allowed from 127.0.0.1."""
        return f"amqp://guest:guest@127.0.0.1:{self.amqp_port}/%2F"

    def prepare(self, tools: node.Tools) -> None:
        """Its folder and files, owned by the user it runs as."""
        self.folder.mkdir(parents=True, exist_ok=True)
        (self.folder / "enabled_plugins").write_text("[].\n")
        (self.folder / "rabbitmq.config").write_text("[].\n")  # the Erlang-term format: no schema to translate
        for path in (self.folder, *self.folder.iterdir()):
            tools.chown(path)

    def spec(self, tools: node.Tools) -> ServiceSpec:
        folder = self.folder
        env = tools.env() | {
            "RABBITMQ_NODENAME": self.name, "RABBITMQ_NODE_IP_ADDRESS": "127.0.0.1",
            "RABBITMQ_NODE_PORT": str(self.amqp_port), "RABBITMQ_DIST_PORT": str(self.dist_port),
            "RABBITMQ_MNESIA_BASE": str(folder / "mnesia"), "RABBITMQ_LOG_BASE": str(folder / "log"),
            "RABBITMQ_PID_FILE": str(folder / "pid"), "RABBITMQ_FEATURE_FLAGS_FILE": str(folder / "feature_flags"),
            "RABBITMQ_ENABLED_PLUGINS_FILE": str(folder / "enabled_plugins"),
            "RABBITMQ_CONFIG_FILE": str(folder / "rabbitmq.config"),
            "RABBITMQ_ADVANCED_CONFIG_FILE": str(folder / "advanced.config"),
            "RABBITMQ_CONF_ENV_FILE": str(folder / "rabbitmq-env.conf"),
            # the VM in place of the script (exec, no shell in between), so it keeps the parent-death signal
            "RABBITMQ_ALLOW_INPUT": "true",
            "RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS": "-noinput -kernel inet_dist_use_interface {127,0,0,1}"}
        raised = ("nice", "-n", str(NODE_NICE)) if os.geteuid() == 0 and shutil.which("nice") else ()
        return ServiceSpec(self.label, (*raised, *tools.argv("rabbitmq-server", die_with_parent=True)), env=env)


def node_name(run_id: str, number: int) -> str:
    return f"{NAME_PREFIX}{run_id}-{number}@localhost"


class Cluster:
    """`count` nodes of the lab's own (1 or 3), in order broker-1, broker-2, broker-3."""

    def __init__(self, count: int, folder: Path, run_id: str, log: Callable[[str], None] = lambda _text: None):
        found = node.tools()
        if found is None:
            raise NodeError("RabbitMQ is not installed here (no rabbitmq-server on PATH)")
        self.tools = found
        self.folder = folder
        self.nodes = [Node(n, node_name(run_id, n), free_port(), free_port(), folder / f"broker-{n}")
                      for n in range(1, count + 1)]
        self.supervisor = Supervisor(folder / "logs")
        self._log = log
        self._locks = {n.number: threading.Lock() for n in self.nodes}
        self._timers = Timers()
        self._commands = ThreadPoolExecutor(max_workers=1, thread_name_prefix="rabbitmqctl")
        self._closed = False
        self._answering = {n.number: False for n in self.nodes}

    @property
    def urls(self) -> tuple[str, ...]:
        return tuple(n.url for n in self.nodes)

    def node(self, number: int) -> Node:
        return self.nodes[number - 1]

    def pids(self) -> dict[str, int]:
        return self.supervisor.pids()

    # starting --------------------------------------------------------------------

    def start(self) -> float:
        """Start every node and join nodes 2 and 3 to node 1; the seconds it took. Raises NodeError."""
        started = time.monotonic()
        self.folder.mkdir(parents=True, exist_ok=True)
        for each in self.nodes:
            each.prepare(self.tools)
            self.supervisor.start(each.spec(self.tools))
        for each in self.nodes:
            self._await(each, started + START_TIMEOUT_S)
            self._answering[each.number] = True
        problems: list[str] = []
        joins = [threading.Thread(target=self._join, args=(each, problems), daemon=True) for each in self.nodes[1:]]
        for thread in joins:
            thread.start()
        for thread in joins:
            thread.join(START_TIMEOUT_S)
        if problems:
            raise NodeError(problems[0])
        self._await_all_running(time.monotonic() + START_TIMEOUT_S)
        return time.monotonic() - started

    def running(self) -> set[str] | str:
        """The nodes broker-1 sees running (`rabbitmqctl cluster_status`), or what went wrong asking."""
        outcome = node.rabbitmqctl("cluster_status", "--formatter", "json", node=self.nodes[0].name)
        if not outcome.ok:
            return outcome.output
        try:
            return set(json.loads(outcome.output).get("running_nodes", ()))
        except (ValueError, AttributeError):
            return f"not JSON: {outcome.output[:200]}"

    def _await_all_running(self, deadline: float) -> None:
        names = {each.name for each in self.nodes}
        while True:
            running = self.running()
            if isinstance(running, set) and names <= running:
                return
            if time.monotonic() > deadline:
                said = f"these are not running: {', '.join(sorted(names - running))}" if isinstance(running, set) \
                    else f"rabbitmqctl cluster_status: {running}"
                raise NodeError(f"broker-1 did not see all {len(names)} nodes running within {START_TIMEOUT_S:g} s "
                                f"of their joins ({said}; their logs: {self.folder})")
            time.sleep(STATUS_POLL_S)

    def members(self, queue: str) -> dict[str, str]:
        """A quorum queue's members and each one's Raft state (`rabbitmq-queues quorum_status`); empty when unknown."""
        outcome = node.tool("rabbitmq-queues", "quorum_status", queue, "--formatter", "json", node=self.nodes[0].name)
        if not outcome.ok:
            return {}
        try:
            rows = json.loads(outcome.output)
            return {str(row["Node Name"]): str(row["Raft State"]) for row in rows}
        except (ValueError, KeyError, TypeError):
            return {}

    def await_members(self, queue: str) -> None:
        """Return once the quorum queue `queue` has a serving member on every node; NodeError after
        MEMBERS_TIMEOUT_S."""
        deadline = time.monotonic() + MEMBERS_TIMEOUT_S
        names = {each.name for each in self.nodes}
        while True:
            members = self.members(queue)
            serving = {name for name, state in members.items() if state in RAFT_SERVING}
            if names <= serving:
                return
            if time.monotonic() > deadline:
                raise NodeError(f"quorum queue {queue!r} has no serving member on "
                                f"{', '.join(sorted(names - serving))} {MEMBERS_TIMEOUT_S:g} s after it was declared "
                                f"(rabbitmq-queues quorum_status: {members or 'no answer'})")
            time.sleep(STATUS_POLL_S)

    def _await(self, each: Node, deadline: float) -> None:
        """Return once the node's AMQP port answers; NodeError when it exits or the deadline passes."""
        while not _answers(each.amqp_port):
            if not self.supervisor.alive(each.label):
                raise NodeError(f"RabbitMQ node {each.name} exited while starting: "
                                f"{self.supervisor.last_log_line(each.label)} (its log: {each.folder / 'log'})")
            if time.monotonic() > deadline:
                raise NodeError(f"RabbitMQ node {each.name} did not open port {each.amqp_port} within "
                                f"{START_TIMEOUT_S:g} s (its log: {each.folder / 'log'})")
            time.sleep(POLL_S)

    def _join(self, each: Node, problems: list[str]) -> None:
        """stop_app, join_cluster, start_app. On a busy machine RabbitMQ 3.10's join now and then aborts while
        Mnesia copies the schema (`{aborted, {shutdown, ... sync_dump_log ...}}`): the node, still stopped and
        holding nothing, is reset and asked again, up to JOIN_ATTEMPTS times."""
        first = self.nodes[0].name
        if not self._step(each, problems, "stop_app"):
            return
        for attempt in range(1, JOIN_ATTEMPTS + 1):
            if self._step(each, problems if attempt == JOIN_ATTEMPTS else [], "join_cluster", first):
                break
            if attempt == JOIN_ATTEMPTS or not self._step(each, problems, "reset"):
                return
        self._step(each, problems, "start_app")

    @staticmethod
    def _step(each: Node, problems: list[str], *step: str) -> bool:
        outcome = node.rabbitmqctl(*step, node=each.name)
        if not outcome.ok:
            problems.append(f"RabbitMQ node {each.name} could not {' '.join(step)}: {outcome.output}")
        return outcome.ok

    # faults ----------------------------------------------------------------------

    def alive(self, number: int) -> bool:
        return self.supervisor.alive(self.node(number).label)

    def majority_answers(self) -> bool:
        """More than half the nodes answer on their AMQP port (a revived node only once it has booted): what a quorum
        queue needs to have a leader, and so a message count."""
        answering = sum(self._answering[each.number] and self.alive(each.number) for each in self.nodes)
        return answering * 2 > len(self.nodes)

    def kill(self, number: int) -> None:
        """SIGKILL: the node's connections close at once, its disk keeps what it had written."""
        with self._locks[number]:
            self._answering[number] = False
            self.supervisor.kill(self.node(number).label)

    def revive(self, number: int) -> None:
        """Start a killed node again, in the background; it says in the log when it answers (or does not)."""
        threading.Thread(target=self._revive, args=(number,), name=f"revive-broker-{number}", daemon=True).start()

    def _revive(self, number: int) -> None:
        each = self.node(number)
        with self._locks[number]:
            if self._closed or self.supervisor.alive(each.label):
                return
            began = time.monotonic()
            self.supervisor.revive(each.label)
        try:
            self._await(each, began + START_TIMEOUT_S)
        except NodeError as exc:
            if not self._closed:
                self._log(str(exc))
            return
        self._answering[number] = True
        self._log(f"{each.label} answers again, {time.monotonic() - began:.1f} s after it was started")

    def restart(self, number: int, down_s: float) -> None:
        """Kill the node now, start it again after `down_s`."""
        self.kill(number)
        self._timers.later(down_s, self.revive, number)

    def restart_app(self, down_s: float) -> None:
        """The one-node `restart broker`: stop RabbitMQ (what is not durable and persistent is gone), start it
        again after `down_s` (RabbitMQ 3.10 takes some seconds to stop, so it is away longer than that)."""
        name = self.nodes[0].name
        self._commands.submit(node.rabbitmqctl, "stop_app", node=name)
        self._timers.later(down_s, self._commands.submit, self._start_app)

    def _start_app(self) -> None:
        name = self.nodes[0].name
        if node.rabbitmqctl("start_app", node=name).ok:
            node.rabbitmqctl("await_startup", node=name)

    def close(self) -> None:
        """Kill every node (their data goes with the run's folder); idempotent."""
        if self._closed:
            return
        self._closed = True
        self._timers.cancel_all()
        self._commands.shutdown(wait=True, cancel_futures=True)
        for each in self.nodes:
            with self._locks[each.number]:
                self.supervisor.kill(each.label)
        self.supervisor.close()


def _answers(port: int) -> bool:
    with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=0.5):
        return True
    return False
