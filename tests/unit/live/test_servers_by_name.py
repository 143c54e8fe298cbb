"""The live lab against servers reached by host name — RabbitMQ and Redis in their own containers, as in
docker compose — and what `restart broker` does when the lab cannot restart that node."""

from __future__ import annotations

import time

import pika
import pytest

from sandbox.live.engine import LiveEngine
from sandbox.live.faults import FaultInjector
from sandbox.live.processes.supervisor import Supervisor
from sandbox.live.rabbitmq import node
from sandbox.live.servers import through
from sandbox.live.wiring import upstream
from sandbox.model.commands import Restart

COMPOSE_RABBITMQ = "amqp://guest:guest@rabbitmq:5672/%2F"
COMPOSE_REDIS = "redis://redis:6379/0"


def test_the_proxies_connect_upstream_to_the_compose_service_names():
    assert upstream(COMPOSE_RABBITMQ, 5672) == ("rabbitmq", 5672)
    assert upstream(COMPOSE_REDIS, 6379) == ("redis", 6379)
    assert upstream("amqp://lab:lab@broker.internal/%2F", 5672) == ("broker.internal", 5672)


def test_services_reach_a_named_server_through_their_loopback_proxy_with_credentials_and_path_kept():
    assert through(COMPOSE_RABBITMQ, 41000) == "amqp://guest:guest@127.0.0.1:41000/%2F"
    assert through(COMPOSE_REDIS, 41001) == "redis://127.0.0.1:41001/0"
    assert through("amqp://us%40er:p%3Ass@rabbitmq:5672/lab", 41002) == "amqp://us%40er:p%3Ass@127.0.0.1:41002/lab"
    assert through("redis://:s3cret@redis:6379/1", 41003) == "redis://:s3cret@127.0.0.1:41003/1"
    assert through("amqp://rabbitmq/%2F", 41004) == "amqp://127.0.0.1:41004/%2F"


def test_percent_encoded_credentials_reach_the_client_decoded_once():
    params = pika.URLParameters(through("amqp://us%40er:p%3Ass@rabbitmq:5672/%2F", 41005))
    assert (params.credentials.username, params.credentials.password) == ("us@er", "p:ss")
    assert (params.host, params.port, params.virtual_host) == ("127.0.0.1", 41005, "/")


def bare_engine(rabbitmq_url: str) -> LiveEngine:
    """A LiveEngine with no variants running: enough to apply a broker action without any server."""
    engine = LiveEngine.__new__(LiveEngine)
    engine.rabbitmq_url = rabbitmq_url
    engine.labs = {}
    engine.meters = {}
    engine._lines = []
    engine._t0 = time.monotonic()
    engine.cluster = None
    engine.faults = FaultInjector(Supervisor.__new__(Supervisor), {}, {}, (rabbitmq_url,), "redis://redis:6379/0",
                                  lambda: 0.0)
    return engine


@pytest.fixture
def no_rabbitmqctl(monkeypatch):
    calls = []
    monkeypatch.setattr(node, "rabbitmqctl", lambda *args, **options: calls.append(args) or node.Outcome(False, ""))
    return calls


def test_restart_broker_on_a_node_in_another_container_says_it_only_cuts_connections(no_rabbitmqctl):
    engine = bare_engine(COMPOSE_RABBITMQ)
    notes = engine.apply(Restart(target="broker", down_s=5))
    assert engine.owns_nodes is False
    assert no_rabbitmqctl == [], "a node on another host is never sent rabbitmqctl commands"
    assert len(notes) == 1
    assert "did not start the RabbitMQ node at rabbitmq" in notes[0]
    assert "RABBITMQ_URL names rabbitmq, not this machine" in notes[0]
    assert "only cuts every connection at the proxies" in notes[0]
    assert notes[0] in [text for _, _, text in engine.log()]


def test_restart_broker_on_one_variant_never_touches_the_node_and_adds_no_node_note(no_rabbitmqctl):
    engine = bare_engine(COMPOSE_RABBITMQ)
    assert engine.apply(Restart(target="broker", down_s=5, variant="queue")) == []
    assert no_rabbitmqctl == []


def test_a_local_node_the_lab_did_not_start_is_never_stopped_and_the_note_says_why(no_rabbitmqctl, monkeypatch):
    monkeypatch.setattr(node, "tools", lambda: None)
    engine = bare_engine("amqp://guest:guest@127.0.0.1:5672/%2F")
    notes = engine.apply(Restart(target="broker", down_s=5))
    assert no_rabbitmqctl == [], "never `rabbitmqctl stop_app` on a node the lab did not start"
    assert len(notes) == 1 and "RabbitMQ node at 127.0.0.1 (RabbitMQ is not installed here" in notes[0]
