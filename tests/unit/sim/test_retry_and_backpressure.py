"""Delayed retry (consumer.retry) and a queue length limit (broker.max_length, broker.overflow) in the simulation."""

from __future__ import annotations

import pytest

from sandbox.model import losses
from sandbox.model.errors import ScenarioError
from tests.helpers import observe, run, scenario

WRITES = {"reads_per_s": 2, "writes_per_s": 2}
REDIS_BLIP = [{"at": 10, "do": "kill", "target": "redis"}, {"at": 15, "do": "revive", "target": "redis"}]
WORKER_AWAY = [{"at": 10, "do": "kill", "target": "cache-worker"},
               {"at": 40, "do": "revive", "target": "cache-worker"}]


def queue(**knobs) -> dict:
    return {"variants": {"queue": {"architecture": "queue", **knobs}}}


def blip(retry: str, **knobs):
    return run(scenario(duration=60, load=WRITES, timeline=REDIS_BLIP, **queue(**{
        "broker.queue_type": "quorum", "consumer.delivery_limit": 20, "consumer.retry": retry, **knobs})))


def test_a_hot_requeue_loop_dead_letters_good_messages_during_a_short_outage():
    result = blip("requeue")
    assert observe(result, "queue", "msg.dead_lettered") >= 5
    assert observe(result, "queue", "msg.retried") == 0


def test_a_delayed_retry_waits_out_the_outage_and_delivers_every_message():
    result = blip("delayed")
    published = observe(result, "queue", "msg.published")
    assert observe(result, "queue", "msg.dead_lettered") == 0
    assert observe(result, "queue", "msg.retried") >= 5
    assert observe(result, "queue", "msg.consumed") == published
    assert observe(result, "queue", "msg.redelivered") == 0, "a retried message comes back as a new message"


def test_a_retried_message_waits_in_its_retry_queue_and_counts_as_held():
    result = blip("delayed", **{"consumer.retry_first_s": 20})
    assert observe(result, "queue", "queue.depth_max", 12, 28) >= 5, "the failed messages wait out the 20 s TTL"
    assert observe(result, "queue", "msg.dead_lettered") == 0


def test_past_the_last_tier_a_failing_message_goes_to_the_dlq():
    result = run(scenario(duration=60, load=WRITES, **queue(**{"consumer.retry": "delayed", "consumer.retry_tiers": 2,
                                                                "consumer.retry_first_s": 0.5}),
                          timeline=[{"at": 10, "do": "poison", "count": 3}]))
    assert observe(result, "queue", "msg.dead_lettered") == 3
    assert observe(result, "queue", "msg.retried") == 6, "two tiers each"


def test_a_delayed_retry_needs_manual_ack():
    with pytest.raises(ScenarioError, match=r"consumer\.ack"):
        scenario(**queue(**{"consumer.retry": "delayed", "consumer.ack": "auto"}))


def away(**knobs):
    return run(scenario(duration=60, load=WRITES, timeline=WORKER_AWAY, **queue(**{"broker.max_length": 20, **knobs})))


def test_drop_head_pushes_out_the_oldest_and_names_the_cause():
    result = away(**{"broker.overflow": "drop-head"})
    dropped = observe(result, "queue", "msg.dropped_by_limit")
    assert dropped >= 20
    assert observe(result, "queue", "msg.dead_lettered") == dropped, "the queue's dead-letter exchange gets them"
    assert observe(result, "queue", "queue.depth_max") <= 20
    assert observe(result, "queue", "write.errors") == 0, "the author never hears of it"


def test_reject_publish_nacks_the_publisher_who_fails_the_write():
    result = away(**{"broker.overflow": "reject-publish"})
    rejected = observe(result, "queue", "msg.rejected_by_limit")
    assert rejected >= 20
    assert observe(result, "queue", "msg.dropped_by_limit") == 0
    assert observe(result, "queue", "write.errors") == rejected, "each nack fails its write"
    assert observe(result, "queue", "msg.lost_taken") == 0, "nothing the broker took is lost"
    lost = result.engine.measurements("queue").lost_by_cause
    assert set(lost) == {losses.WRITE_FAILED}


def test_reject_publish_with_an_outbox_holds_the_messages_and_delivers_them_later():
    result = away(**{"broker.overflow": "reject-publish", "publish.on_error": "outbox"})
    assert observe(result, "queue", "msg.rejected_by_limit") >= 20
    assert observe(result, "queue", "outbox.pending_max") >= 20
    assert observe(result, "queue", "msg.lost") == 0
    assert observe(result, "queue", "write.errors") == 0
    assert observe(result, "queue", "msg.consumed") == observe(result, "queue", "msg.published")


def test_reject_publish_without_confirms_loses_silently():
    result = away(**{"broker.overflow": "reject-publish", "publish.confirms": False})
    lost = result.engine.measurements("queue").lost_by_cause
    assert lost.get(losses.REFUSED_UNCONFIRMED, 0) >= 20
    assert observe(result, "queue", "write.errors") == 0, "the publisher never heard"


def test_a_retry_dead_lettered_back_into_a_full_reject_publish_queue_is_lost_with_its_cause():
    result = run(scenario(duration=30, load=WRITES, **queue(**{
        "consumer.retry": "delayed", "consumer.retry_first_s": 12, "broker.max_length": 3,
        "broker.overflow": "reject-publish"}), timeline=[
        {"at": 2, "do": "poison", "count": 1}, {"at": 5, "do": "kill", "target": "cache-worker"}]))
    lost = result.engine.measurements("queue").lost_by_cause
    assert lost.get(losses.RETRY_REFUSED) == 1, "the queue is full when the poison message's TTL runs out"
    assert observe(result, "queue", "msg.lost_taken") >= 1, "the broker had taken it: nobody is told"
