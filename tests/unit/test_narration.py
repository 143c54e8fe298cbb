"""The narration line: what is happening and why, from a variant's state, its last seconds and its knobs."""

from sandbox.model.knobs import DEFAULT_KNOBS
from sandbox.model.status import Component, VariantStatus
from sandbox.present.narration import narrate

PARTS = ("author", "blog", "user", "cache-worker", "broker", "redis")


def _status(architecture: str = "sync", **parts: Component) -> VariantStatus:
    components = {name: Component(name, "up", workers=8 if name in ("author", "blog", "user") else 0)
                  for name in PARTS}
    if architecture == "sync":
        components |= {"broker": Component("broker", "absent"), "cache-worker": Component("cache-worker", "absent")}
    else:
        components["cache-worker"] = Component("cache-worker", "up", workers=1)
    return VariantStatus(architecture, architecture, 30.0, components | parts)


def _frames(seconds: int = 10, **per_second: float) -> list[dict]:
    base = {"read.ok": 20, "read.errors": 0, "write.ok": 1, "write.errors": 0, "read.stale": 0, "msg.lost": 0,
            "msg.redelivered": 0, "msg.dead_lettered": 0, "staleness.max_s": 0.0, "read.p99_ms": 30.0}
    return [{"t": t, **base, **per_second} for t in range(seconds)]


def test_a_healthy_flow_says_how_well_it_serves():
    story = narrate(_status(), _frames(), DEFAULT_KNOBS)
    assert story.tone == "ok"
    assert story.text == "all well: 20 reads/s and 1.0 writes/s served, read p99 at most 30 ms"


def test_before_any_request_finishes_it_waits():
    story = narrate(_status(), [], DEFAULT_KNOBS)
    assert story.text == "waiting for the first requests to finish" and story.tone == "ok"


def test_sync_reads_fail_because_every_miss_needs_the_dead_user_service():
    status = _status(user=Component("user", "down", workers=8))
    story = narrate(status, _frames(**{"read.ok": 1, "read.errors": 19}), DEFAULT_KNOBS)
    assert story.tone == "bad"
    assert story.text == "95% of reads fail: every cache miss needs the User Service, which is down"


def test_a_slow_user_service_holds_every_blog_worker():
    status = _status(user=Component("user", "slow", workers=8, latency_ms=2000),
                     blog=Component("blog", "saturated", busy=8, waiting=115, workers=8))
    story = narrate(status, _frames(**{"read.ok": 2, "read.errors": 18}), DEFAULT_KNOBS)
    assert story.text == ("90% of reads fail: all 8 blog workers are waiting on the User Service (2,000 ms slow); "
                          "115 requests wait in line")


def test_an_open_breaker_fails_fast():
    status = VariantStatus("guarded", "sync", 30.0, _status(user=Component("user", "hung", workers=8)).components,
                           breakers={"blog→user": "open"})
    story = narrate(status, _frames(**{"read.ok": 0, "read.errors": 20}), DEFAULT_KNOBS)
    assert "the breaker on blog → user is open: misses fail fast while the User Service is hung" in story.text


def test_writes_fail_while_the_broker_is_down_and_reads_do_not():
    status = _status("queue", broker=Component("broker", "down"))
    story = narrate(status, _frames(**{"write.ok": 0, "write.errors": 1}), DEFAULT_KNOBS)
    assert story.text == "100% of writes fail: the author cannot publish the invalidation while RabbitMQ is down"


def test_failures_that_stopped_say_nothing_is_broken_now():
    story = narrate(_status(), _frames(**{"read.errors": 5}), DEFAULT_KNOBS)
    assert story.tone == "warn"
    assert story.text == "20% of reads in the last 10 s failed; nothing on their path is broken now"


def test_a_queue_that_grows_says_why_and_how_stale_readers_are():
    status = VariantStatus("queue", "queue", 30.0, _status("queue", **{
        "cache-worker": Component("cache-worker", "down", workers=1)}).components, queue_ready=37)
    story = narrate(status, _frames(**{"staleness.max_s": 14.2}), DEFAULT_KNOBS)
    assert story.tone == "warn"
    assert story.text == ("37 invalidations wait in the queue (the cache-worker is down); readers see lists up to "
                          "14 s old")


def test_losses_come_with_their_cause():
    story = narrate(_status("queue"), _frames(3, **{"msg.lost": 2}), DEFAULT_KNOBS,
                    {"broker restart: transient queue": 6, "auto-ack worker died": 1})
    assert story.tone == "bad"
    assert story.text.startswith("6 invalidations lost in the last 3 s: broker restart: transient queue;")


def test_an_outbox_that_fills_keeps_writes_succeeding():
    status = VariantStatus("outbox", "queue", 30.0, _status("queue").components, outbox_pending=13)
    story = narrate(status, _frames(), DEFAULT_KNOBS)
    assert story.text == "13 invalidations wait in the outbox until RabbitMQ takes them; writes still succeed"


def test_a_bouncing_message_suggests_a_delivery_limit_only_when_there_is_none():
    bouncing = _frames(**{"msg.redelivered": 90})
    assert narrate(_status("queue"), bouncing, DEFAULT_KNOBS).text.endswith(
        "limit the deliveries to dead-letter it")
    limited = DEFAULT_KNOBS.with_values({"consumer.delivery_limit": 3})
    assert narrate(_status("queue"), bouncing, limited).text.endswith("comes round again")


def test_stale_reads_say_how_far_behind_the_cache_is():
    story = narrate(_status("queue"), _frames(**{"read.stale": 4, "staleness.max_s": 2.5}), DEFAULT_KNOBS)
    assert story.text == "20% of reads return an old list: the cache still holds it (up to 2.5 s behind the database)"
