"""The narration line: what is happening and why, from a variant's state, its last seconds and its knobs.

Two kinds of test. Cases: one state, one line, the words asserted (among them the stories that used to mislead).
Rules: every scenario in scenarios/ played on the simulation, every variant's line read at every second, and each
line held to what the simulation knows for a fact at that moment — which parts are broken, which messages are
really malformed — so a new scenario is covered the day it is added.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache

import pytest

from sandbox.catalog import load_scenario, scenario_paths
from sandbox.model.commands import Load, Set
from sandbox.model.knobs import DEFAULT_KNOBS, Knobs
from sandbox.model.messages import Letter, Letters
from sandbox.model.scenario import Scenario
from sandbox.model.status import Component, VariantStatus
from sandbox.present.charts import frames_of
from sandbox.present.diagram import TITLES
from sandbox.present.narration import QUEUE_DEEP, narrate
from sandbox.sim.engine import SimEngine

PARTS = ("author", "blog", "user", "cache-worker", "broker", "redis")
WINDOW_S = 10


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


# --- cases ------------------------------------------------------------------------------------------------------

def test_a_healthy_flow_says_how_well_it_serves_and_over_which_window():
    story = narrate(_status(), _frames(), DEFAULT_KNOBS)
    assert story.tone == "ok"
    assert story.text == "All well: 20 reads/s and 1.0 writes/s served in the last 10 s"


def test_before_any_request_finishes_it_waits():
    story = narrate(_status(), [], DEFAULT_KNOBS)
    assert story.text == "Waiting for the first requests to finish" and story.tone == "ok"


def test_sync_reads_fail_on_a_miss_while_the_user_service_is_down():
    status = _status(user=Component("user", "down", workers=8))
    story = narrate(status, _frames(**{"read.ok": 1, "read.errors": 19}), DEFAULT_KNOBS)
    assert story.tone == "bad"
    assert story.text == ("The User Service is down: a read that misses the cache needs it to name the authors, and "
                          "fails; 95% of reads failed in the last 10 s")


def test_a_slow_user_service_is_named_before_the_blog_pool_it_fills():
    status = _status(user=Component("user", "slow", workers=8, latency_ms=2000),
                     blog=Component("blog", "saturated", busy=8, waiting=115, workers=8))
    story = narrate(status, _frames(**{"read.ok": 2, "read.errors": 18}), DEFAULT_KNOBS)
    assert story.text == ("The User Service is 2,000 ms slow: a read that misses the cache waits for it; all 8 blog "
                          "workers are busy waiting and 115 requests wait in line; 90% of reads failed in the last "
                          "10 s")


def test_a_slow_user_service_is_not_all_well_before_reads_fail():
    """The first seconds of a 2,000 ms User Service: nothing has failed yet, but reads are held and fewer answered."""
    status = _status(user=Component("user", "slow", workers=8, latency_ms=2000))
    story = narrate(status, _frames(**{"read.ok": 9}), DEFAULT_KNOBS.with_values({"load.reads_per_s": 18.0}))
    assert story.tone == "bad"
    assert story.text == ("The User Service is 2,000 ms slow: a read that misses the cache waits for it; 9 reads/s "
                          "answered in the last 10 s (18/s asked for now)")


def test_sync_writes_that_fail_on_a_saturated_blog_say_so_not_that_nothing_is_broken():
    status = _status(user=Component("user", "slow", workers=8, latency_ms=2000),
                     blog=Component("blog", "saturated", busy=8, waiting=3505, workers=8))
    story = narrate(status, _frames(**{"read.ok": 20, "write.ok": 3, "write.errors": 2}), DEFAULT_KNOBS)
    assert "nothing" not in story.text.lower() and "User Service is 2,000 ms slow" in story.text
    assert "3,505 requests wait in line" in story.text


def test_a_dead_blog_is_a_refusal_and_its_share_is_not_called_every():
    status = _status(blog=Component("blog", "down", workers=8))
    story = narrate(status, _frames(**{"read.ok": 8, "read.errors": 12}), DEFAULT_KNOBS)
    assert story.text == ("The Blog Service is down: it refuses GET /blogs and the author's call to empty the cache; "
                          "60% of reads failed in the last 10 s")


def test_an_open_breaker_fails_fast():
    status = VariantStatus("guarded", "sync", 30.0, _status(user=Component("user", "hung", workers=8)).components,
                           breakers={"blog→user": "open"})
    story = narrate(status, _frames(**{"read.ok": 0, "read.errors": 20}), DEFAULT_KNOBS)
    assert story.text.startswith("The User Service is hung: the breaker on blog → user is open, so a read that misses "
                                 "the cache fails fast instead of waiting")


def test_writes_fail_while_the_broker_is_down_and_the_knob_says_what_the_author_does():
    status = _status("queue", broker=Component("broker", "down"))
    story = narrate(status, _frames(**{"write.ok": 0, "write.errors": 1}), DEFAULT_KNOBS)
    assert story.text == ("RabbitMQ is down: the author cannot publish the invalidation, so the write fails; 100% of "
                          "writes failed in the last 10 s")
    outbox = narrate(VariantStatus("queue", "queue", 30.0, status.components, outbox_pending=13), _frames(),
                     DEFAULT_KNOBS.with_values({"publish.on_error": "outbox"}))
    assert outbox.text.startswith("RabbitMQ is down: invalidations wait in the author's outbox (13 now) and writes "
                                  "still succeed")


def test_failures_that_stopped_say_nothing_is_broken_now():
    story = narrate(_status(), _frames(**{"read.errors": 5}), DEFAULT_KNOBS)
    assert story.tone == "warn"
    assert story.text == "Nothing is broken now; 20% of reads failed in the last 10 s, before it was mended"


def test_a_saturated_pool_with_nothing_broken_says_how_its_line_moves():
    status = _status(blog=Component("blog", "saturated", busy=8, waiting=40, workers=8))
    growing = [*_frames(**{"blog.waiting": 10}), {**_frames(1)[0], "t": 10, "blog.waiting": 40}]
    story = narrate(status, growing, DEFAULT_KNOBS)
    assert story.text.startswith("All 8 blog workers are busy and 40 requests wait in line; its line grew from 10 to "
                                 "40 in the last 11 s: it finishes less than arrives")
    flood = narrate(status, growing, DEFAULT_KNOBS.with_values({"load.reads_per_s": 5000.0}))
    assert "the load asks for 3.1× the work the pool can do" in flood.text


def test_a_dead_cache_worker_says_how_many_wait_and_how_stale_readers_are():
    status = VariantStatus("queue", "queue", 30.0, _status("queue", **{
        "cache-worker": Component("cache-worker", "down", workers=1)}).components, queue_ready=37)
    story = narrate(status, _frames(**{"staleness.max_s": 14.2}), DEFAULT_KNOBS)
    assert story.tone == "warn"
    assert story.text == ("The cache-worker is down: 37 invalidations wait in the queue; readers see lists up to "
                          "14 s old")


def test_losses_come_with_their_cause():
    story = narrate(_status("queue"), _frames(3, **{"msg.lost": 2}), DEFAULT_KNOBS,
                    {"broker restart: transient queue": 6, "auto-ack worker died": 1})
    assert story.tone == "bad"
    assert story.text.startswith("6 invalidations lost in the last 3 s: broker restart: transient queue;")


def _bouncing(deliveries: int) -> Letters:
    return Letters(shown=(Letter("m7", "unacked", 3.0, deliveries, "worker 1"), Letter("m8", "ready", 3.0, 2)))


def test_the_same_message_coming_back_on_a_healthy_path_is_poison():
    story = narrate(_status("queue"), _frames(**{"msg.redelivered": 90}), DEFAULT_KNOBS, letters=_bouncing(412))
    assert story.text == ("The same 1 message keeps coming back (m7: 412 deliveries so far) while its path is healthy: "
                          "the worker cannot handle it and returns it to the queue — poison (900 redeliveries in the "
                          "last 10 s); a delivery limit would move it to a dead-letter queue")
    limited = DEFAULT_KNOBS.with_values({"consumer.delivery_limit": 20, "broker.queue_type": "quorum"})
    assert narrate(_status("queue"), _frames(**{"msg.redelivered": 90}), limited, letters=_bouncing(12)).text.endswith(
        "the delivery limit (20) will dead-letter it")


def test_redeliveries_during_a_redis_outage_are_an_outage_not_poison():
    status = _status("queue", redis=Component("redis", "down"))
    story = narrate(status, _frames(**{"msg.redelivered": 80}), DEFAULT_KNOBS, letters=_bouncing(400))
    assert "poison" not in story.text.replace("not a poison message", "")
    assert story.text.startswith("Redis is down: reads miss the cache and rebuild the list from the database; the "
                                 "cache-worker cannot empty the cache, so it returns each invalidation to the queue")
    assert "an outage, not a poison message" in story.text


def test_a_crashed_workers_messages_delivered_once_more_are_manual_ack_working_not_poison():
    story = narrate(_status("queue"), _frames(**{"msg.redelivered": 1}), DEFAULT_KNOBS, letters=_bouncing(2))
    assert "poison" not in story.text and "delivery limit" not in story.text
    assert story.text.startswith("10 deliveries in the last 10 s were redeliveries: manual ack at work — RabbitMQ "
                                 "kept the messages a worker (or its connection) held unacked")
    assert story.tone == "ok"


def test_redeliveries_beyond_what_the_consumers_could_hold_are_not_called_manual_ack_at_work():
    """More redeliveries than prefetch × consumers, or a message delivered three times: something returns them."""
    many = narrate(_status("queue"), _frames(**{"msg.redelivered": 2}), DEFAULT_KNOBS, letters=_bouncing(2))
    thrice = narrate(_status("queue"), _frames(**{"msg.redelivered": 1}), DEFAULT_KNOBS, letters=_bouncing(3))
    auto = narrate(_status("queue"), _frames(**{"msg.redelivered": 1}),
                   DEFAULT_KNOBS.with_values({"consumer.ack": "auto"}), letters=_bouncing(2))
    for story in (many, thrice, auto):
        assert "manual ack at work" not in story.text
        assert "were redeliveries: RabbitMQ delivers again what a worker did not ack" in story.text


def test_an_outbox_that_fills_keeps_writes_succeeding():
    status = VariantStatus("outbox", "queue", 30.0, _status("queue").components, outbox_pending=13)
    story = narrate(status, _frames(), DEFAULT_KNOBS)
    assert story.text == "13 invalidations wait in the outbox until RabbitMQ takes them; writes still succeed"


def test_stale_reads_say_how_far_behind_the_cache_is():
    story = narrate(_status("queue"), _frames(**{"read.stale": 4, "staleness.max_s": 2.5}), DEFAULT_KNOBS)
    assert story.text == ("20% of reads in the last 10 s returned an old list: the cache still held it (up to 2.5 s "
                          "behind the database)")


def test_a_dead_user_service_costs_queue_nothing_and_it_says_why():
    story = narrate(_status("queue", user=Component("user", "down", workers=8)), _frames(), DEFAULT_KNOBS)
    assert story.tone == "ok"
    assert story.text.startswith("The User Service is down, and no read or write waits on it here")


# --- rules, over every scenario ----------------------------------------------------------------------------------

@dataclass(frozen=True)
class Reading:
    scenario: str
    variant: str
    t: int
    text: str
    tone: str
    status: VariantStatus
    letters: Letters
    read_failed: float
    write_failed: float

    def __str__(self) -> str:
        return f"{self.scenario} {self.variant} at {self.t} s: [{self.tone}] {self.text}"


def _knobs_at(scenario: Scenario, variant: str, t: float) -> Knobs:
    changes: dict = {}
    for command in sorted(scenario.timeline, key=lambda c: c.at):
        if command.at <= t and command.variant in (None, variant):
            if isinstance(command, Set):
                changes[command.key] = command.value
            elif isinstance(command, Load):
                changes |= command.rates()
    return scenario.knobs_for(scenario.variant(variant)).with_values(changes)


def _share(frames: list[dict], kind: str) -> float:
    ok, errors = sum(f[f"{kind}.ok"] for f in frames), sum(f[f"{kind}.errors"] for f in frames)
    return errors / (ok + errors) if ok + errors else 0.0


@cache
def _readings(path) -> tuple[Reading, ...]:
    """Every variant's line at every whole second of a scenario played on the simulation, with what was true."""
    scenario = load_scenario(path)
    engine = SimEngine(scenario)
    pending = sorted(scenario.timeline, key=lambda c: c.at)
    readings = []
    for t in range(1, int(scenario.duration_s) + 1):
        while pending and pending[0].at <= t - 1:
            engine.apply(pending.pop(0))
        engine.advance(1.0)
        recent = [f for f in engine.frames() if t - WINDOW_S <= f["t"] < t]
        statuses = engine.status()
        for variant in scenario.variants:
            name = variant.name
            mine = frames_of(recent, name)
            letters = engine.messages(name)
            story = narrate(statuses[name], mine, _knobs_at(scenario, name, t - 1),
                            engine.measurements(name).lost_by_cause,
                            letters if statuses[name].architecture == "queue" else None)
            readings.append(Reading(scenario.id, name, t, story.text, story.tone, statuses[name], letters,
                                    _share(mine, "read"), _share(mine, "write")))
    engine.close()
    return tuple(readings)


SCENARIOS = [pytest.param(path, id=path.stem) for path in scenario_paths()]


def _broken(part: Component) -> bool:
    return part.health in ("down", "hung") or bool(part.latency_ms or part.error_rate)


def _nothing_broken(status: VariantStatus) -> bool:
    parts = [*status.components.values(), *status.nodes]
    return (all(part.health in ("up", "absent") and not part.latency_ms and not part.error_rate for part in parts)
            and status.queue_ready + status.queue_unacked < QUEUE_DEEP and status.outbox_pending < QUEUE_DEEP)


@pytest.mark.parametrize("path", SCENARIOS)
def test_no_share_or_rate_is_called_every_and_each_names_its_window(path):
    for reading in _readings(path):
        assert not re.search(r"\bevery\b", reading.text, re.IGNORECASE), reading
        for clause in reading.text.split(";"):
            measured = re.sub(r"set to fail \d+% of its calls", "", clause)  # a fault's setting, not a measurement
            if "%" in measured or "/s" in measured:
                assert re.search(r"in the last \d+ s|/s asked for now", clause), (clause, str(reading))


@pytest.mark.parametrize("path", SCENARIOS)
def test_poison_is_said_only_of_a_malformed_message_that_is_really_queued(path):
    """The simulation marks the messages it made malformed; the line must not call anything else poison."""
    for reading in _readings(path):
        if "poison" in reading.text.replace("not a poison message", ""):
            queued = [letter for letter in reading.letters.shown if letter.state in ("ready", "unacked")]
            assert any(letter.poison for letter in queued), reading


@pytest.mark.parametrize("path", SCENARIOS)
def test_nothing_is_broken_and_all_well_only_when_nothing_is(path):
    for reading in _readings(path):
        if reading.text.startswith(("Nothing is broken", "All well")):
            assert _nothing_broken(reading.status), f"{reading}\n{reading.status}"
        if reading.text.startswith("All well"):
            assert reading.read_failed < 0.05 and reading.write_failed < 0.05, reading
            assert reading.tone == "ok"


@pytest.mark.parametrize("path", SCENARIOS)
def test_a_broken_part_on_a_path_is_named_first(path):
    """A part down, hung, slow or failing comes before anything else, named as the diagram names it; the part named
    first is the first broken one in the order readers, writers, messages (blog, author, user, Redis, RabbitMQ,
    cache-worker)."""
    order = ("blog", "author", "user", "redis", "broker", "cache-worker")
    for reading in _readings(path):
        status = reading.status
        broken = [name for name in order if _broken(status.components[name])
                  and not (name == "user" and status.architecture == "queue")]
        if broken:
            first = TITLES[broken[0]].replace("\n", " ")
            assert reading.text.startswith((f"The {first} is", f"{first} is")), reading
            assert reading.tone in ("warn", "bad"), reading
        elif any(node.health in ("down", "hung") for node in status.nodes):
            assert reading.text.startswith("RabbitMQ broker-"), reading


@pytest.mark.parametrize("path", SCENARIOS)
def test_a_saturated_pool_with_nothing_broken_comes_next(path):
    for reading in _readings(path):
        status = reading.status
        if any(_broken(part) for part in status.components.values()) or any(
                node.health != "up" for node in status.nodes):
            continue
        saturated = [name for name in ("blog", "author", "user") if status.components[name].health == "saturated"]
        if saturated:
            assert reading.text.startswith(f"All {status.components[saturated[0]].workers} {saturated[0]} workers "
                                           "are busy"), reading


@pytest.mark.parametrize("path", SCENARIOS)
def test_failing_requests_never_sound_healthy(path):
    for reading in _readings(path):
        if max(reading.read_failed, reading.write_failed) >= 0.05:
            assert reading.tone != "ok", reading


def _find(scenario_id: str) -> tuple[Reading, ...]:
    return _readings(next(path for path in scenario_paths() if path.stem == scenario_id))


def test_the_stories_that_used_to_mislead():
    redis = [r for r in _find("redis-down") if r.variant == "queue" and 16 <= r.t <= 35]
    assert redis and all(r.text.startswith("Redis is down") and "poison" not in r.text.replace(
        "not a poison message", "") for r in redis)
    assert any("an outage, not a poison message" in r.text for r in redis)

    slow = [r for r in _find("user-slow") if r.variant == "sync" and 21 <= r.t <= 60]
    assert slow and all(r.text.startswith("The User Service is 2,000 ms slow") for r in slow)
    assert all(r.tone == "bad" for r in slow if r.t >= 25)

    blog = [r for r in _find("blog-down-during-writes") if 16 <= r.t <= 35]
    assert blog and all(r.text.startswith("The Blog Service is down: it refuses GET /blogs") for r in blog)

    crash = [r for r in _find("consumer-crash") if r.variant == "manual-ack" and "redeliver" in r.text]
    assert crash and all("poison" not in r.text and "delivery limit" not in r.text for r in crash)
    after = [r for r in _find("consumer-crash") if r.variant == "manual-ack" and 36 <= r.t <= 45]
    assert after and all("manual ack at work" in r.text for r in after)

    poison = [r for r in _find("poison-message") if r.variant == "no-limit" and r.t >= 13]
    assert poison and all("— poison" in r.text for r in poison)
