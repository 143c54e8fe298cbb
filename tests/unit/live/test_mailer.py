"""The lab's mailer handler on its real SQLite store and a fake Redis: each consumer.dedup setting against a kill
just before and just after the e-mail (the kill itself, a real SIGKILL, is the live test's)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import fakeredis
import pika
import pytest

from sandbox.live.services.config import ServiceConfig
from sandbox.live.services.mailer import Mailer, MalformedEvent, parse_post_created, post_created_body
from sandbox.live.store import Database
from sandbox.model.effects import AFTER, BEFORE
from sandbox.model.knobs import resolve


class Killed(Exception):
    """Stands in for the SIGKILL: the handler stops where the kill would have cut it."""


@pytest.fixture
def db(tmp_path: Path) -> Iterator[Database]:
    database = Database(tmp_path / "lab.sqlite3")
    yield database
    database.close()


def mailer(db: Database, dedup: str, plan: list[str | None]) -> Mailer:
    config = ServiceConfig(variant="t", redis_prefix="t:", knobs=resolve({
        "mailer.enabled": True, "consumer.dedup": dedup, "mailer.work_ms": 0}))
    m = Mailer(config, db, fakeredis.FakeRedis())
    m.kill_point = lambda: plan.pop(0) if plan else None  # type: ignore[method-assign]

    def die() -> None:
        raise Killed

    m.die = die  # type: ignore[method-assign]
    return m


def deliver(m: Mailer, post_id: int) -> None:
    """Deliver one post.created until the mailer gets through it, as RabbitMQ redelivers after a kill."""
    properties = pika.BasicProperties(message_id=f"post-{post_id}")
    while True:
        try:
            m.handle(post_created_body(post_id), properties)
            return
        except Killed:
            continue


def effects(dedup: str, plan: list[str | None], db: Database) -> tuple[int, int, int]:
    m = mailer(db, dedup, plan)
    for post_id in (1, 2, 3):
        deliver(m, post_id)
    return db.effects()


@pytest.mark.parametrize("dedup", ["none", "inbox", "redis-before"])
def test_without_kills_each_post_gets_one_email(dedup: str, db: Database) -> None:
    assert effects(dedup, [], db) == (3, 0, 0)


def test_none_emails_again_after_a_kill_after_the_email(db: Database) -> None:
    assert effects("none", [AFTER], db) == (4, 1, 0)


def test_redis_before_loses_the_email_of_a_kill_between_the_mark_and_the_email(db: Database) -> None:
    assert effects("redis-before", [BEFORE], db) == (2, 0, 1)


def test_redis_before_skips_the_redelivery_after_an_email(db: Database) -> None:
    assert effects("redis-before", [AFTER], db) == (3, 0, 0)


@pytest.mark.parametrize("fate", [BEFORE, AFTER])
def test_inbox_emails_exactly_once_whatever_the_kill(fate: str, db: Database) -> None:
    assert effects("inbox", [fate, fate], db) == (3, 0, 0)


def test_the_inbox_and_the_email_are_one_transaction(db: Database) -> None:
    assert db.send_email(7, "post-7") is True
    assert db.send_email(7, "post-7") is False, "the id is in the inbox: no second e-mail"
    assert db.effects() == (1, 0, 0)


def test_a_malformed_event_is_refused_with_what_was_wrong() -> None:
    assert parse_post_created(post_created_body(5)) == 5
    for body in (b"nope", b'{"post_id": "5"}', b'{"post_id": 0}', b"[]"):
        with pytest.raises(MalformedEvent):
            parse_post_created(body)
