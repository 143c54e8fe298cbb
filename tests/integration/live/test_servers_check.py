"""Before the lab starts: a missing broker, wrong credentials, or no Redis each get one clear message."""

from __future__ import annotations

import redis

from sandbox.live.ports import free_port
from sandbox.live.servers import START_RABBITMQ, LabUnavailable, check_rabbitmq, redis_or_fake
from tests.helpers import RABBITMQ_URL, unavailable


def test_an_absent_broker_names_the_address_and_the_command_that_starts_it():
    port = free_port()
    try:
        check_rabbitmq(f"amqp://guest:guest@127.0.0.1:{port}/%2F", timeout_s=1)
    except LabUnavailable as exc:
        assert str(exc) == (f"RabbitMQ is not reachable at 127.0.0.1:{port}; start it: docker compose up -d "
                            "rabbitmq (or a local install: rabbitmq-server -detached)")
    else:
        raise AssertionError("no error for a closed port")


def test_wrong_credentials_are_named_as_such():
    try:
        check_rabbitmq(RABBITMQ_URL)
    except LabUnavailable as exc:
        unavailable(str(exc), START_RABBITMQ)
    wrong = RABBITMQ_URL.replace("guest:guest@", "nobody:wrong@")
    try:
        check_rabbitmq(wrong)
    except LabUnavailable as exc:
        assert "refused the credentials of user 'nobody'" in str(exc)
        assert "RABBITMQ_URL" in str(exc)
    else:
        raise AssertionError("wrong credentials were accepted")


def test_without_redis_the_lab_runs_fakeredis_over_tcp_and_says_so():
    port = free_port()
    server = redis_or_fake(f"redis://127.0.0.1:{port}/0", timeout_s=0.5)
    try:
        assert server.fake
        assert f"no Redis answered at 127.0.0.1:{port}" in server.note
        client = redis.Redis.from_url(server.url, socket_timeout=2)
        client.set("blogs:list", "[]")
        assert client.get("blogs:list") == b"[]"
        client.close()
    finally:
        server.close()
