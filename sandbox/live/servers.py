"""The servers the lab needs — RabbitMQ and Redis — checked before anything starts, in plain words."""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass
from typing import TYPE_CHECKING
from urllib.parse import urlsplit, urlunsplit

import pika
import pika.exceptions
import redis

from sandbox.live.errors import LabError
from sandbox.live.ports import free_port

if TYPE_CHECKING:
    from fakeredis import TcpFakeServer

DEFAULT_RABBITMQ_URL = "amqp://guest:guest@127.0.0.1:5672/%2F"
START_RABBITMQ = "docker compose up -d rabbitmq (or a local install: rabbitmq-server -detached)"
START_REDIS = "docker compose up -d redis (or a local install: redis-server --daemonize yes)"


class LabUnavailable(LabError):
    """A server the live lab needs is missing or refuses us; the message says what to do."""


def through(url: str, port: int) -> str:
    """`url` with its host and port replaced by 127.0.0.1:port (a proxy in front of that server).

    The user and password stay exactly as written: already percent-encoded, and a password without a user
    (`redis://:secret@redis:6379/0`) is kept."""
    parts = urlsplit(url)
    userinfo, at, _ = parts.netloc.rpartition("@")
    return urlunsplit(parts._replace(netloc=f"{userinfo}{at}127.0.0.1:{port}"))


def rabbitmq_url() -> str:
    """The broker the lab uses: RABBITMQ_URL, else a local node with the default guest user."""
    return os.environ.get("RABBITMQ_URL") or DEFAULT_RABBITMQ_URL


def _where(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.hostname or '127.0.0.1'}:{parts.port or ''}".rstrip(":")


def _user(params: pika.URLParameters) -> str:
    """The user name an AMQP URL logs in with (URLParameters always hold plain credentials)."""
    credentials = params.credentials
    return credentials.username if isinstance(credentials, pika.PlainCredentials) else "(external)"


def check_rabbitmq(url: str, timeout_s: float = 3.0) -> None:
    """Open and close one AMQP connection; raise LabUnavailable saying why it failed."""
    params = pika.URLParameters(url)
    params.connection_attempts = 1
    params.socket_timeout = timeout_s
    params.blocked_connection_timeout = timeout_s
    try:
        pika.BlockingConnection(params).close()
    except (pika.exceptions.ProbableAuthenticationError, pika.exceptions.AuthenticationError):
        raise LabUnavailable(
            f"RabbitMQ at {_where(url)} refused the credentials of user {_user(params)!r}; "
            "fix the user and password in RABBITMQ_URL") from None
    except pika.exceptions.ProbableAccessDeniedError:
        raise LabUnavailable(
            f"RabbitMQ at {_where(url)} denies user {_user(params)!r} the virtual host "
            f"{params.virtual_host!r}; grant it (rabbitmqctl set_permissions) or fix RABBITMQ_URL") from None
    except pika.exceptions.AMQPError:
        raise LabUnavailable(f"RabbitMQ is not reachable at {_where(url)}; start it: {START_RABBITMQ}") from None


@dataclass
class RedisServer:
    """The Redis the lab uses: the one at REDIS_URL, or fakeredis's TCP server when none answers."""

    url: str
    note: str = ""
    _fake: TcpFakeServer | None = None

    @property
    def fake(self) -> bool:
        return self._fake is not None

    def close(self) -> None:
        if self._fake is not None:
            self._fake.shutdown()
            self._fake.server_close()
            self._fake = None


def redis_or_fake(url: str, timeout_s: float = 1.0) -> RedisServer:
    try:
        client = redis.Redis.from_url(url, socket_timeout=timeout_s, socket_connect_timeout=timeout_s)
        client.ping()
        client.close()
        return RedisServer(url)
    except redis.exceptions.ConnectionError:
        pass
    from fakeredis import TcpFakeServer

    port = free_port()
    server = TcpFakeServer(("127.0.0.1", port), server_type="redis")
    threading.Thread(target=server.serve_forever, name="fakeredis", daemon=True).start()
    note = (f"no Redis answered at {_where(url)}; the lab uses fakeredis's TCP server on 127.0.0.1:{port} "
            f"(for a real one: {START_REDIS})")
    return RedisServer(f"redis://127.0.0.1:{port}/0", note, server)
