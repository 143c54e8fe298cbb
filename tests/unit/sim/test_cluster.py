"""A three-node broker: a classic queue lives and dies with broker-1, a quorum queue needs a majority."""

from __future__ import annotations

import pytest

from sandbox.model import losses
from sandbox.model.errors import ScenarioError
from sandbox.sim.engine import SimEngine
from tests.helpers import observe, run, scenario

LOAD = {"reads_per_s": 10, "writes_per_s": 5}


def cluster(queue_type: str, timeline: list[dict], **knobs) -> object:
    return run(scenario(duration=60, load=LOAD, knobs={"broker": {"nodes": 3}}, timeline=timeline, variants={
        "queue": {"architecture": "queue", "broker": {"queue_type": queue_type}, **knobs}}))


def at(seconds: float, verb: str, target: str) -> dict:
    return {"at": seconds, "do": verb, "target": target}


def test_a_classic_queue_stops_taking_writes_while_its_node_is_down_and_gets_them_back_after():
    result = cluster("classic", [at(10, "kill", "broker-1"), at(30, "revive", "broker-1")])
    assert observe(result, "queue", "write.error_rate", 0, 10) == 0
    assert observe(result, "queue", "write.error_rate", 11, 30) == 1, "every publish comes back unroutable"
    assert observe(result, "queue", "write.error_rate", 32, 60) == 0
    assert set(result.engine.measurements("queue").lost_by_cause) == {losses.WRITE_FAILED}


def test_a_classic_queue_keeps_persistent_messages_on_its_node_and_loses_transient_ones():
    timeline = [at(5, "kill", "cache-worker"), at(20, "kill", "broker-1"), at(30, "revive", "broker-1"),
                at(31, "revive", "cache-worker")]
    kept = cluster("classic", timeline)
    assert observe(kept, "queue", "msg.lost", 0, 20) == 0
    assert observe(kept, "queue", "queue.depth_max", 21, 30) >= 60, "the backlog waits on broker-1's disk"
    assert observe(kept, "queue", "queue.depth_last", 40, 60) == 0
    transient = cluster("classic", timeline, broker={"queue_type": "classic", "persistent": False})
    assert transient.engine.measurements("queue").lost_by_cause[losses.TRANSIENT_MESSAGE] >= 60


def test_losing_another_node_does_not_touch_a_classic_queue():
    result = cluster("classic", [at(10, "kill", "broker-2"), at(10, "kill", "broker-3")])
    assert observe(result, "queue", "write.error_rate", 11, 60) == 0
    assert observe(result, "queue", "msg.lost") == 0


def test_a_quorum_queue_keeps_working_through_one_nodes_loss_after_electing_a_leader():
    result = cluster("quorum", [at(10, "kill", "broker-1")])
    engine = result.engine
    assert isinstance(engine, SimEngine)
    assert observe(result, "queue", "write.error_rate", 10, 60) == 0
    assert observe(result, "queue", "msg.lost") == 0
    assert observe(result, "queue", "staleness.max_s", 12, 60) < 1
    status = engine.status()["queue"]
    assert status.queue_leader == "broker-2"
    assert [node.health for node in status.nodes] == ["down", "up", "up"]


def test_a_quorum_queue_without_a_majority_confirms_nothing_and_loses_nothing_it_confirmed():
    result = cluster("quorum", [at(10, "kill", "broker-2"), at(10, "kill", "broker-3"),
                                at(30, "revive", "broker-2"), at(30, "revive", "broker-3")])
    assert observe(result, "queue", "write.error_rate", 11, 25) == 1
    assert observe(result, "queue", "write.error_rate", 40, 60) == 0
    assert set(result.engine.measurements("queue").lost_by_cause) == {losses.WRITE_FAILED}, \
        "only writes the author answered 500: no message the queue had taken is lost"


def test_with_an_outbox_a_quorum_queue_without_a_majority_loses_nothing():
    result = cluster("quorum", [at(10, "kill", "broker-1"), at(10, "kill", "broker-2"),
                                at(30, "revive", "broker-1"), at(30, "revive", "broker-2")],
                     publish={"on_error": "outbox"})
    assert observe(result, "queue", "write.error_rate") == 0
    assert observe(result, "queue", "msg.lost") == 0
    assert observe(result, "queue", "outbox.pending_max", 11, 30) >= 80
    assert observe(result, "queue", "queue.depth_last", 45, 60) == 0


def test_fire_and_forget_to_a_queue_that_is_not_there_is_lost_with_its_cause():
    classic = cluster("classic", [at(10, "kill", "broker-1")], publish={"confirms": False, "on_error": "drop"})
    assert classic.engine.measurements("queue").lost_by_cause[losses.UNROUTABLE] > 0
    quorum = cluster("quorum", [at(10, "kill", "broker-2"), at(10, "kill", "broker-3")],
                     publish={"confirms": False, "on_error": "drop"})
    assert quorum.engine.measurements("queue").lost_by_cause[losses.NO_QUORUM] > 0


def test_a_node_target_on_a_one_node_broker_says_it_does_nothing():
    result = run(scenario(duration=10, timeline=[at(2, "kill", "broker-2")]))
    assert "queue: no broker-2 in a one-node broker; `kill` does nothing" in result.notes
    assert "sync: no broker-2 in a sync variant; `kill` does nothing" in result.notes


@pytest.mark.parametrize("nodes", [2, 0, True, "3"])
def test_a_cluster_has_one_or_three_nodes(nodes):
    with pytest.raises(ScenarioError, match="is not allowed; use one of 1, 3"):
        scenario(knobs={"broker": {"nodes": nodes}})


def test_losses_after_the_broker_took_a_message_are_counted_apart_from_failed_publishes():
    quorum = cluster("quorum", [at(10, "kill", "broker-2"), at(10, "kill", "broker-3")])
    assert observe(quorum, "queue", "msg.lost") > 0, "writes answered 500 after their post committed"
    assert observe(quorum, "queue", "msg.lost_taken") == 0, "but nothing the queue had taken"
    transient = cluster("classic", [at(5, "kill", "cache-worker"), at(20, "kill", "broker-1")],
                        broker={"queue_type": "classic", "persistent": False})
    assert observe(transient, "queue", "msg.lost_taken") == transient.engine.measurements("queue").lost_by_cause[
        losses.TRANSIENT_MESSAGE] > 0
