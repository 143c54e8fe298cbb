"""Any client welcome: producers and a consumer that are not the lab's own, against a standing lab.

A Node (amqplib) producer declares the queue as the tutorials do — `assertQueue(queue, {durable: true})`, nothing
else — and sends the seed's exact message, and the cache is invalidated; a Node subscriber reads the lab's
user.updated events; a plain pika producer declares and publishes the same way. The standing lab's queue variant
uses the exact names `cache-invalidation` and `user.updated` (only one standing lab may run on a broker).
"""

from __future__ import annotations

import json
import queue
import shutil
import subprocess
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pika
import pytest

from sandbox.live.engine import LiveEngine
from sandbox.live.servers import START_RABBITMQ, LabUnavailable
from sandbox.model.scenario import parse_scenario
from tests.helpers import RABBITMQ_URL, one_at_a_time, unavailable
from tests.integration.live.support import wait_until

pytestmark = pytest.mark.live

NODE_DIR = Path(__file__).with_name("node")
INSTALL = "npm ci --prefix tests/integration/live/node (Node.js 18 or newer: apt-get install nodejs npm)"
SEED_MESSAGE = b'{"action": "invalidateCache", "keys": ["blogs:*"]}'
WAIT_S = 15


@pytest.fixture(scope="module")
def lab() -> Iterator[LiveEngine]:
    """The standing lab's queue variant, with no load of its own (no other test starts a standing lab meanwhile)."""
    scenario = parse_scenario({"id": "standing-lab", "title": "the standing lab", "duration": 600,
                               "load": {"reads_per_s": 0, "writes_per_s": 0},
                               "variants": {"queue": {"architecture": "queue"}}}, "<test>")
    with one_at_a_time("standing-lab"):
        try:
            engine = LiveEngine(scenario, standing=True)
        except LabUnavailable as exc:
            unavailable(str(exc), START_RABBITMQ)
        try:
            yield engine
        finally:
            engine.close()


def node() -> str:
    """The node binary, once the client's packages are installed (skip, or fail in CI, without them)."""
    binary = shutil.which("node")
    if binary is None:
        unavailable("the Node client test needs Node.js, which is not installed", INSTALL)
    if not (NODE_DIR / "node_modules" / "amqplib").is_dir():
        unavailable("the Node client's packages are not installed", INSTALL)
    return binary


def worker_consumed(lab: LiveEngine) -> int:
    port = lab.labs["queue"].ports["cache-worker"]
    return httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=2).json()["consumed"]


def invalidated_by(lab: LiveEngine, publish: Callable[[], None]) -> None:
    """Cache the list; `publish` one message from outside; the next read must be a miss showing the newest post."""
    config = lab.labs["queue"].config
    with httpx.Client(timeout=5) as client:
        before = worker_consumed(lab)
        created = client.post(f"{config.author_url}/blogs", json={"title": "t", "body": "b", "author_id": 1})
        assert created.status_code == 201
        wait_until(lambda: worker_consumed(lab) == before + 1, WAIT_S, "the author's own invalidation handled")
        client.get(f"{config.blog_url}/blogs")
        assert client.get(f"{config.blog_url}/blogs").json()["cached"], "the list is cached"
        publish()
        wait_until(lambda: worker_consumed(lab) == before + 2, WAIT_S, "the outside message handled")
        page = client.get(f"{config.blog_url}/blogs").json()
    assert page["cached"] is False, "the next read is a miss"
    assert page["version"] == created.json()["version"], "and shows what the database has"


def test_a_node_producer_with_a_plain_durable_queue_invalidates_the_cache(lab):
    binary = node()
    queue_name = lab.labs["queue"].config.invalidation_queue
    assert queue_name == "cache-invalidation"

    def publish() -> None:
        done = subprocess.run([binary, "produce.js", RABBITMQ_URL, queue_name], cwd=NODE_DIR, capture_output=True,
                              text=True, timeout=30)
        assert done.returncode == 0, done.stderr
        assert done.stdout.strip() == f"sent {SEED_MESSAGE.decode().replace(' ', '')} to cache-invalidation"

    invalidated_by(lab, publish)


def test_a_plain_pika_producer_declares_the_queue_durable_and_invalidates_the_cache(lab):
    queue_name = lab.labs["queue"].config.invalidation_queue

    def publish() -> None:
        connection = pika.BlockingConnection(pika.URLParameters(RABBITMQ_URL))
        try:
            channel = connection.channel()
            channel.queue_declare(queue=queue_name, durable=True)
            channel.basic_publish(exchange="", routing_key=queue_name, body=SEED_MESSAGE,
                                  properties=pika.BasicProperties(delivery_mode=pika.DeliveryMode.Persistent))
        finally:
            connection.close()

    invalidated_by(lab, publish)


def test_a_node_consumer_reads_the_lab_s_user_updated_events(lab):
    binary = node()
    config = lab.labs["queue"].config
    assert config.user_exchange == "user.updated"
    process = subprocess.Popen([binary, "consume.js", RABBITMQ_URL, config.user_exchange, str(WAIT_S)], cwd=NODE_DIR,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    lines: queue.Queue[str] = queue.Queue()
    reader = threading.Thread(target=lambda: [lines.put(line.strip()) for line in process.stdout], daemon=True)
    reader.start()
    try:
        assert lines.get(timeout=WAIT_S) == "ready"
        renamed = httpx.put(f"{config.user_url}/api/v1/user/1", json={"name": "Ada"}, timeout=5)
        assert renamed.status_code == 200
        assert json.loads(lines.get(timeout=WAIT_S)) == {"id": 1, "name": "Ada"}
        assert process.wait(timeout=WAIT_S) == 0
    finally:
        if process.poll() is None:
            process.kill()
        process.wait(timeout=10)
        reader.join(timeout=5)
