"""The lab's mailer for real: the keeper process, a pika consumer that SIGKILLs itself just before or after the
e-mail, RabbitMQ's redelivery of what was not acked, SETNX in the real Redis and the inbox in the real SQLite file.

Each test runs the keeper as the lab does, with its own exchange, queue, Redis prefix and database, publishes 40
post.created events, waits until every post's event is acked, and reads the mailbox table. A kill rate of 0.4
makes about 8 kills of each kind: the chance of none after the e-mail in 40 messages is 0.8^40, about 1 in 7,500.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import uuid
from pathlib import Path

import pika
import pytest
import redis

from sandbox.live.services.config import ServiceConfig
from sandbox.live.services.mailer import declare_mailer_queue, post_created_body
from sandbox.live.store import Database
from sandbox.model.effects import post_message_id
from sandbox.model.knobs import resolve
from tests.helpers import RABBITMQ_URL, REDIS_URL
from tests.integration.live.support import rabbit_channel, wait_until

pytestmark = pytest.mark.live

POSTS = 40


def mailer_run(dedup: str, tmp_path: Path) -> tuple[tuple[int, int, int], int]:
    """Run the keeper on 40 post.created events until all are acked: (the effects, the consumers SIGKILLed)."""
    suffix = f".test-{uuid.uuid4().hex[:8]}"
    config = ServiceConfig(
        variant="mailer-test", rabbitmq_url=RABBITMQ_URL, redis_url=REDIS_URL,
        database=str(tmp_path / "lab.sqlite3"), redis_prefix=f"test{suffix}:", queue_suffix=suffix,
        knobs=resolve({"mailer.enabled": True, "mailer.crash_rate": 0.4, "mailer.restart_s": 0.1,
                       "mailer.work_ms": 1, "consumer.dedup": dedup}))
    db = Database(config.database)
    connection, channel = rabbit_channel()
    log = tmp_path / "keeper.log"
    try:
        declare_mailer_queue(channel, config.post_exchange, config.mailer_queue)
        with log.open("wb") as out:
            keeper = subprocess.Popen([sys.executable, "-m", "sandbox.live.services.mailer"],
                                      env={**os.environ, **config.env()}, stderr=out)
        try:
            for post_id in range(1, POSTS + 1):
                channel.basic_publish(config.post_exchange, "", post_created_body(post_id),
                                      pika.BasicProperties(message_id=post_message_id(post_id), delivery_mode=2))
            wait_until(lambda: acked_posts(db) == POSTS, timeout_s=90, what="every post.created acked")
        finally:
            keeper.terminate()
            keeper.wait(10)
        return db.effects(), log.read_text().count("killed by signal 9")
    finally:
        channel.queue_delete(config.mailer_queue)
        channel.exchange_delete(config.post_exchange)
        connection.close()
        client = redis.Redis.from_url(REDIS_URL)
        with contextlib.suppress(redis.RedisError):
            keys = list(client.scan_iter(f"{config.redis_prefix}*"))
            if keys:
                client.delete(*keys)
        client.close()
        db.close()


def acked_posts(db: Database) -> int:
    """Posts whose post.created the mailer acked (the table the lab's meter reads for effect.missing)."""
    return db._connection().execute("SELECT COUNT(DISTINCT post_id) FROM mail_acked").fetchone()[0]


def test_none_emails_again_after_a_real_kill_after_the_email(tmp_path: Path) -> None:
    (applied, duplicates, missing), kills = mailer_run("none", tmp_path)
    assert kills >= duplicates >= 1 and missing == 0 and applied == POSTS + duplicates


def test_redis_before_loses_emails_to_a_real_kill_between_setnx_and_the_email(tmp_path: Path) -> None:
    (applied, duplicates, missing), kills = mailer_run("redis-before", tmp_path)
    assert kills >= missing >= 1 and duplicates == 0 and applied == POSTS - missing


def test_inbox_emails_every_post_exactly_once_through_real_kills(tmp_path: Path) -> None:
    effects, kills = mailer_run("inbox", tmp_path)
    assert kills >= 2 and effects == (POSTS, 0, 0)
