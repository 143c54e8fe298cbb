"""Window metrics are computed from every request in the window, not from per-second summaries."""

from __future__ import annotations

from typing import get_args

import pytest

from sandbox.model.commands import command_to_table, parse_command
from sandbox.model.expectations import Expectation, check
from sandbox.model.measurements import Measurements, percentile
from sandbox.model.metrics import (
    FRAME_METRICS,
    METRICS,
    POOL_GAUGES,
    WORKERS,
    CounterName,
    GaugeName,
    Last,
    Peak,
    PerSecond,
    Ratio,
    Sum,
    WindowName,
    is_metric,
)
from sandbox.model.status import health


def test_every_typed_name_is_declared_once_with_the_kind_its_type_says():
    """A name added to a Literal without a declaration (or declared without one: mypy) fails here."""
    counters, gauges, windows = (set(get_args(names)) for names in (CounterName, GaugeName, WindowName))
    assert len(counters) + len(gauges) + len(windows) == len(counters | gauges | windows), "a name in two types"
    assert counters | gauges | windows == set(METRICS), "typed names without a declaration, or the reverse"
    assert counters == {name for name, m in METRICS.items() if m.kind == "count" and m.aggregate == Sum(name)}
    assert gauges == {name for name, m in METRICS.items() if m.per_second and m.aggregate == Peak((name,))}
    assert set(POOL_GAUGES) == set(WORKERS) and {g for pair in POOL_GAUGES.values() for g in pair} <= gauges


def test_an_aggregate_reads_counters_and_gauges_only():
    counters, gauges = set(get_args(CounterName)), set(get_args(GaugeName))
    for m in METRICS.values():
        match m.aggregate:
            case Sum(counter) | PerSecond(counter):
                assert counter in counters, m.name
            case Ratio(part, whole):
                assert {part, *whole} <= counters, m.name
            case Peak(read) | Last(read):
                assert set(read) <= gauges, m.name


def test_a_name_from_a_file_is_a_metric_only_when_registered():
    assert is_metric("read.p99_ms") and is_metric("queue.ready")
    assert not is_metric("read.p99ms") and not is_metric(99) and not is_metric(None)


def test_percentile_is_nearest_rank():
    values = list(range(1, 101))
    assert percentile(values, 50) == 50
    assert percentile(values, 99) == 99
    assert percentile(values, 100) == 100
    assert percentile([7.0], 99) == 7.0
    assert percentile([], 50) is None


def test_window_percentiles_pool_the_requests_of_every_second():
    m = Measurements()
    for _ in range(99):
        m.read(0.5, 1.0, ok=True)
    m.read(1.5, 1000.0, ok=True)
    m.close_second(0, {})
    m.close_second(1, {})
    # second 1 alone has p99 = 1000 ms; averaging per-second p99s would give ~500 ms
    assert m.frame(1)["read.p99_ms"] == 1000.0
    assert m.observe("read.p99_ms", 0, 2) == 1.0
    assert m.observe("read.p50_ms", 0, 2) == 1.0


def test_rates_throughput_and_sums_over_a_window():
    m = Measurements()
    m.read(0.1, 5, ok=True, stale=True)
    m.read(0.2, 5, ok=True)
    m.read(1.2, 5, ok=False)
    m.write(1.3, 9, ok=True)
    m.count(1.4, "cache.hits", 3)
    m.count(1.4, "cache.misses")
    m.count(0.9, "msg.published", 2)
    m.lose(1.9, "broker down")
    m.close_second(0, {"queue.ready": 4, "queue.unacked": 1, "staleness.max_s": 0.2})
    m.close_second(1, {"queue.ready": 0, "queue.unacked": 2, "staleness.max_s": 1.5})
    assert m.observe("read.error_rate", 0, 2) == pytest.approx(1 / 3)
    assert m.observe("read.stale_rate", 0, 2) == 0.5
    assert m.observe("read.throughput", 0, 2) == 1.0
    assert m.observe("write.throughput", 0, 2) == 0.5
    assert m.observe("cache.hit_rate", 0, 2) == 0.75
    assert m.observe("msg.published", 0, 2) == 2
    assert m.observe("msg.lost", 0, 2) == 1 and m.lost_by_cause == {"broker down": 1}
    assert m.observe("queue.depth_max", 0, 2) == 5
    assert m.observe("queue.depth_last", 0, 2) == 2
    assert m.observe("staleness.max_s", 0, 1) == 0.2
    assert m.observe("write.error_rate", 0, 1) is None  # no write finished in [0, 1)


def test_only_closed_seconds_are_frames_and_frames_carry_every_catalogue_metric():
    m = Measurements()
    m.read(0.5, 2, ok=True)
    m.read(1.5, 2, ok=True)
    m.close_second(0, {"queue.ready": 0})
    frames = m.frames()
    assert [f["t"] for f in frames] == [0]
    assert set(frames[0]) == {"t", *FRAME_METRICS}
    assert m.observe("read.throughput", 0, 10) == 1.0  # the open second is not counted yet


def test_an_expectation_with_nothing_measured_fails():
    m = Measurements()
    m.close_second(0, {})
    verdict = check(Expectation("sync", "read.error_rate", "below", 0.1), m, 1)
    assert verdict.observed is None and not verdict.passed


@pytest.mark.parametrize("comparison,bound,passed", [
    ("above", 0.5, False), ("at_least", 0.5, True), ("at_most", 0.5, True), ("below", 0.5, False)])
def test_comparisons_are_strict_or_inclusive_as_named(comparison, bound, passed):
    m = Measurements()
    m.read(0.1, 1, ok=True)
    m.read(0.2, 1, ok=False)
    m.close_second(0, {})
    assert check(Expectation("v", "read.error_rate", comparison, bound), m, 1).passed is passed


@pytest.mark.parametrize("table", [
    {"at": 1.0, "do": "kill", "target": "user"},
    {"at": 2.0, "do": "restart", "target": "blog", "down_s": 3.0},
    {"at": 0.0, "do": "latency", "target": "user", "ms": 2000.0, "jitter_ms": 100.0},
    {"at": 4.0, "do": "errors", "target": "cache-worker", "rate": 0.25, "variant": "queue"},
    {"at": 5.0, "do": "load", "reads_per_s": 200.0},
    {"at": 6.0, "do": "set", "key": "consumer.ack", "value": "auto"},
    {"at": 7.0, "do": "poison", "count": 3},
])
def test_an_action_reads_back_from_its_table(table):
    action = parse_command(table, "t")
    assert parse_command(command_to_table(action), "t") == action
    assert action.describe()


@pytest.mark.parametrize(("facts", "word"), [
    ({"down": True, "busy": 8, "workers": 8, "waiting": 3}, "down"),
    ({"down": False, "hung": True}, "hung"),
    ({"down": False, "busy": 8, "workers": 8, "waiting": 3, "degraded": True}, "saturated"),
    ({"down": False, "busy": 8, "workers": 8, "waiting": 0}, "up"),
    ({"down": False, "busy": 2, "workers": 8, "degraded": True}, "slow"),
])
def test_the_diagram_names_a_parts_health_the_same_way_for_both_engines(facts, word):
    assert health(**facts) == word
