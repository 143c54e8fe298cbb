"""docs/handlers.md's plain pika consumer, run as written: the email-once reference, unchanged, under a bare pika
callback on the real broker, sends each follower one e-mail although a message is published twice."""

from __future__ import annotations

import re
import sqlite3
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pika
import pika.exceptions
import pytest

from sandbox.grade import workloads
from sandbox.grade.tasks import find_task
from tests.helpers import RABBITMQ_URL
from tests.integration.live.support import rabbit_channel, wait_until

pytestmark = pytest.mark.live
DOCS = Path(__file__).resolve().parents[3] / "docs" / "handlers.md"


def test_the_documented_plain_pika_consumer_runs_a_handler(tmp_path: Path) -> None:
    blocks = re.findall(r"```python\n(.*?)```", DOCS.read_text(), re.S)
    program = next(block for block in blocks if "start_consuming" in block)
    (tmp_path / "plain_consumer.py").write_text(program)
    (tmp_path / "handler.py").write_text(find_task("email-once").reference)
    database = sqlite3.connect(tmp_path / "blog.sqlite")
    database.executescript(workloads.SCHEMA)
    for statement, values in workloads.rows():
        database.execute(statement, values)
    database.commit()
    queue = f"plain-{uuid.uuid4().hex[:8]}"
    connection, channel = rabbit_channel()
    consumer = subprocess.Popen([sys.executable, str(tmp_path / "plain_consumer.py"), str(tmp_path / "handler.py"),
                                 queue, str(tmp_path / "blog.sqlite"), RABBITMQ_URL], cwd=tmp_path,
                                stderr=subprocess.PIPE)
    try:
        wait_until(lambda: _declared(connection, queue), timeout_s=30, what="the consumer declaring its queues")
        for message_id, author in (("p1", 1), ("p2", 3), ("p1", 1)):  # p1 twice: a duplicate publish
            body = workloads.body({"event": "post.created", "post_id": 1, "author_id": author, "title": "Hi"})
            channel.basic_publish("", queue, body, pika.BasicProperties(message_id=message_id, delivery_mode=2))
        channel.basic_publish("", queue, b"not json", pika.BasicProperties(message_id="p3"))
        expected = sorted([("p1", f) for f in workloads.FOLLOWERS[1]] + [("p2", f) for f in workloads.FOLLOWERS[3]])
        wait_until(lambda: _dead_lettered(channel, queue) == 1, what="the poison message in the dead-letter queue")
        time.sleep(0.5)
        sent = sorted(database.execute("SELECT message_id, recipient FROM mailbox").fetchall())
        assert sent == expected
    finally:
        consumer.kill()
        consumer.wait()
        for name in (queue, f"{queue}.dlq", *(f"{queue}.retry.{t:g}s" for t in (1, 3, 10))):
            channel.queue_delete(name)
        connection.close()


def _declared(connection, queue: str) -> bool:
    """Whether the consumer has declared its last queue (asked on a channel of its own: a miss closes it)."""
    probe = connection.channel()
    try:
        probe.queue_declare(f"{queue}.retry.10s", passive=True)
    except pika.exceptions.ChannelClosedByBroker:
        return False
    probe.close()
    return True


def _dead_lettered(channel, queue: str) -> int:
    return channel.queue_declare(f"{queue}.dlq", passive=True).method.message_count
