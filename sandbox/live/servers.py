"""The servers the lab needs — RabbitMQ and Redis — where they are and whether they answer, in plain words.

Where: RABBITMQ_URL, RABBITMQ_MANAGEMENT_URL and REDIS_URL, each checked before anything connects; a value that
cannot be what it names is one line naming the variable, the value (its password masked) and what is allowed.
"""

from __future__ import annotations

import os
import re
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING
from urllib.parse import SplitResult, urlsplit, urlunsplit

import pika
import pika.exceptions
import redis

from sandbox.live.errors import LabError
from sandbox.live.processes.ports import free_port
from sandbox.live.rabbitmq.broker import Urls, each_url

if TYPE_CHECKING:
    from fakeredis import TcpFakeServer

DEFAULT_RABBITMQ_URL = "amqp://guest:guest@127.0.0.1:5672/%2F"
DEFAULT_MANAGEMENT_URL = "http://127.0.0.1:15672"
DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/0"
START_RABBITMQ = "docker compose up -d rabbitmq (or a local install: rabbitmq-server -detached)"
START_REDIS = "docker compose up -d redis (or a local install: redis-server --daemonize yes)"
AMQP_FORM = f"amqp://USER:PASSWORD@HOST:PORT/VHOST (or amqps://), e.g. {DEFAULT_RABBITMQ_URL}"
MANAGEMENT_FORM = f"http://HOST:PORT (or https://), e.g. {DEFAULT_MANAGEMENT_URL}"
REDIS_FORM = f"redis://[:PASSWORD@]HOST:PORT/DB (or rediss://), DB a whole number, e.g. {DEFAULT_REDIS_URL}"


class LabUnavailable(LabError):
    """A server the live lab needs is missing or refuses us; the message says what to do."""


class BadSetting(LabUnavailable):
    """RABBITMQ_URL, RABBITMQ_MANAGEMENT_URL or REDIS_URL is not a URL of what it names."""

    def __init__(self, name: str, url: str, problem: str, form: str):
        super().__init__(f"{name}={masked(url)!r} {problem}; use {form}")


def through(url: str, port: int) -> str:
    """`url` with its host and port replaced by 127.0.0.1:port (a proxy in front of that server).

    The user and password stay exactly as written: already percent-encoded, and a password without a user
    (`redis://:secret@redis:6379/0`) is kept."""
    parts = urlsplit(url)
    userinfo, at, _ = parts.netloc.rpartition("@")
    return urlunsplit(parts._replace(netloc=f"{userinfo}{at}127.0.0.1:{port}"))


def masked(url: str) -> str:
    """`url` with its password replaced by ***, for messages."""
    return re.sub(r"(//[^/@:]*:)[^/@]*@", r"\1***@", url)


def _setting(name: str, default: str, environ: Mapping[str, str] | None) -> str:
    return (os.environ if environ is None else environ).get(name) or default


def rabbitmq_url(environ: Mapping[str, str] | None = None) -> str:
    """The broker the lab uses: RABBITMQ_URL, else a local node with the default guest user; checked."""
    return checked_rabbitmq_url(_setting("RABBITMQ_URL", DEFAULT_RABBITMQ_URL, environ))


def management_url(environ: Mapping[str, str] | None = None) -> str:
    """The broker's management HTTP API: RABBITMQ_MANAGEMENT_URL, else the local one; checked."""
    return checked_management_url(_setting("RABBITMQ_MANAGEMENT_URL", DEFAULT_MANAGEMENT_URL, environ))


def redis_url(environ: Mapping[str, str] | None = None) -> str:
    """The Redis the lab uses: REDIS_URL, else a local one; checked."""
    return checked_redis_url(_setting("REDIS_URL", DEFAULT_REDIS_URL, environ))


def _parts(name: str, url: str, schemes: tuple[str, ...], form: str) -> SplitResult:
    """The URL's parts, with a scheme of `schemes`, a host and (if any) a port from 1 to 65535."""
    parts = urlsplit(url)
    if parts.scheme not in schemes or not parts.netloc:
        raise BadSetting(name, url, f"does not start with {' or '.join(s + '://' for s in schemes)}", form)
    if not parts.hostname:
        raise BadSetting(name, url, "names no host", form)
    try:
        port = parts.port
    except ValueError:
        port = 0
    if port == 0:
        raise BadSetting(name, url, "has a port that is not a number from 1 to 65535", form)
    return parts


def checked_rabbitmq_url(url: str, name: str = "RABBITMQ_URL") -> str:
    _parts(name, url, ("amqp", "amqps"), AMQP_FORM)
    try:
        pika.URLParameters(url)
    except (ValueError, TypeError, IndexError, KeyError) as exc:
        raise BadSetting(name, url, f"is refused by the AMQP client ({exc})", AMQP_FORM) from None
    return url


def checked_management_url(url: str, name: str = "RABBITMQ_MANAGEMENT_URL") -> str:
    parts = _parts(name, url, ("http", "https"), MANAGEMENT_FORM)
    if parts.query or parts.fragment:
        raise BadSetting(name, url, "has a query or fragment", MANAGEMENT_FORM)
    return url


def checked_redis_url(url: str, name: str = "REDIS_URL") -> str:
    parts = _parts(name, url, ("redis", "rediss"), REDIS_FORM)
    if not re.fullmatch(r"/?(\d+)?", parts.path):
        raise BadSetting(name, url, f"names the database {parts.path.lstrip('/')!r}, not a number", REDIS_FORM)
    return url


def _where(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.hostname or '127.0.0.1'}:{parts.port or ''}".rstrip(":")


def _user(params: pika.URLParameters) -> str:
    """The user name an AMQP URL logs in with (URLParameters always hold plain credentials)."""
    credentials = params.credentials
    return credentials.username if isinstance(credentials, pika.PlainCredentials) else "(external)"


def broker_identity(server_properties: Mapping[str, object]) -> str:
    """The product and version a broker reports in its AMQP server properties (connection.start), e.g.
    "RabbitMQ 3.10.8"; what is missing is said as unknown."""

    def text(key: str) -> str:
        value = server_properties.get(key)
        return value.decode() if isinstance(value, bytes) else str(value) if value else ""

    product, version = text("product") or "an AMQP broker", text("version") or "of an unknown version"
    return f"{product} {version}"


def check_rabbitmq(urls: Urls, timeout_s: float = 3.0) -> str:
    """Open and close one AMQP connection (to the first of a cluster's `urls` that answers) and return the broker's
    product and version from its server properties ("RabbitMQ 3.10.8"); raise LabUnavailable saying why it
    failed."""
    urls = each_url(urls)
    every = [pika.URLParameters(url) for url in urls]
    for params in every:
        params.connection_attempts = 1
        params.socket_timeout = timeout_s
        params.blocked_connection_timeout = timeout_s
    params, where = every[0], ", ".join(_where(url) for url in urls)
    try:
        connection = pika.BlockingConnection(every)
        # pika keeps connection.start's server properties on the connection underneath BlockingConnection, and
        # its stubs leave that out
        identity = broker_identity(connection._impl.server_properties or {})  # type: ignore[attr-defined]
        connection.close()
    except (pika.exceptions.ProbableAuthenticationError, pika.exceptions.AuthenticationError):
        raise LabUnavailable(
            f"RabbitMQ at {where} refused the credentials of user {_user(params)!r}; "
            "fix the user and password in RABBITMQ_URL") from None
    except pika.exceptions.ProbableAccessDeniedError:
        raise LabUnavailable(
            f"RabbitMQ at {where} denies user {_user(params)!r} the virtual host "
            f"{params.virtual_host!r}; grant it (rabbitmqctl set_permissions) or fix RABBITMQ_URL") from None
    except pika.exceptions.AMQPError:
        raise LabUnavailable(f"RabbitMQ is not reachable at {where}; start it: {START_RABBITMQ}") from None
    return identity


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
    """The Redis at `url` when it answers; fakeredis when nothing does; LabUnavailable when it refuses us."""
    client = redis.Redis.from_url(checked_redis_url(url), socket_timeout=timeout_s, socket_connect_timeout=timeout_s)
    try:
        client.ping()
        return RedisServer(url)
    except redis.exceptions.AuthenticationError:
        raise LabUnavailable(f"Redis at {_where(url)} refused the password; fix it in REDIS_URL") from None
    except redis.exceptions.ResponseError as exc:
        if "DB index" in str(exc):
            raise BadSetting("REDIS_URL", url, "names a database that Redis does not have (it answered "
                             f"{str(exc)!r}; a default Redis has 16: 0 to 15)", REDIS_FORM) from None
        raise LabUnavailable(f"Redis at {_where(url)} refused us: {exc}; check REDIS_URL") from None
    except redis.exceptions.ConnectionError:
        pass
    finally:
        client.close()
    from fakeredis import TcpFakeServer

    port = free_port()
    server = TcpFakeServer(("127.0.0.1", port), server_type="redis")
    threading.Thread(target=server.serve_forever, name="fakeredis", daemon=True).start()
    note = (f"no Redis answered at {_where(url)}; the lab uses fakeredis's TCP server on 127.0.0.1:{port} "
            f"(for a real one: {START_REDIS})")
    return RedisServer(f"redis://127.0.0.1:{port}/0", note, server)
