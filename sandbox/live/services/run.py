"""`python -m sandbox.live.services SERVICE`: run one lab service until SIGTERM.

author, blog and user serve HTTP with uvicorn on 127.0.0.1:$SANDBOX_PORT. cache-worker consumes its
queue; given SANDBOX_PORT it also serves /health and /metrics there. The variant's configuration is
the JSON in $SANDBOX_SERVICE_CONFIG (see config.py). When a server the service needs is unreachable,
the port is taken or the configuration is wrong, it prints one line saying what to do and exits 2.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import sys
import threading
from collections.abc import Callable
from functools import partial
from urllib.parse import urlsplit

import redis
from pika.adapters.blocking_connection import BlockingChannel

from sandbox.live.processes.ports import port_in_use
from sandbox.live.rabbitmq.broker import BROKER_ERRORS, TopologyError, connect, declare_directory_queue
from sandbox.live.servers import START_REDIS, LabUnavailable, check_rabbitmq, masked
from sandbox.live.services.config import PORT_ENV, SERVICES, ConfigError, ServiceConfig

EXIT_UNAVAILABLE = 2
GRACEFUL_SHUTDOWN_S = 3


class StartupError(RuntimeError):
    """The service cannot start; the message is the one line the user sees."""


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if len(argv) != 1 or argv[0] not in SERVICES:
        print(f"usage: python -m sandbox.live.services {{{'|'.join(SERVICES)}}}", file=sys.stderr)
        return EXIT_UNAVAILABLE
    service = argv[0]
    logging.basicConfig(level=logging.WARNING, format=f"{service}: %(message)s")
    logging.getLogger("pika").setLevel(logging.CRITICAL)  # our own warnings say what happened, in one line
    try:
        config = ServiceConfig.from_env()
        config.require(service)
        port = _port(service)
        check_servers(service, config)
        return serve(service, config, port)
    except (ConfigError, StartupError, LabUnavailable, TopologyError) as exc:
        print(f"{service}: {exc}".replace("\n", " "), file=sys.stderr)
        return EXIT_UNAVAILABLE


def _port(service: str) -> int | None:
    text = os.environ.get(PORT_ENV, "")
    if not text:
        if service == "cache-worker":
            return None
        raise StartupError(f"{PORT_ENV} is not set; give the port to listen on (127.0.0.1)")
    try:
        port = int(text)
    except ValueError:
        port = 0
    if not 0 < port < 65536:
        raise StartupError(f"{PORT_ENV}={text!r} is not a TCP port number")
    if port_in_use(port):
        raise StartupError(f"port {port} on 127.0.0.1 is in use; stop what holds it or choose another port")
    return port


def check_servers(service: str, config: ServiceConfig) -> None:
    """Fail fast, in one line, when a server this service needs is unreachable; declare our queues."""
    if service in ("blog", "cache-worker"):
        check_redis(config.redis_url, config.knobs.redis.timeout_s)
    if not config.queue:
        return
    check_rabbitmq(config.rabbitmq_urls)
    declare: Callable[[BlockingChannel], None] | None = None
    if service in ("author", "cache-worker"):
        declare = config.topology.declare_for_producers  # an exclusive queue is declared by the worker's consumer
    elif service == "blog" and config.knobs.broker.durable:
        declare = partial(declare_directory_queue, queue_name=config.directory_queue, exchange=config.user_exchange)
    if declare is not None:
        try:
            connection = connect(config.rabbitmq_urls, timeout_s=3.0, name=f"{service}-startup")
        except BROKER_ERRORS as exc:
            raise StartupError(f"RabbitMQ refused the connection: {exc!r}") from None
        try:
            declare(connection.channel())
        finally:
            with contextlib.suppress(*BROKER_ERRORS):
                connection.close()


def check_redis(url: str, timeout_s: float = 1.0) -> None:
    parts = urlsplit(url)
    where = f"{parts.hostname or '127.0.0.1'}:{parts.port or 6379}"
    client = redis.Redis.from_url(url, socket_timeout=timeout_s, socket_connect_timeout=timeout_s)
    try:
        client.ping()
    except redis.AuthenticationError:
        raise StartupError(f"Redis at {where} refused the credentials; fix REDIS_URL") from None
    except redis.ResponseError as exc:
        raise StartupError(f"Redis at {where} refused {masked(url)!r}: {exc}; fix REDIS_URL") from None
    except (redis.RedisError, OSError):
        raise StartupError(f"Redis is not reachable at {where}; start it: {START_REDIS}") from None
    finally:
        client.close()


def serve(service: str, config: ServiceConfig, port: int | None) -> int:
    if port is None:
        return run_worker(config)
    import uvicorn

    app = create_app(service, config)
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning",
                                           timeout_graceful_shutdown=GRACEFUL_SHUTDOWN_S))
    # uvicorn turns SIGTERM and SIGINT into a graceful shutdown, then raises the signal again with the
    # handler it found installed: this one, so a requested stop ends with exit code 0.
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: None)
    try:
        server.run()
    except SystemExit:
        if not server.started:
            raise StartupError(f"could not listen on 127.0.0.1:{port} (in use?)") from None
        raise
    if not server.started:
        raise StartupError(f"did not start on 127.0.0.1:{port}; see the lines above")
    return 0


def create_app(service: str, config: ServiceConfig):
    if service == "author":
        from sandbox.live.services.author import create_app as factory
    elif service == "blog":
        from sandbox.live.services.blog import create_app as factory
    elif service == "user":
        from sandbox.live.services.user import create_app as factory
    else:
        from sandbox.live.services.cache_worker import create_app as factory
    return factory(config)


def run_worker(config: ServiceConfig) -> int:
    """The cache-worker without HTTP: consume until SIGTERM or SIGINT, then finish in-flight work."""
    from sandbox.live.services.cache_worker import CacheWorker

    worker = CacheWorker(config)
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    worker.start()
    while not stop.wait(0.5):
        pass
    worker.stop()
    return 0

