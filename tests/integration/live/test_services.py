"""The lab's real services against real Redis, RabbitMQ and SQLite, talking real HTTP on loopback.

Each test has its own SQLite file, Redis key prefix and queue suffix, and deletes its queues after.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pika
import pika.exceptions
import pytest
import redis

from sandbox.live.processes.ports import free_port
from sandbox.live.proxy import FaultProxy
from sandbox.live.rabbitmq.broker import INVALIDATE_BODY
from sandbox.live.servers import START_REDIS, through
from sandbox.live.services import author, blog, user
from sandbox.live.services.cache import BlogCache
from sandbox.live.services.cache_worker import CacheWorker
from sandbox.live.services.config import ServiceConfig, parse_knobs
from sandbox.live.store import Database
from tests.helpers import RABBITMQ_URL, REDIS_URL, serving, unavailable
from tests.integration.live.support import owned_policy, rabbit_channel, rabbitmq_address, ready, wait_until

pytestmark = pytest.mark.live

ROOT = Path(__file__).resolve().parents[3]


# fixtures ---------------------------------------------------------------------------------------------


@pytest.fixture
def cache_redis() -> Iterator[redis.Redis]:
    client = redis.Redis.from_url(REDIS_URL, socket_timeout=2, socket_connect_timeout=2)
    try:
        client.ping()
    except redis.RedisError as exc:
        unavailable(f"Redis is not reachable at {REDIS_URL} ({type(exc).__name__})", START_REDIS)
    yield client
    client.close()


class Variant:
    """Names and configurations for one test's variant, and the clean-up after it."""

    def __init__(self, tmp_path: Path, redis_client: redis.Redis):
        tag = uuid.uuid4().hex[:8]
        self.prefix = f"test-{tag}:"
        self.suffix = f".test-{tag}"
        self.database = str(tmp_path / "lab.sqlite3")
        self.redis = redis_client
        self.queue_used = False

    def config(self, architecture: str, knobs: dict | None = None, **fields) -> ServiceConfig:
        self.queue_used |= architecture == "queue"
        fields = {"redis_url": REDIS_URL, "rabbitmq_url": RABBITMQ_URL, **fields}
        return ServiceConfig(variant=f"test{self.suffix}", architecture=architecture, database=self.database,
                             redis_prefix=self.prefix, queue_suffix=self.suffix,
                             knobs=parse_knobs({"consumer.reconnect_s": 0.1, **(knobs or {})}), **fields)

    @property
    def cache_key(self) -> str:
        return f"{self.prefix}blogs:list"

    def db(self) -> Database:
        return Database(self.database)

    def cleanup(self) -> None:
        keys = list(self.redis.scan_iter(match=f"{self.prefix}*"))
        if keys:
            self.redis.delete(*keys)
        if self.queue_used:
            connection, channel = rabbit_channel()
            try:
                self.config("queue").topology.delete(channel, ("blog.user-updated" + self.suffix,))
            finally:
                connection.close()


@pytest.fixture
def variant(tmp_path, cache_redis) -> Iterator[Variant]:
    v = Variant(tmp_path, cache_redis)
    yield v
    v.cleanup()


@pytest.fixture
def queue_variant(variant, channel) -> Variant:
    """A variant whose queues exist before any service runs (declared as the services would)."""
    variant.config("queue").topology.declare(channel)
    return variant


@contextlib.contextmanager
def served(app) -> Iterator[httpx.Client]:
    """The app under uvicorn on a free loopback port (lifespan and all), and a client for it."""
    with serving(app) as url, httpx.Client(base_url=url, timeout=10) as client:
        yield client


def closed_url() -> str:
    return f"http://127.0.0.1:{free_port()}"


def write_posts(v: Variant, *author_ids: int) -> None:
    db = v.db()
    try:
        for author_id in author_ids:
            db.insert_post(author_id, f"by {author_id}", "…")
    finally:
        db.close()


@contextlib.contextmanager
def black_hole() -> Iterator[str]:
    """A port that accepts connections (the kernel's backlog) and never answers: a hung service."""
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.bind(("127.0.0.1", 0))
    listener.listen(64)
    try:
        yield f"http://127.0.0.1:{listener.getsockname()[1]}"
    finally:
        listener.close()


# sync variant -----------------------------------------------------------------------------------------


def test_sync_read_misses_calls_user_once_per_author_then_is_served_from_redis(variant, cache_redis):
    write_posts(variant, 1, 2, 1)
    with serving(user.create_app(variant.config("sync"))) as user_url, \
            serving(blog.create_app(variant.config("sync", user_url=user_url))) as blog_url, httpx.Client() as http:
        first = http.get(f"{blog_url}/blogs").json()
        assert first["cached"] is False and first["version"] == 3
        assert [(p["id"], p["author"]) for p in first["posts"]] == [(3, "Author 1"), (2, "Author 2"), (1, "Author 1")]
        assert http.get(f"{user_url}/metrics").json()["requests"] == 2  # two distinct authors on the page
        assert json.loads(cache_redis.get(variant.cache_key))["version"] == 3

        second = http.get(f"{blog_url}/blogs").json()
        assert second["cached"] is True
        assert second["posts"] == first["posts"]
        assert http.get(f"{user_url}/metrics").json()["requests"] == 2  # a hit never calls user
        metrics = http.get(f"{blog_url}/metrics").json()
        assert (metrics["cache_hits"], metrics["cache_misses"], metrics["cache_fills"]) == (1, 1, 1)


def test_sync_write_invalidates_and_the_next_read_rebuilds(variant, cache_redis):
    write_posts(variant, 1)
    with serving(user.create_app(variant.config("sync"))) as user_url, \
            serving(blog.create_app(variant.config("sync", user_url=user_url))) as blog_url, \
            serving(author.create_app(variant.config("sync", blog_url=blog_url))) as author_url, \
            httpx.Client() as http:
        assert http.get(f"{blog_url}/blogs").json()["version"] == 1
        assert cache_redis.exists(variant.cache_key)

        created = http.post(f"{author_url}/blogs", json={"title": "New", "body": "b", "author_id": 2})
        assert created.status_code == 201
        assert created.json() == {"id": 2, "version": 2}
        assert not cache_redis.exists(variant.cache_key)  # invalidated before the author answered
        assert http.get(f"{blog_url}/metrics").json()["invalidations"] == 1

        rebuilt = http.get(f"{blog_url}/blogs").json()
        assert (rebuilt["cached"], rebuilt["version"], rebuilt["posts"][0]["title"]) == (False, 2, "New")


def test_sync_read_fails_and_fills_nothing_when_user_is_down(variant, cache_redis):
    write_posts(variant, 1)
    app = blog.create_app(variant.config("sync", user_url=closed_url(), knobs={"http.retries": 1,
                                                                               "http.backoff_ms": 10}))
    with served(app) as client:
        response = client.get("/blogs")
        assert response.status_code == 500
        assert "the user service failed for author 1" in response.json()["error"]
        assert not cache_redis.exists(variant.cache_key)
        metrics = client.get("/metrics").json()
        assert (metrics["errors"], metrics["user_calls"], metrics["cache_fills"]) == (1, 2, 0)


@pytest.mark.parametrize(("on_error", "status"), [("fail", 500), ("ignore", 201)])
def test_sync_author_when_blog_is_down(variant, on_error, status):
    app = author.create_app(variant.config("sync", blog_url=closed_url(),
                                           knobs={"sync.on_invalidate_error": on_error}))
    with served(app) as client:
        response = client.post("/blogs", json={"title": "t", "body": "b", "author_id": 1})
        assert response.status_code == status
        assert response.json()["id"] == 1  # committed either way: a 500 here does not mean "not written"
        assert client.get("/metrics").json()["invalidate_failures"] == 1
        assert app.state.service.db.version() == 1


def test_a_hung_user_service_holds_blog_s_whole_worker_pool(variant):
    """workers = 1 and user never answers: the second read waits for the first read's timeout."""
    write_posts(variant, 1)
    with black_hole() as hung_url:
        config = variant.config("sync", user_url=hung_url, knobs={"services.blog.workers": 1, "http.timeout_s": 1})
        with serving(blog.create_app(config)) as blog_url, httpx.Client(timeout=10) as http:
            results: list[tuple[int, float]] = []

            def read() -> None:
                started = time.monotonic()
                status = http.get(f"{blog_url}/blogs").status_code
                results.append((status, time.monotonic() - started))

            readers = [threading.Thread(target=read) for _ in range(2)]
            for reader in readers:
                reader.start()
            metrics = wait_until(lambda: (m := http.get(f"{blog_url}/metrics").json())["waiting"] == 1 and m,
                                 what="one read waiting for the pool")
            assert (metrics["workers"], metrics["busy"]) == (1, 1)
            assert http.get(f"{blog_url}/health").status_code == 200  # the event loop still answers
            for reader in readers:
                reader.join(10)
    assert [status for status, _ in results] == [500, 500]
    fast, slow = sorted(seconds for _, seconds in results)
    assert fast >= 0.9 and slow >= 1.9  # the second read waited out the first read's whole timeout


def test_the_guarded_fill_on_real_redis_refuses_a_list_an_invalidation_overtook(variant, cache_redis):
    cache = BlogCache(cache_redis, variant.prefix)
    generation = cache.generation()
    cache.invalidate()
    assert not cache.fill({"posts": [], "version": 1}, generation, ttl_s=0)
    assert not cache_redis.exists(variant.cache_key)
    assert cache.fill({"posts": [], "version": 1}, cache.generation(), ttl_s=0)


# queue variant ----------------------------------------------------------------------------------------


def test_queue_write_publishes_exactly_the_message_and_answers_without_a_worker(queue_variant, channel):
    queue = "cache-invalidation" + queue_variant.suffix
    with served(author.create_app(queue_variant.config("queue"))) as client:
        response = client.post("/blogs", json={"title": "t", "body": "b", "author_id": 1})
        assert response.status_code == 201 and response.json() == {"id": 1, "version": 1}
        assert client.get("/metrics").json()["sent"] == 1
    _method, properties, body = channel.basic_get(queue, auto_ack=True)
    assert body == b'{"action": "invalidateCache", "keys": ["blogs:*"]}'
    assert properties.delivery_mode == 2
    assert channel.basic_get(queue, auto_ack=True)[0] is None


@contextlib.contextmanager
def worker_running(config: ServiceConfig) -> Iterator[CacheWorker]:
    worker = CacheWorker(config)
    worker.start()
    try:
        wait_until(lambda: worker.consumer.connected, what="the cache-worker to connect")
        yield worker
    finally:
        worker.stop()


def test_the_worker_deletes_this_variant_s_blogs_keys_then_acks(queue_variant, cache_redis, channel):
    write_posts(queue_variant, 1)
    cache_redis.set(f"{queue_variant.prefix}blogs:page:2", "x")
    other = f"other-{queue_variant.prefix}blogs:list"
    cache_redis.set(other, "another variant's list")
    try:
        with served(blog.create_app(queue_variant.config("queue"))) as blog_client, \
                served(author.create_app(queue_variant.config("queue"))) as author_client, \
                worker_running(queue_variant.config("queue")) as worker:
            assert blog_client.get("/blogs").json()["version"] == 1
            assert cache_redis.exists(queue_variant.cache_key)

            assert author_client.post("/blogs", json={"title": "t", "body": "b", "author_id": 1}).status_code == 201
            wait_until(lambda: worker.consumer.stats.consumed == 1, what="the worker to consume the message")
            assert not cache_redis.exists(queue_variant.cache_key, f"{queue_variant.prefix}blogs:page:2")
            assert cache_redis.get(other) == b"another variant's list"
            assert worker.metrics()["keys_deleted"] == 2
            assert worker.consumer.holding == 0  # acked
            rebuilt = blog_client.get("/blogs").json()
            assert (rebuilt["cached"], rebuilt["version"]) == (False, 2)
        assert ready(channel, "cache-invalidation" + queue_variant.suffix) == 0
    finally:
        cache_redis.delete(other)


def test_a_message_from_a_plain_pika_producer_drives_the_worker(queue_variant, cache_redis, channel):
    """What a producer in any language sends: the JSON body on the default exchange, routed by queue name."""
    queue = "cache-invalidation" + queue_variant.suffix
    cache_redis.set(queue_variant.cache_key, "stale list")
    with worker_running(queue_variant.config("queue")) as worker:
        channel.basic_publish("", queue, b'{"action":"invalidateCache","keys":["blogs:*"]}',
                              pika.BasicProperties(delivery_mode=2))
        wait_until(lambda: not cache_redis.exists(queue_variant.cache_key), what="the key deleted")
        wait_until(lambda: worker.consumer.stats.consumed == 1, what="the message acked")


def test_a_malformed_message_is_dead_lettered_while_later_good_ones_are_processed(variant, cache_redis, channel):
    config = variant.config("queue", knobs={"broker.queue_type": "quorum", "consumer.delivery_limit": 2})
    queue = config.invalidation_queue
    with owned_policy(config.topology, delivery_limit=2), worker_running(config) as worker:
        channel.basic_publish("", queue, b"{not json")
        for _ in range(2):
            cache_redis.set(variant.cache_key, "list")
            channel.basic_publish("", queue, INVALIDATE_BODY)
            wait_until(lambda: not cache_redis.exists(variant.cache_key), what="a good message applied")
        wait_until(lambda: ready(channel, queue + ".dlq") == 1, what="the malformed message in the DLQ")
        wait_until(lambda: worker.consumer.stats.consumed == 2, what="both good messages acked")
        stats = worker.consumer.stats.snapshot()
    assert (stats["failed"], stats["dead_lettered"], stats["redelivered"]) == (3, 1, 2)
    assert channel.basic_get(queue + ".dlq", auto_ack=True)[2] == b"{not json"


def test_user_renames_reach_the_queue_blog_s_directory_without_a_call(queue_variant):
    write_posts(queue_variant, 5)
    blog_app = blog.create_app(queue_variant.config("queue"))
    with served(blog_app) as blog_client, served(user.create_app(queue_variant.config("queue"))) as user_client:
        wait_until(lambda: blog_app.state.service.directory.connected, what="the directory consumer")
        assert blog_client.get("/blogs").json()["posts"][0]["author"] == "Author 5"
        assert user_client.put("/api/v1/user/5", json={"name": "Ada"}).status_code == 200
        assert user_client.get("/metrics").json()["events_published"] == 1
        wait_until(lambda: blog_client.get("/metrics").json()["directory_updates"] == 1, what="the event applied")
        blog_client.post("/internal/cache/invalidate")
        assert blog_client.get("/blogs").json()["posts"][0]["author"] == "Ada"


@pytest.mark.parametrize(("on_error", "status"), [("drop", 201), ("fail", 500)])
def test_a_publish_to_an_unreachable_broker(variant, on_error, status):
    closed = through(RABBITMQ_URL, free_port())
    config = variant.config("queue", rabbitmq_url=closed, knobs={"publish.on_error": on_error})
    with served(author.create_app(config)) as client:
        response = client.post("/blogs", json={"title": "t", "body": "b", "author_id": 1})
        assert response.status_code == status
        assert response.json()["id"] == 1
        metrics = client.get("/metrics").json()
        assert (metrics["published"], metrics["sent"], metrics["publish_failures"], metrics["lost"]) == (1, 0, 1, 1)
        assert metrics["errors"] == (1 if on_error == "fail" else 0)


def test_outbox_rows_written_while_the_broker_is_unreachable_are_sent_in_order_later(queue_variant, channel):
    proxy = FaultProxy(rabbitmq_address(), listen_port=free_port())  # not started: the broker is unreachable
    queue = "cache-invalidation" + queue_variant.suffix
    config = queue_variant.config("queue", rabbitmq_url=through(RABBITMQ_URL, proxy.port),
                                  knobs={"publish.on_error": "outbox", "outbox.poll_ms": 50})
    try:
        with served(author.create_app(config)) as client:
            for i in range(3):
                response = client.post("/blogs", json={"title": f"t{i}", "body": "b", "author_id": 1})
                assert response.status_code == 201
            wait_until(lambda: client.get("/metrics").json()["publish_failures"] >= 1, what="a failed relay round")
            assert client.get("/metrics").json()["outbox_pending"] == 3
            assert ready(channel, queue) == 0

            proxy.start()
            wait_until(lambda: client.get("/metrics").json()["outbox_pending"] == 0, timeout_s=10,
                       what="the relay to send the outbox")
            metrics = client.get("/metrics").json()
            assert (metrics["published"], metrics["sent"], metrics["lost"]) == (3, 3, 0)
    finally:
        proxy.stop()
    ids = [channel.basic_get(queue, auto_ack=True)[1].message_id for _ in range(3)]
    assert ids == ["outbox-1", "outbox-2", "outbox-3"]


# the process: python -m sandbox.live.services SERVICE ------------------------------------------------


def start_service(service: str, config: ServiceConfig, port: int | None = None) -> subprocess.Popen:
    env = {**os.environ, **config.env(port)}
    return subprocess.Popen([sys.executable, "-m", "sandbox.live.services", service], cwd=ROOT, env=env,
                            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


@contextlib.contextmanager
def service_process(service: str, config: ServiceConfig, port: int | None = None) -> Iterator[subprocess.Popen]:
    """A service as its own process for the test's duration; killed at the end if it is still running."""
    process = start_service(service, config, port)
    try:
        yield process
    finally:
        if process.poll() is None:
            process.kill()
        process.communicate()


def finished(process: subprocess.Popen, timeout_s: float = 15) -> tuple[int, str]:
    try:
        _, stderr = process.communicate(timeout=timeout_s)
    except subprocess.TimeoutExpired:
        process.kill()
        process.communicate()
        raise
    return process.returncode, stderr


def metrics(port: int) -> dict:
    with contextlib.suppress(httpx.TransportError):
        return httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=1).json()
    return {}


def consumers(channel, queue: str) -> int:
    return channel.queue_declare(queue, passive=True).method.consumer_count


@pytest.mark.parametrize("ack", ["manual", "auto"])
def test_a_worker_killed_mid_work(queue_variant, cache_redis, channel, ack):
    """manual ack: the broker redelivers the message; auto ack: it is gone and the cache stays stale."""
    queue = "cache-invalidation" + queue_variant.suffix
    config = queue_variant.config("queue", knobs={"consumer.ack": ack, "consumer.work_ms": 5000,
                                                        "services.distribution": "fixed"})
    cache_redis.set(queue_variant.cache_key, "stale list")
    with service_process("cache-worker", config) as process:
        wait_until(lambda: consumers(channel, queue) == 1, what="the worker process consuming")
        channel.basic_publish("", queue, INVALIDATE_BODY, pika.BasicProperties(delivery_mode=2))
        wait_until(lambda: ready(channel, queue) == 0, what="the message delivered to the worker")
        time.sleep(0.2)
        process.kill()  # SIGKILL, mid-work: no ack, no clean-up
        process.wait(5)
        wait_until(lambda: consumers(channel, queue) == 0, what="the broker to notice")
        time.sleep(0.2)
        if ack == "manual":
            assert ready(channel, queue) == 1
            method, _, body = channel.basic_get(queue, auto_ack=True)
            assert (body, method.redelivered) == (INVALIDATE_BODY, True)
        else:
            assert ready(channel, queue) == 0  # the invalidation is lost ...
        assert cache_redis.get(queue_variant.cache_key) == b"stale list"  # ... and was never applied


def test_sigterm_lets_the_worker_finish_and_ack_its_message_then_exit_0(queue_variant, cache_redis, channel):
    queue = "cache-invalidation" + queue_variant.suffix
    config = queue_variant.config("queue", knobs={"consumer.work_ms": 500, "services.distribution": "fixed"})
    cache_redis.set(queue_variant.cache_key, "stale list")
    port = free_port()
    with service_process("cache-worker", config, port) as process:
        wait_until(lambda: consumers(channel, queue) == 1, what="the worker process consuming")
        channel.basic_publish("", queue, INVALIDATE_BODY)
        wait_until(lambda: metrics(port).get("busy") == 1, what="the worker at work on the message")
        process.send_signal(signal.SIGTERM)
        code, stderr = finished(process)
    assert code == 0, stderr
    assert not cache_redis.exists(queue_variant.cache_key)
    assert ready(channel, queue) == 0


def test_an_http_service_serves_on_its_port_and_exits_0_on_sigterm(variant):
    port = free_port()
    with service_process("user", variant.config("sync"), port) as process:
        def healthy():
            with contextlib.suppress(httpx.TransportError):
                return httpx.get(f"http://127.0.0.1:{port}/health", timeout=1).json()

        assert wait_until(healthy, what="user to answer /health") == {"status": "ok", "service": "user"}
        process.send_signal(signal.SIGTERM)
        code, stderr = finished(process)
    assert code == 0, stderr


def test_unreachable_servers_and_a_taken_port_are_one_line_and_exit_2(variant):
    closed_redis = f"redis://127.0.0.1:{free_port()}/0"
    closed_rabbit = through(RABBITMQ_URL, free_port())
    cases = [
        ("blog", variant.config("sync", user_url=closed_url(), redis_url=closed_redis), free_port(),
         "blog: Redis is not reachable at 127.0.0.1:"),
        ("cache-worker", variant.config("queue", rabbitmq_url=closed_rabbit), None,
         "cache-worker: RabbitMQ is not reachable at 127.0.0.1:"),
    ]
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        port = taken.getsockname()[1]
        cases.append(("user", variant.config("sync"), port, f"user: port {port} on 127.0.0.1 is in use"))
        processes = [(start_service(service, config, p), words) for service, config, p, words in cases]
        for process, words in processes:
            code, stderr = finished(process)
            assert code == 2
            assert stderr.startswith(words), stderr
            assert len(stderr.strip().splitlines()) == 1 and "Traceback" not in stderr
