"""The synchronous side: pools, kills, hangs, timeouts, retries and the breaker, as mechanisms."""

from __future__ import annotations

import pytest

from sandbox.model.commands import parse_command
from sandbox.sim.engine import SimEngine
from tests.helpers import observe, run, scenario

SYNC = {"variants": {"sync": {"architecture": "sync"}}}


def timeline(*entries: dict) -> list[dict]:
    return list(entries)


def test_same_seed_same_frames_other_seed_other_frames():
    s = scenario(duration=20, timeline=timeline({"at": 5, "do": "kill", "target": "user"}))
    assert run(s, 3).engine.frames() == run(s, 3).engine.frames()
    assert run(s, 3).engine.frames() != run(s, 4).engine.frames()


def test_variants_see_the_same_arrivals():
    s = scenario(duration=20, load={"reads_per_s": 30, "writes_per_s": 2})
    result = run(s)
    started = {v: observe(result, v, "read.throughput") for v in ("sync", "queue")}
    assert started["sync"] == pytest.approx(started["queue"], rel=0.02)


def test_a_killed_service_refuses_at_once():
    s = scenario(duration=20, **SYNC, timeline=timeline({"at": 5, "do": "kill", "target": "blog"}))
    result = run(s)
    assert observe(result, "sync", "read.error_rate", 5, 20) == 1.0
    assert observe(result, "sync", "read.p99_ms", 5, 20) == 0.0, "connection refused costs no waiting"


def test_a_kill_loses_the_work_in_flight():
    # the author takes 3 s per write, so writes are in flight when it dies at t=10
    s = scenario(duration=12, **SYNC, load={"reads_per_s": 0, "writes_per_s": 2},
                 knobs={"services": {"author": {"service_ms": 3000}, "distribution": "fixed"}},
                 timeline=timeline({"at": 10, "do": "kill", "target": "author"}))
    result = run(s)
    m = result.engine.measurements("sync")
    failed_at_kill = [ms for second in (10,) for ms in m._at(second).write_ms]
    assert failed_at_kill, "the writes in flight end at the kill"
    assert observe(result, "sync", "write.error_rate", 10, 11) == 1.0
    assert all(ms < 3000 + 10 for ms in failed_at_kill)


def test_a_hung_service_answers_nothing_until_the_callers_timeout():
    s = scenario(duration=20, **SYNC, knobs={"client": {"timeout_s": 2}},
                 timeline=timeline({"at": 5, "do": "hang", "target": "blog"}))
    result = run(s)
    assert observe(result, "sync", "read.error_rate", 8, 20) == 1.0
    assert observe(result, "sync", "read.p50_ms", 8, 20) == pytest.approx(2000)


def test_with_no_timeout_a_hang_holds_the_callers_workers_forever():
    s = scenario(duration=30, **SYNC, knobs={"http": {"timeout_s": 0}, "client": {"timeout_s": 0}},
                 timeline=timeline({"at": 5, "do": "hang", "target": "user"}))
    result = run(s)
    blog = result.engine.status()["sync"].components["blog"]
    assert blog.busy == blog.workers and blog.health == "saturated"
    assert observe(result, "sync", "read.throughput", 15, 30) == 0.0, "every read now waits forever"


def test_a_slow_dependency_exhausts_the_pool_and_slows_reads_that_never_call_it():
    slow = scenario(duration=60, **SYNC, load={"reads_per_s": 40, "writes_per_s": 1},
                    timeline=timeline({"at": 10, "do": "latency", "target": "user", "ms": 2000}))
    healthy = scenario(duration=60, **SYNC, load={"reads_per_s": 40, "writes_per_s": 1})
    slow_result, healthy_result = run(slow), run(healthy)
    assert observe(healthy_result, "sync", "read.p50_ms", 20, 60) < 20
    assert observe(slow_result, "sync", "read.p50_ms", 20, 60) > 1000, "cache hits wait for a free worker"
    busy = [f["blog.busy"] for f in slow_result.engine.frames()[20 * 1:] if f["t"] >= 20]
    assert max(busy) == 8


def test_retries_multiply_the_calls_a_failing_service_receives():
    calls = {}
    for retries in (0, 2):
        s = scenario(duration=20, **SYNC, knobs={"http": {"retries": retries}})
        engine = SimEngine(s)
        engine.apply(parse_command({"do": "errors", "target": "user", "rate": 1.0}))
        user = engine.worlds["sync"].services["user"]
        accepted = []
        original = user.accept
        user.accept = lambda handler, original=original, accepted=accepted: (
            accepted.append(1), original(handler))[1]
        engine.advance(20)
        misses = engine.measurements("sync").totals(0, 20)["cache.misses"]
        calls[retries] = len(accepted) / misses
    assert calls[0] == pytest.approx(1.0, abs=0.01)
    assert calls[2] == pytest.approx(3.0, abs=0.05)


def test_an_open_breaker_fails_fast_and_spares_the_failing_service():
    def user_calls(breaker: bool) -> tuple[int, float]:
        s = scenario(duration=30, **SYNC, load={"reads_per_s": 50, "writes_per_s": 2},
                     knobs={"http": {"breaker": breaker, "timeout_s": 1}})
        engine = SimEngine(s)
        engine.apply(parse_command({"do": "hang", "target": "user"}))
        engine.advance(30)
        status = engine.status()["sync"]
        calls = sum(e.calls_per_s for e in status.edges if (e.source, e.target) == ("blog", "user"))
        return calls, engine.measurements("sync").observe("read.p50_ms", 10, 30)

    open_calls, open_p50 = user_calls(breaker=True)
    naive_calls, naive_p50 = user_calls(breaker=False)
    assert open_p50 < 50 < naive_p50, "fail fast instead of waiting for the timeout"
    assert open_calls < naive_calls


def test_actions_on_parts_a_variant_lacks_say_so():
    engine = SimEngine(scenario(duration=5, **SYNC))
    notes = engine.apply(parse_command({"do": "kill", "target": "broker"}))
    assert notes == ["sync: no broker in a sync variant; `kill` does nothing"]


def test_load_and_set_change_the_running_system():
    s = scenario(duration=40, **SYNC, load={"reads_per_s": 10, "writes_per_s": 0}, timeline=timeline(
        {"at": 20, "do": "load", "reads_per_s": 40},
        {"at": 20, "do": "set", "key": "services.blog.workers", "value": 2}))
    result = run(s)
    assert observe(result, "sync", "read.throughput", 0, 20) == pytest.approx(10, rel=0.25)
    assert observe(result, "sync", "read.throughput", 20, 40) == pytest.approx(40, rel=0.25)
    assert result.engine.status()["sync"].components["blog"].workers == 2


def test_a_write_that_committed_before_failing_is_duplicated_by_a_client_retry():
    s = scenario(duration=30, **SYNC, load={"reads_per_s": 5, "writes_per_s": 2},
                 knobs={"client": {"retries": 1}},
                 timeline=timeline({"at": 10, "do": "kill", "target": "blog"}))
    result = run(s)
    assert observe(result, "sync", "write.duplicates", 0, 10) == 0
    assert observe(result, "sync", "write.error_rate", 11, 30) == 1.0
    assert observe(result, "sync", "write.duplicates", 11, 30) >= 20


def test_ignoring_invalidation_errors_answers_ok_and_leaves_the_cache_stale():
    s = scenario(duration=30, **SYNC, knobs={"sync": {"on_invalidate_error": "ignore"}},
                 timeline=timeline({"at": 10, "do": "errors", "target": "blog", "rate": 1.0},
                                   {"at": 20, "do": "heal", "target": "blog"}))
    result = run(s)
    assert observe(result, "sync", "write.error_rate", 10, 20) == 0.0
    assert observe(result, "sync", "staleness.max_s", 10, 20) > 5


def test_a_dead_service_cannot_hang_and_the_log_tells_what_happened():
    engine = SimEngine(scenario(duration=5, **SYNC))
    engine.apply(parse_command({"do": "kill", "target": "user"}))
    assert engine.apply(parse_command({"do": "hang", "target": "user"})) == [
        "sync: user is down; revive it before it can hang"]
    engine.advance(1)
    engine.apply(parse_command({"do": "revive", "target": "user"}))
    texts = [text for _, _, text in engine.log()]
    assert texts[0] == "kill user" and texts[-1] == "revive user"
    assert engine.status()["sync"].components["user"].health == "up"


def test_the_log_says_in_plain_words_when_a_link_starts_and_stops_failing():
    result = run(scenario(duration=40, **SYNC, timeline=timeline(
        {"at": 10, "do": "kill", "target": "user"}, {"at": 30, "do": "revive", "target": "user"})))
    lines = [(t, text) for t, _, text in result.engine.log()]
    texts = [text for _, text in lines]
    assert texts[0] == "kill user"
    assert "blog → user: connection refused" in texts
    assert "client → blog: 500: a downstream call failed" in texts
    assert texts.index("revive user") < texts.index("blog → user: 200 OK")
    assert len(lines) < 10, "a link's state is logged when it changes, not per request"
