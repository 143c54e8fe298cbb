"""`hang`, `latency` and `heal` on one node of the lab's own three-node cluster reach that node's connections and
no other: each variant talks to node N through a fault proxy of its own, and `broker-N` names that proxy."""

from __future__ import annotations

import time
from urllib.parse import urlsplit, urlunsplit

import pytest

from sandbox.live.engine import LiveEngine
from sandbox.live.rabbitmq.broker import BROKER_ERRORS, connect
from sandbox.live.servers import START_RABBITMQ, LabUnavailable
from sandbox.model.commands import Hang, Heal, Latency
from tests.helpers import REQUIRE_NODE_RESTART, scenario, unavailable

pytestmark = pytest.mark.live

LATENCY_MS = 400.0


def cluster_lab() -> LiveEngine:
    s = scenario(duration=60, load={"reads_per_s": 2, "writes_per_s": 1}, knobs={"broker.nodes": 3},
                 variants={"quorum": {"architecture": "queue", "broker.queue_type": "quorum"}})
    try:
        engine = LiveEngine(s)
    except LabUnavailable as exc:
        unavailable(str(exc), START_RABBITMQ)
        raise
    if not engine.owns_nodes:
        engine.close()
        unavailable("a three-node broker needs RabbitMQ installed on this machine", "apt-get install rabbitmq-server",
                    required=REQUIRE_NODE_RESTART)
    return engine


def seconds_to_open(engine: LiveEngine, number: int, timeout_s: float = 5.0) -> float:
    """Open (and close) an AMQP connection to node `number` through the quorum variant's proxy for it."""
    assert engine.cluster is not None
    node_url = urlsplit(engine.cluster.nodes[number - 1].url)
    port = engine.labs["quorum"].proxies[f"broker-{number}"].port
    url = urlunsplit(node_url._replace(netloc=f"{node_url.netloc.rsplit(':', 1)[0]}:{port}"))
    started = time.monotonic()
    connect(url, timeout_s=timeout_s, name="test-node-faults").close()
    return time.monotonic() - started


def test_a_fault_on_one_node_reaches_that_nodes_connections_only():
    engine = cluster_lab()
    try:
        healthy_s = seconds_to_open(engine, 3)

        assert engine.apply(Hang(target="broker-2")) == []
        with pytest.raises(BROKER_ERRORS):
            seconds_to_open(engine, 2, timeout_s=1.5)  # the handshake is swallowed: nothing answers
        seconds_to_open(engine, 1)  # the other nodes answer as before

        assert engine.apply(Latency(target="broker-3", ms=LATENCY_MS)) == []
        # the handshake takes several client-to-broker trips, each held LATENCY_MS at the proxy
        assert seconds_to_open(engine, 3) >= healthy_s + LATENCY_MS / 1000

        assert engine.apply(Heal(target="broker-2")) == []
        assert engine.apply(Heal(target="broker-3")) == []
        seconds_to_open(engine, 2)
    finally:
        engine.close()
