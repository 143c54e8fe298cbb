"""The queue side: what the broker keeps, what it loses and why, and the conservation of messages."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sandbox.model import losses
from tests.helpers import observe, run, scenario

WRITES_ONLY = {"reads_per_s": 2, "writes_per_s": 5}


def queue(**knobs) -> dict:
    return {"variants": {"queue": {"architecture": "queue", **knobs}}}


def lost(result, variant: str = "queue") -> dict[str, int]:
    return result.engine.measurements(variant).lost_by_cause


def test_healthy_queue_delivers_every_message_once_and_the_cache_lags_briefly():
    result = run(scenario(duration=60, **queue(), load=WRITES_ONLY))
    published = observe(result, "queue", "msg.published")
    assert published > 250
    assert observe(result, "queue", "msg.consumed") >= published - 1
    assert observe(result, "queue", "msg.lost") == 0
    assert observe(result, "queue", "msg.redelivered") == 0
    assert 0 < observe(result, "queue", "staleness.max_s") < 0.1


def test_a_dead_consumer_leaves_a_backlog_that_drains_when_it_returns():
    result = run(scenario(duration=60, **queue(), load=WRITES_ONLY, timeline=[
        {"at": 10, "do": "kill", "target": "cache-worker"},
        {"at": 30, "do": "revive", "target": "cache-worker"}]))
    assert observe(result, "queue", "queue.depth_max", 10, 30) >= 80
    assert 19 < observe(result, "queue", "staleness.max_s", 10, 31) < 21, "the first unapplied write is ~20 s old"
    assert observe(result, "queue", "queue.depth_last", 35, 60) == 0
    assert observe(result, "queue", "msg.lost") == 0


def test_a_crashed_consumer_loses_auto_acked_messages_and_returns_manual_ones():
    def crash(ack: str):
        return run(scenario(duration=40, **queue(**{"consumer.ack": ack, "consumer.work_ms": 400}),
                            load=WRITES_ONLY,
                            timeline=[{"at": 20, "do": "kill", "target": "cache-worker"},
                                      {"at": 25, "do": "revive", "target": "cache-worker"}]))
    auto, manual = crash("auto"), crash("manual")
    assert lost(auto) == {losses.AUTO_ACK_DIED: observe(auto, "queue", "msg.lost")}
    assert observe(auto, "queue", "msg.lost") > 30, "auto ack pushes the whole backlog to the consumer"
    assert observe(manual, "queue", "msg.lost") == 0
    assert observe(manual, "queue", "msg.redelivered", 25, 40) >= 1


def test_a_broker_restart_keeps_durable_persistent_messages_only():
    def restart(durable: bool, persistent: bool):
        return run(scenario(duration=60, **queue(**{"broker.durable": durable, "broker.persistent": persistent,
                                         "publish.on_error": "outbox"}),
                            load=WRITES_ONLY,
                            timeline=[{"at": 5, "do": "hang", "target": "cache-worker"},
                                      {"at": 20, "do": "restart", "target": "broker", "down_s": 2},
                                      {"at": 30, "do": "heal", "target": "cache-worker"}]))
    kept = restart(True, True)
    assert observe(kept, "queue", "msg.lost") == 0
    stopped = [text for _, _, text in kept.engine.log() if text.startswith("broker stopped")]
    assert len(stopped) == 1 and stopped[0].endswith("messages kept on disk, 0 lost")
    assert observe(kept, "queue", "queue.depth_max", 22, 30) > 70, "the backlog is back after the restart"
    transient_queue = restart(False, True)
    assert lost(transient_queue) == {losses.TRANSIENT_QUEUE: observe(transient_queue, "queue", "msg.lost")}
    assert observe(transient_queue, "queue", "msg.lost") > 50
    transient_messages = restart(True, False)
    assert set(lost(transient_messages)) == {losses.TRANSIENT_MESSAGE}


def test_a_crash_loses_the_unconfirmed_batch_not_yet_on_disk_and_confirms_make_the_outbox_retry_it():
    def crash(confirms: bool, sync_interval_ms: float = 500.0):
        return run(scenario(duration=40, **queue(**{"publish.confirms": confirms, "publish.on_error": "outbox",
                                                     "broker.sync_interval_ms": sync_interval_ms}),
                            load={"reads_per_s": 2, "writes_per_s": 40},
                            timeline=[{"at": 5, "do": "hang", "target": "cache-worker"},  # a backlog: a busy queue
                                      {"at": 10.9, "do": "kill", "target": "broker"},
                                      {"at": 12, "do": "revive", "target": "broker"},
                                      {"at": 13, "do": "heal", "target": "cache-worker"}]))
    unconfirmed, confirmed = crash(False), crash(True)
    lost_batch = lost(unconfirmed).get(losses.NOT_ON_DISK, 0)
    assert 10 <= lost_batch <= 25, "the writes of the last 0.4 s of the 0.5 s batch (40 a second) were not on disk"
    assert lost(unconfirmed) == {losses.NOT_ON_DISK: lost_batch}
    assert observe(confirmed, "queue", "msg.lost") == 0, "unconfirmed rows stay in the outbox and are sent again"
    assert observe(crash(False, 0.0), "queue", "msg.lost") <= 2, "syncing at once leaves only the fsync's 1 ms"


def test_a_transient_queue_is_exclusive_to_the_workers_connection_and_dies_with_it():
    def worker_dies(on_error: str):
        return run(scenario(duration=40, **queue(**{"broker.durable": False, "publish.on_error": on_error,
                                                    "publish.confirms": on_error != "drop"}),
                            load=WRITES_ONLY, timeline=[{"at": 5, "do": "hang", "target": "cache-worker"},
                                                        {"at": 15, "do": "kill", "target": "cache-worker"},
                                                        {"at": 25, "do": "revive", "target": "cache-worker"}]))
    dropped = worker_dies("drop")
    causes = lost(dropped)
    assert causes[losses.EXCLUSIVE_GONE] >= 40, "the backlog of the hang goes with the worker's connection"
    assert causes[losses.NO_QUEUE] >= 40, "with no consumer there is no queue: fire-and-forget drops every message"
    assert observe(dropped, "queue", "queue.depth_max", 16, 25) == 0
    kept = worker_dies("outbox")
    assert observe(kept, "queue", "outbox.pending_max", 16, 25) >= 40, "unroutable publishes wait in the outbox"
    assert lost(kept) == {losses.EXCLUSIVE_GONE: observe(kept, "queue", "msg.lost")}


def test_broker_down_fire_and_forget_loses_the_outbox_does_not_and_fail_answers_500():
    def outage(on_error: str):
        return run(scenario(duration=60, **queue(**{"publish.on_error": on_error}), load=WRITES_ONLY,
                            timeline=[{"at": 10, "do": "kill", "target": "broker"},
                                      {"at": 30, "do": "revive", "target": "broker"}]))
    drop, outbox, fail = outage("drop"), outage("outbox"), outage("fail")
    assert observe(drop, "queue", "write.error_rate", 10, 30) == 0
    assert set(lost(drop)) == {losses.DROPPED}
    assert observe(drop, "queue", "msg.lost") > 70
    assert observe(outbox, "queue", "write.error_rate", 10, 30) == 0
    assert observe(outbox, "queue", "msg.lost") == 0
    assert observe(outbox, "queue", "staleness.max_s", 10, 32) > 15, "stale until the relay delivers"
    assert observe(outbox, "queue", "staleness.max_s", 40, 60) < 1
    assert observe(fail, "queue", "write.error_rate", 11, 30) == 1.0
    assert set(lost(fail)) == {losses.WRITE_FAILED}


def test_a_poison_message_loops_forever_without_a_delivery_limit_and_is_dead_lettered_with_one():
    def poison(limit: int):
        knobs = {"consumer.delivery_limit": limit, "broker.queue_type": "quorum" if limit else "classic"}
        return run(scenario(duration=30, **queue(**knobs), load=WRITES_ONLY,
                            timeline=[{"at": 5, "do": "poison", "count": 2}]))
    looping, limited = poison(0), poison(3)
    assert observe(looping, "queue", "msg.redelivered") > 1000
    assert observe(looping, "queue", "queue.depth_last") >= 2
    assert observe(looping, "queue", "msg.dead_lettered") == 0
    assert observe(limited, "queue", "msg.dead_lettered") == 2
    assert observe(limited, "queue", "msg.redelivered") == 6, "returned 3 times each, dead-lettered on the 4th"
    assert observe(limited, "queue", "queue.depth_last", 10, 30) == 0


def test_a_hung_consumer_stops_and_resumes_on_heal():
    result = run(scenario(duration=40, **queue(), load=WRITES_ONLY, timeline=[
        {"at": 10, "do": "hang", "target": "cache-worker"}, {"at": 20, "do": "heal", "target": "cache-worker"}]))
    assert observe(result, "queue", "msg.consumed", 11, 20) == 0
    assert observe(result, "queue", "queue.depth_last", 25, 40) == 0
    assert observe(result, "queue", "msg.lost") == 0


def _agreeing(knobs: dict) -> dict:
    """A delivery limit needs a quorum queue, and a quorum queue is durable (Knobs.conflict)."""
    if knobs["consumer.delivery_limit"]:
        knobs["broker.queue_type"] = "quorum"
    if knobs["broker.queue_type"] == "quorum":
        knobs["broker.durable"] = True
    if knobs["consumer.ack"] == "auto":
        knobs["consumer.retry"] = "requeue"
    return knobs


QUEUE_KNOBS = st.fixed_dictionaries({
    "consumer.ack": st.sampled_from(["manual", "auto"]),
    "consumer.prefetch": st.integers(0, 20),
    "consumer.count": st.integers(1, 3),
    "consumer.work_ms": st.sampled_from([1.0, 20.0, 300.0]),
    "consumer.delivery_limit": st.integers(0, 4),
    "publish.on_error": st.sampled_from(["fail", "drop", "outbox"]),
    "publish.confirms": st.booleans(),
    "broker.durable": st.booleans(),
    "broker.persistent": st.booleans(),
    "broker.nodes": st.sampled_from([1, 3]),
    "broker.queue_type": st.sampled_from(["classic", "quorum"]),
    "consumer.retry": st.sampled_from(["requeue", "delayed"]),
    "broker.max_length": st.sampled_from([0, 3]),
    "broker.overflow": st.sampled_from(["drop-head", "reject-publish"]),
}).map(_agreeing)
TARGETS = ["cache-worker", "broker", "redis", "author", "blog", "broker-1", "broker-2", "broker-3"]
ACTIONS = st.one_of(
    st.builds(lambda at, verb, target: {"at": at, "do": verb, "target": target},
              st.integers(0, 30), st.sampled_from(["kill", "revive", "hang", "heal"]), st.sampled_from(TARGETS)),
    st.builds(lambda at, target, down: {"at": at, "do": "restart", "target": target, "down_s": down},
              st.integers(0, 30), st.sampled_from(TARGETS), st.integers(0, 5)),
    st.builds(lambda at, target, rate: {"at": at, "do": "errors", "target": target, "rate": rate},
              st.integers(0, 30), st.sampled_from(TARGETS), st.sampled_from([0.0, 0.3, 1.0])),
    st.builds(lambda at, target, ms: {"at": at, "do": "latency", "target": target, "ms": ms},
              st.integers(0, 30), st.sampled_from(TARGETS), st.sampled_from([0, 50, 800])),
    st.builds(lambda at, count: {"at": at, "do": "poison", "count": count}, st.integers(0, 30), st.integers(1, 3)),
    st.builds(lambda at, n: {"at": at, "do": "set", "key": "consumer.count", "value": n},
              st.integers(0, 30), st.integers(1, 3)),
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(knobs=QUEUE_KNOBS, actions=st.lists(ACTIONS, max_size=8), seed=st.integers(0, 1000))
def test_messages_are_conserved_at_every_second(knobs, actions, seed):
    result = run(scenario(duration=40, seed=seed, **queue(**knobs), load={"reads_per_s": 5, "writes_per_s": 8},
                          timeline=actions))
    published = consumed = lost_total = dead = 0
    for frame in result.engine.frames():
        published += frame["msg.published"]
        consumed += frame["msg.consumed"]
        lost_total += frame["msg.lost"]
        dead += frame["msg.dead_lettered"]
        held = frame["queue.ready"] + frame["queue.unacked"] + frame["msg.in_flight"]
        assert published == consumed + held + dead + lost_total, f"at second {frame['t']}: {frame}"
    assert sum(lost(result).values()) == lost_total, "every loss has its cause"


def test_author_directory_follows_user_updated_events_and_misses_them_while_the_broker_is_down():
    result = run(scenario(duration=40, load={"reads_per_s": 5, "writes_per_s": 1, "profile_updates_per_s": 2},
                          timeline=[{"at": 10, "do": "kill", "target": "broker"},
                                    {"at": 20, "do": "revive", "target": "broker"}]))
    directory = result.engine.status()["queue"].directory
    assert directory["applied"] > 40
    assert 10 < directory["missed"] < 35, "the updates of the ten broker-less seconds never arrive"
    assert result.engine.status()["sync"].directory == {"applied": 0, "missed": 0}, "sync asks user on every miss"
