"""A three-node broker: a classic queue lives and dies with broker-1, a quorum queue needs a majority."""

from __future__ import annotations

import pytest

from sandbox.engine import RunResult
from sandbox.model import losses
from sandbox.model.errors import ScenarioError
from sandbox.model.knobs import BrokerKnobs
from sandbox.sim.engine import SimEngine
from tests.helpers import observe, run, scenario

LOAD = {"reads_per_s": 10, "writes_per_s": 5}
BOOT_S = BrokerKnobs().boot_s
CATCH_UP_S = BrokerKnobs().catch_up_s


def cluster(queue_type: str, timeline: list[dict], duration: float = 60, **knobs) -> RunResult:
    return run(scenario(duration=duration, load=LOAD, knobs={"broker": {"nodes": 3}}, timeline=timeline, variants={
        "queue": {"architecture": "queue", "broker": {"queue_type": queue_type}, **knobs}}))


def at(seconds: float, verb: str, target: str) -> dict:
    return {"at": seconds, "do": verb, "target": target}


def test_a_classic_queue_stops_taking_writes_while_its_node_is_down_and_gets_them_back_after():
    result = cluster("classic", [at(10, "kill", "broker-1"), at(30, "revive", "broker-1")])
    assert observe(result, "queue", "write.error_rate", 0, 10) == 0
    assert observe(result, "queue", "write.error_rate", 11, 30 + BOOT_S) == 1, "unroutable until broker-1 has booted"
    assert observe(result, "queue", "write.error_rate", 32 + BOOT_S, 60) == 0
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
    assert observe(result, "queue", "write.error_rate", 11, 30 + BOOT_S) == 1
    assert observe(result, "queue", "write.error_rate", 30 + BOOT_S + CATCH_UP_S + 1, 60) == 0
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


# a revived node boots, waits for its peers, and catches up ---------------------------------------------------------


def writes_back_at(result: RunResult, after_s: float) -> float:
    """The first second after `after_s` from which every write to the end succeeds."""
    measurements = result.engine.measurements("queue")
    end = int(result.scenario.duration_s)
    failing = [t for t in range(int(after_s), end) if measurements.frame(t)["write.errors"]]
    return (failing[-1] + 1) if failing else after_s


def test_a_revived_node_answers_only_after_its_boot_time():
    for boot_s in (5, 25):
        result = cluster("classic", [at(10, "kill", "broker-1"), at(30, "revive", "broker-1")], duration=90,
                         broker={"queue_type": "classic", "boot_s": boot_s})
        assert writes_back_at(result, 30) == pytest.approx(30 + boot_s, abs=1)


def test_a_quorum_member_counts_toward_a_majority_only_once_it_has_caught_up():
    timeline = [at(10, "kill", "broker-2"), at(10, "kill", "broker-3"), at(30, "revive", "broker-3")]
    for catch_up_s in (0, 10):
        result = cluster("quorum", timeline, duration=90,
                         broker={"queue_type": "quorum", "boot_s": 5, "catch_up_s": catch_up_s})
        assert writes_back_at(result, 30) == pytest.approx(35 + catch_up_s, abs=1.5)


def test_one_node_down_costs_a_quorum_queue_nothing_while_the_revived_one_catches_up():
    result = cluster("quorum", [at(10, "kill", "broker-1"), at(20, "revive", "broker-1")], duration=60,
                     broker={"queue_type": "quorum", "boot_s": 5, "catch_up_s": 20})
    assert observe(result, "queue", "write.error_rate", 0, 60) == 0


def test_a_node_revived_after_its_peers_died_waits_for_one_of_them():
    """The issue's story: broker-1 comes back while 2 and 3 are still up, but they die before it has booted. It was
    not the last to stop, so it waits for them; broker-3 died last, starts alone, and the cluster is back when it
    has booted, its confirms held while the members catch up: not when broker-1 had booted."""
    timeline = [at(10, "kill", "broker-1"), at(30, "revive", "broker-1"), at(40, "kill", "broker-2"),
                at(41, "kill", "broker-3"), at(55, "revive", "broker-2"), at(55, "revive", "broker-3")]
    knobs = {"queue_type": "classic", "boot_s": 15, "catch_up_s": 2}
    classic = cluster("classic", timeline, duration=120, broker=knobs)
    assert observe(classic, "queue", "write.error_rate", 46, 70) == 1, "broker-1 waits for a peer: the queue is away"
    assert writes_back_at(classic, 46) == pytest.approx(70, abs=1)
    quorum = cluster("quorum", timeline, duration=120, broker=knobs | {"queue_type": "quorum"})
    assert observe(quorum, "queue", "write.error_rate", 12, 40) == 0, "one node down: the others carry on"
    assert writes_back_at(quorum, 46) == pytest.approx(70, abs=1)
    assert observe(quorum, "queue", "write.p99_ms", 70, 73) > 1500, "confirms wait while the members catch up"


def test_a_node_whose_peers_never_return_gives_up_after_the_peer_wait():
    timeline = [at(10, "kill", "broker-1"), at(11, "kill", "broker-2"), at(12, "kill", "broker-3"),
                at(20, "revive", "broker-1")]
    result = cluster("classic", timeline, duration=120, broker={"queue_type": "classic", "boot_s": 5,
                                                                "peer_wait_s": 30})
    assert observe(result, "queue", "write.error_rate", 12, 120) == 1
    assert any("broker-1 gave up waiting for its peers after 30 s" in text for _t, _v, text in result.engine.log())


def test_the_last_node_to_stop_starts_without_waiting():
    timeline = [at(10, "kill", "broker-2"), at(11, "kill", "broker-3"), at(12, "kill", "broker-1"),
                at(20, "revive", "broker-1")]
    result = cluster("classic", timeline, duration=60, broker={"queue_type": "classic", "boot_s": 5})
    assert writes_back_at(result, 20) == pytest.approx(25, abs=1)
