"""The live lab against servers reached by host name — RabbitMQ and Redis in their own containers, as in
docker compose."""

from __future__ import annotations

import pika

from sandbox.live.engine import _address
from sandbox.live.servers import through

COMPOSE_RABBITMQ = "amqp://guest:guest@rabbitmq:5672/%2F"
COMPOSE_REDIS = "redis://redis:6379/0"


def test_the_proxies_connect_upstream_to_the_compose_service_names():
    assert _address(COMPOSE_RABBITMQ, 5672) == ("rabbitmq", 5672)
    assert _address(COMPOSE_REDIS, 6379) == ("redis", 6379)
    assert _address("amqp://lab:lab@broker.internal/%2F", 5672) == ("broker.internal", 5672)


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
