"""The simulation a handler is graded in: each fault does to a delivery what it does on RabbitMQ."""

from __future__ import annotations

from sandbox.grade import workloads
from sandbox.grade.cases import BEFORE_COMMIT, Case, Crash, Duplicate, LostAck, Outage, Publish
from sandbox.grade.context import MailRelay
from sandbox.grade.handler import compile_handler
from sandbox.grade.history import History
from sandbox.grade.world import RESTART_S, World

SEND = """
def handle(message, ctx):
    event = message.json()
    for (follower,) in ctx.db.execute("SELECT follower FROM followers WHERE author_id = ?",
                                      (event["author_id"],)).fetchall():
        ctx.send_email(follower, "hi")
"""


def post(message_id: str = "m1", at_s: float = 0.0, author: int = 2) -> Publish:
    return Publish(message_id, workloads.body({"event": "post.created", "post_id": 1, "author_id": author,
                                               "title": "t"}), at_s)


def play(source: str, *faults, messages: tuple[Publish, ...] = (), consumers: int = 1,
         relay: MailRelay | None = None) -> History:
    case = Case(1, "post-created", messages or (post(),), tuple(faults), consumers)
    return World(case, compile_handler(source), tail_s=30, relay=relay).run()


def kinds(history: History, message: str = "m1") -> list[str]:
    return [e.kind for e in history.events if e.message == message and e.kind not in ("op",)]


def test_a_crash_after_the_commit_redelivers_the_message_with_the_flag_set() -> None:
    history = play(SEND, Crash("m1", 1, None))
    delivered = [e for e in history.events if e.kind == "deliver"]
    assert [("redelivered=True" in e.words) for e in delivered] == [False, True]
    assert delivered[1].at_s - delivered[0].at_s >= RESTART_S
    assert history.mailbox == [("m1", "linus@example.org")] * 2, "the e-mail committed before the crash stays"


def test_a_crash_before_the_commit_rolls_the_effect_back() -> None:
    history = play(SEND, Crash("m1", 1, BEFORE_COMMIT))
    assert history.mailbox == [("m1", "linus@example.org")], "only the redelivery's e-mail is committed"
    assert "crash" in kinds(history) and history.ends == {"m1": "acked"}


def test_with_auto_ack_a_crash_mid_handler_loses_the_message() -> None:
    history = play("AUTO_ACK = True\n" + SEND, Crash("m1", 1, 2))
    assert history.ends == {"m1": "lost"} and history.mailbox == []


def test_a_lost_ack_redelivers_to_whichever_consumer_asks_first() -> None:
    history = play(SEND, LostAck("m1", 1), consumers=2)
    delivered = [e for e in history.events if e.kind == "deliver"]
    assert [e.consumer for e in delivered] == [1, 2]
    assert "lost-ack" in kinds(history) and len(history.mailbox) == 2


def test_a_duplicate_publish_is_a_second_copy_with_the_same_id_not_flagged_redelivered() -> None:
    history = play(SEND, Duplicate("m1"))
    assert set(history.ends) == {"m1", "m1 (copy 2)"}
    assert all("redelivered=False" in e.words for e in history.events if e.kind == "deliver")


def test_retry_later_waits_for_its_tier_and_counts_the_trip() -> None:
    source = ("from sandbox.grade.api import RetryLater\n"
              "def handle(message, ctx):\n"
              "    if message.retries == 0:\n"
              "        raise RetryLater(2)\n")
    history = play(source)
    delivered = [e for e in history.events if e.kind == "deliver"]
    assert delivered[1].at_s - delivered[0].at_s >= 3.0, "2 s rounds up to the 3 s tier"
    assert "x-retries=1" in delivered[1].words and history.ends == {"m1": "acked"}


def test_reject_without_requeue_dead_letters_and_any_other_error_requeues() -> None:
    dead = play("from sandbox.grade.api import Reject\ndef handle(m, ctx):\n    raise Reject(requeue=False)\n")
    assert dead.ends == {"m1": "dead-lettered"}
    looping = play("def handle(m, ctx):\n    raise ValueError('no')\n")
    assert looping.ends == {"m1": "still being redelivered"} and looping.deliveries["m1"] == 40


def test_a_broker_restart_returns_what_was_unacked_and_the_late_ack_goes_nowhere() -> None:
    history = play(SEND, Outage("broker", 0.01, 1.0))
    assert any(e.kind == "lost-ack" and "cannot reach the broker" in e.words for e in history.events)
    delivered = [e for e in history.events if e.kind == "deliver"]
    assert len(delivered) == 2 and delivered[1].at_s >= 1.01


def test_a_redis_blip_makes_redis_calls_fail_and_nothing_else() -> None:
    source = "def handle(m, ctx):\n    ctx.redis.set('seen', 1)\n"
    history = play(source, Outage("redis", 0.0, 0.5))
    errors = [e for e in history.events if e.kind == "error"]
    assert errors and "ConnectionError" in errors[0].words and history.ends == {"m1": "acked"}


def test_a_killed_consumer_comes_back_with_fresh_memory() -> None:
    source = ("SEEN = set()\n"
              "def handle(message, ctx):\n"
              "    if message.id in SEEN:\n"
              "        return\n"
              "    ctx.send_email('x@example.org', 'hi')\n"
              "    SEEN.add(message.id)\n")
    history = play(source, Crash("m1", 1, None))
    assert history.mailbox == [("m1", "x@example.org")] * 2


def test_the_mail_relay_refuses_during_an_outage() -> None:
    source = "def handle(m, ctx):\n    ctx.send_email('x@example.org', 'hi')\n"
    history = play(source, relay=MailRelay(((0.0, 0.5),)))
    assert any("TemporaryFailure" in e.words for e in history.events if e.kind == "error")
    assert history.mailbox == [("m1", "x@example.org")]


def test_the_handler_may_neither_end_the_transaction_nor_write_the_mailbox() -> None:
    for statement in ("COMMIT", "DELETE FROM mailbox", "ATTACH DATABASE 'x.db' AS x", "PRAGMA journal_mode"):
        history = play(f"def handle(m, ctx):\n    ctx.db.execute({statement!r})\n")
        errors = [e.words for e in history.events if e.kind == "error"]
        assert errors and "not authorized" in errors[0], statement
