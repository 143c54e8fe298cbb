"""The lab lets clients at its own cluster only once every node runs and a quorum queue serves on every node.

rabbitmqctl and rabbitmq-queues are replaced by their recorded JSON answers: a quorum queue declared before a node
had joined, or whose member on a node did not start, has no majority with one node down — the issue-18 runs."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from sandbox.live.rabbitmq import cluster as cluster_module
from sandbox.live.rabbitmq import node
from sandbox.live.rabbitmq.cluster import Cluster, NodeError

NAMES = [f"lab-t-{n}@localhost" for n in (1, 2, 3)]


@pytest.fixture
def lab_cluster(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Cluster:
    monkeypatch.setattr(node, "tools", lambda: node.Tools(tmp_path, None, str(tmp_path)))
    monkeypatch.setattr(cluster_module, "STATUS_POLL_S", 0.0)
    monkeypatch.setattr(cluster_module, "node_name", lambda run_id, n: NAMES[n - 1])
    return Cluster(3, tmp_path / "nodes", "t")


def answers(monkeypatch: pytest.MonkeyPatch, tool: str, replies: list[object]) -> list[object]:
    """`tool` answers with `replies` in turn (the last one for ever after); returns the list of calls."""
    calls: list[object] = []

    def fake(*args: str, **_options: object) -> node.Outcome:
        calls.append(args)
        reply = replies[min(len(calls), len(replies)) - 1]
        return node.Outcome(True, json.dumps(reply))

    if tool == "rabbitmqctl":
        monkeypatch.setattr(node, "rabbitmqctl", fake)
    else:
        monkeypatch.setattr(node, "tool", lambda name, *args, **kw: fake(*args, **kw))
    return calls


def test_start_waits_until_broker_1_sees_every_node_running(lab_cluster, monkeypatch):
    calls = answers(monkeypatch, "rabbitmqctl", [{"running_nodes": NAMES[:1]}, {"running_nodes": NAMES[:2]},
                                                  {"running_nodes": NAMES}])
    lab_cluster._await_all_running(deadline=float("inf"))
    assert len(calls) == 3


def test_a_node_that_never_joins_is_named(lab_cluster, monkeypatch):
    answers(monkeypatch, "rabbitmqctl", [{"running_nodes": NAMES[:2]}])
    with pytest.raises(NodeError, match="these are not running: lab-t-3@localhost"):
        lab_cluster._await_all_running(deadline=0.0)


def quorum_status(*states: str) -> list[dict]:
    return [{"Node Name": name, "Raft State": state} for name, state in zip(NAMES, states, strict=True)]


def test_a_quorum_queue_is_ready_once_every_node_has_a_serving_member(lab_cluster, monkeypatch):
    calls = answers(monkeypatch, "rabbitmq-queues", [quorum_status("leader", "follower", "noproc"),
                                                     quorum_status("leader", "follower", "follower")])
    lab_cluster.await_members("q")
    assert len(calls) == 2


def test_a_member_that_never_serves_stops_the_lab_with_what_quorum_status_said(lab_cluster, monkeypatch):
    monkeypatch.setattr(cluster_module, "MEMBERS_TIMEOUT_S", 0.0)
    answers(monkeypatch, "rabbitmq-queues", [quorum_status("leader", "follower", "noproc")])
    with pytest.raises(NodeError, match=r"no serving member on lab-t-3@localhost .*noproc"):
        lab_cluster.await_members("q")


def test_a_queue_with_two_members_is_not_ready(lab_cluster, monkeypatch):
    monkeypatch.setattr(cluster_module, "MEMBERS_TIMEOUT_S", 0.0)
    answers(monkeypatch, "rabbitmq-queues", [quorum_status("leader", "follower", "follower")[:2]])
    with pytest.raises(NodeError, match="lab-t-3@localhost"):
        lab_cluster.await_members("q")


def test_a_cluster_status_that_cannot_be_asked_says_why(lab_cluster, monkeypatch):
    monkeypatch.setattr(node, "rabbitmqctl", lambda *args, **kw: node.Outcome(False, "timed out after 90 seconds"))
    with pytest.raises(NodeError, match="rabbitmqctl cluster_status: timed out after 90 seconds"):
        lab_cluster._await_all_running(deadline=0.0)


def test_an_aborted_join_is_reset_and_asked_again_and_one_that_keeps_failing_is_one_problem(lab_cluster, monkeypatch):
    """RabbitMQ 3.10's join can abort in Mnesia's schema copy on a busy machine (a fresh-clone CI run met it)."""
    calls: list[tuple[str, ...]] = []
    failing_joins = [1]

    def rabbitmqctl(*args: str, **_options: object) -> node.Outcome:
        calls.append(args)
        if args[0] == "join_cluster" and failing_joins[0] > 0:
            failing_joins[0] -= 1
            return node.Outcome(False, "{aborted, {shutdown, sync_dump_log}}")
        return node.Outcome(True, "")

    monkeypatch.setattr(node, "rabbitmqctl", rabbitmqctl)
    problems: list[str] = []
    lab_cluster._join(lab_cluster.nodes[1], problems)
    assert problems == []
    assert [c[0] for c in calls] == ["stop_app", "join_cluster", "reset", "join_cluster", "start_app"]

    calls.clear()
    failing_joins[0] = cluster_module.JOIN_ATTEMPTS
    lab_cluster._join(lab_cluster.nodes[2], problems)
    steps = [c[0] for c in calls]
    assert steps.count("join_cluster") == cluster_module.JOIN_ATTEMPTS and "start_app" not in steps
    assert len(problems) == 1 and "could not join_cluster" in problems[0]
