"""The outbox relay, with a fake publisher and a real SQLite file: in order, stop at the first failure."""

from __future__ import annotations

import pytest

from sandbox.live.rabbitmq.broker import PublishError
from sandbox.live.services.outbox import OutboxRelay
from sandbox.live.store import Database


class FakePublisher:
    timeout_s = 1.0

    def __init__(self):
        self.sent: list[tuple[bytes, str]] = []
        self.fail_after: int | None = None

    def publish(self, body: bytes, message_id: str | None = None) -> None:
        if self.fail_after is not None and len(self.sent) >= self.fail_after:
            raise PublishError("RabbitMQ is unreachable")
        self.sent.append((body, message_id))


@pytest.fixture
def db(tmp_path):
    store = Database(tmp_path / "lab.sqlite3")
    yield store
    store.close()


def test_the_relay_sends_unsent_rows_oldest_first_and_marks_them(db):
    for i in range(3):
        db.insert_post(1, "t", "b", outbox_body=f"m{i}".encode())
    publisher = FakePublisher()
    relay = OutboxRelay(db, publisher, poll_ms=50)
    assert relay.relay_once() == 3
    assert publisher.sent == [(b"m0", "outbox-1"), (b"m1", "outbox-2"), (b"m2", "outbox-3")]
    assert db.outbox_pending() == 0
    assert relay.relay_once() == 0
    assert relay.counters["published"] == 3


def test_a_failure_stops_the_round_and_the_next_round_resumes_in_order(db):
    for i in range(3):
        db.insert_post(1, "t", "b", outbox_body=f"m{i}".encode())
    publisher = FakePublisher()
    publisher.fail_after = 1
    relay = OutboxRelay(db, publisher, poll_ms=50)
    assert relay.relay_once() == 1
    assert relay.counters["publish_failures"] == 1
    assert "unreachable" in relay.last_error
    assert [r.body for r in db.unsent()] == [b"m1", b"m2"]
    publisher.fail_after = None
    assert relay.relay_once() == 2
    assert [body for body, _ in publisher.sent] == [b"m0", b"m1", b"m2"]
