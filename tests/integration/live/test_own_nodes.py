"""Node-level actions touch only RabbitMQ nodes the lab started itself: `restart broker` never stops the shared
node. With RabbitMQ installed here the run gets a node of its own to restart; without, the connections are cut at
the proxies for `down_s` and the run says so."""

from __future__ import annotations

import pika
import pytest

from sandbox.live.engine import LiveEngine
from sandbox.live.rabbitmq import node
from sandbox.live.servers import START_RABBITMQ, LabUnavailable
from sandbox.model.commands import Restart
from tests.helpers import RABBITMQ_URL, scenario, unavailable
from tests.integration.live.support import need_node_restart, rabbit_channel, wait_until

pytestmark = pytest.mark.live

DOWN_S = 2.0


def restarting_lab() -> LiveEngine:
    """A lab whose timeline restarts the broker (the restart itself is applied by the test)."""
    s = scenario(duration=60, load={"reads_per_s": 2, "writes_per_s": 1},
                 variants={"queue": {"architecture": "queue"}},
                 timeline=[{"at": 50, "do": "restart", "target": "broker", "down_s": DOWN_S}])
    try:
        return LiveEngine(s)
    except LabUnavailable as exc:
        unavailable(str(exc), START_RABBITMQ)
        raise


def running(name: str) -> str:
    """Whether RabbitMQ runs on node `name` ("true", "false"), or what rabbitmqctl says when it cannot tell."""
    return node.rabbitmqctl("eval", "rabbit:is_running().", node=name, timeout_s=10).output.strip()


def test_restart_broker_restarts_the_labs_own_node_and_never_the_shared_one():
    shared, channel = rabbit_channel()
    engine = restarting_lab()
    try:
        need_node_restart(engine)
        assert engine.cluster is not None
        own = engine.cluster.nodes[0]
        assert own.amqp_port != pika.URLParameters(RABBITMQ_URL).port, "the lab's node is not the shared one"
        assert engine.apply(Restart(target="broker", down_s=DOWN_S)) == []
        wait_until(lambda: running(own.name) == "false", timeout_s=30, what="the lab's own node to stop")
        engine.advance(DOWN_S)
        wait_until(lambda: running(own.name) == "true", timeout_s=60, what="the lab's own node to start again")
        shared.process_data_events(0)
        assert shared.is_open and channel.is_open, "the shared node was never stopped"
    finally:
        engine.close()
        if shared.is_open:
            shared.close()


def test_without_a_node_of_its_own_restart_broker_only_cuts_connections_and_says_so(monkeypatch):
    monkeypatch.setattr(node, "tools", lambda: None)  # as on a machine without RabbitMQ installed
    monkeypatch.setattr(node, "rabbitmqctl", lambda *args, **options: pytest.fail(f"rabbitmqctl {args}"))
    shared, _ = rabbit_channel()
    engine = restarting_lab()
    try:
        assert not engine.owns_nodes
        proxy = engine.labs["queue"].proxies["broker"]
        notes = engine.apply(Restart(target="broker", down_s=DOWN_S))
        assert not proxy.listening, "the variant's connections are cut"
        assert len(notes) == 1 and "only cuts every connection at the proxies" in notes[0]
        assert "RabbitMQ is not installed here" in notes[0]
        engine.advance(DOWN_S + 1)
        assert proxy.listening, "the connections come back after down_s"
        shared.process_data_events(0)
        assert shared.is_open, "the shared node was never stopped"
    finally:
        engine.close()
        shared.close()
