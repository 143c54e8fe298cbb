"""Before the lab starts: a missing broker, wrong credentials, no Redis, a Redis database it lacks, or no management
API each get one clear message."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pytest
import redis

from sandbox.catalog import load_scenario
from sandbox.live.engine import LiveEngine
from sandbox.live.processes.ports import free_port
from sandbox.live.servers import START_RABBITMQ, START_REDIS, LabUnavailable, check_rabbitmq, redis_or_fake
from tests.helpers import RABBITMQ_URL, REDIS_URL, unavailable

ROOT = Path(__file__).resolve().parents[3]


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


def live_run(scenario_path: Path, **environment: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "sandbox", "run", str(scenario_path), "--engine", "live"], cwd=ROOT,
                          capture_output=True, text=True, timeout=120, env={**os.environ, **environment})


@pytest.fixture
def servers():
    try:
        check_rabbitmq(RABBITMQ_URL)
    except LabUnavailable as exc:
        unavailable(str(exc), START_RABBITMQ)
    client = redis.Redis.from_url(REDIS_URL, socket_timeout=2)
    try:
        client.ping()
    except redis.RedisError:
        unavailable(f"Redis is not reachable at {REDIS_URL}", START_REDIS)
    finally:
        client.close()


@pytest.fixture
def short_scenario(tmp_path) -> Path:
    path = tmp_path / "short.toml"
    path.write_text('title = "short"\nduration = 2\n[load]\nreads_per_s = 1\nwrites_per_s = 1\n'
                    '[variants.queue]\narchitecture = "queue"\n')
    return path


@pytest.mark.live
def test_a_redis_database_the_server_does_not_have_is_one_line_and_exit_2(servers, short_scenario):
    url = urlunsplit(urlsplit(REDIS_URL)._replace(path="/99"))
    result = live_run(short_scenario, REDIS_URL=url)
    assert result.returncode == 2, result.stdout + result.stderr
    assert result.stderr.strip().splitlines() == [
        f"error: REDIS_URL={url!r} names a database that Redis does not have (it answered 'DB index is out of "
        "range'; a default Redis has 16: 0 to 15); use redis://[:PASSWORD@]HOST:PORT/DB (or rediss://), DB a whole "
        "number, e.g. redis://127.0.0.1:6379/0"]


@pytest.mark.live
def test_an_unreachable_management_api_is_a_warning_that_says_what_the_lab_does_without_it(servers, short_scenario):
    closed = f"http://127.0.0.1:{free_port()}"
    engine = LiveEngine(load_scenario(short_scenario), management_url=closed)
    try:
        [warning] = [w for w in engine.warnings if "management API" in w]
        assert f"does not answer (no answer from {closed} (ConnectError))" in warning
        assert "queue.unacked reads 0 while a cache-worker cannot report what it holds" in warning
        assert "rabbitmq-plugins enable rabbitmq_management" in warning
        policy = engine.labs["queue"].policy
        if engine.site.policies.local:  # set with rabbitmqctl instead: the real API shows it
            assert "policies are set with rabbitmqctl" in warning
            assert policy.name in rabbitmqctl_policies()
        else:
            assert "set nowhere" in warning
    finally:
        engine.close()
    if engine.site.policies.local:
        assert policy.name not in rabbitmqctl_policies(), "cleared with its queue"
    result = live_run(short_scenario, RABBITMQ_MANAGEMENT_URL=closed)
    assert "warning: the RabbitMQ management API does not answer" in result.stderr
    assert "Traceback" not in result.stderr


def rabbitmqctl_policies() -> str:
    return subprocess.run(["rabbitmqctl", "-q", "list_policies"], capture_output=True, text=True,
                          timeout=60).stdout


def test_the_broker_is_named_by_the_version_its_server_properties_report():
    """The version the About page and a live run name is the server's own: the management API agrees."""
    from tests.integration.live.support import management_api

    try:
        identity = check_rabbitmq(RABBITMQ_URL)
    except LabUnavailable as exc:
        unavailable(str(exc), START_RABBITMQ)
    assert identity == f"RabbitMQ {management_api().version()}"
