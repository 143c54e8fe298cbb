"""The scenario format is a contract: valid files load, bad ones get one clear message."""

from __future__ import annotations

import pytest

from sandbox.catalog import load_scenario
from sandbox.model.errors import ScenarioError
from sandbox.model.knobs import DEFAULTS
from sandbox.model.scenario import parse_scenario, parse_scenario_text, scenario_to_document
from tests.helpers import scenario

FORMAT_EXAMPLE = '''
id = "user-down"
title = "The User Service goes down"
summary = "Reads in the sync variant need the User Service; the queue variant does not."
duration = 60
seed = 7

[load]
reads_per_s = 20
writes_per_s = 1

[knobs]
http.timeout_s = 5

[variants.sync]
architecture = "sync"

[variants.queue]
architecture = "queue"
consumer.ack = "manual"

[[timeline]]
at = 10
do = "kill"
target = "user"

[[timeline]]
at = 30
do = "revive"
target = "user"

[[expect]]
variant = "sync"
metric = "read.error_rate"
during = [12, 30]
above = 0.5
why = "every cache miss needs the User Service"

[[expect]]
variant = "queue"
metric = "read.error_rate"
during = [12, 30]
below = 0.01
'''


def test_the_design_example_loads_with_every_field():
    s = parse_scenario_text(FORMAT_EXAMPLE, "design.toml")
    assert (s.id, s.duration_s, s.seed) == ("user-down", 60.0, 7)
    assert s.knobs == {"http.timeout_s": 5.0, "load.reads_per_s": 20.0, "load.writes_per_s": 1.0}
    assert [(v.name, v.architecture, v.knobs) for v in s.variants] == [
        ("sync", "sync", {}), ("queue", "queue", {"consumer.ack": "manual"})]
    assert [(a.at, a.verb, a.target) for a in s.timeline] == [(10, "kill", "user"), (30, "revive", "user")]
    first = s.expectations[0]
    assert (first.variant, first.metric, first.comparison, first.bound, first.during) == (
        "sync", "read.error_rate", "above", 0.5, (12.0, 30.0))
    assert s.expectations[1].why == ""


def test_defaults_are_sync_and_queue_seed_one_and_catalogue_knobs():
    s = scenario(duration=10)
    assert [(v.name, v.architecture) for v in s.variants] == [("sync", "sync"), ("queue", "queue")]
    assert s.seed == 1
    assert s.knobs_for(s.variants[0]).to_flat() == DEFAULTS


def test_variant_overrides_apply_to_that_variant_only():
    s = scenario(knobs={"http": {"retries": 2}},
                 variants={"a": {"architecture": "queue", "consumer": {"prefetch": 1}},
                           "b": {"architecture": "queue"}})
    a, b = (s.knobs_for(v) for v in s.variants)
    assert a.consumer.prefetch == 1 and b.consumer.prefetch == DEFAULTS["consumer.prefetch"]
    assert a.http.retries == b.http.retries == 2


def test_knobs_at_start_include_the_sets_at_0_s_that_reach_the_variant():
    s = scenario(variants={"a": {"architecture": "queue"}, "b": {"architecture": "queue"}},
                 timeline=[{"at": 0, "do": "set", "key": "consumer.prefetch", "value": 1, "variant": "a"},
                           {"at": 0, "do": "set", "key": "http.retries", "value": 2},
                           {"at": 5, "do": "set", "key": "consumer.work_ms", "value": 90.0}])
    a, b = (s.knobs_at_start(v) for v in s.variants)
    assert (a.consumer.prefetch, b.consumer.prefetch) == (1, DEFAULTS["consumer.prefetch"])
    assert a.http.retries == b.http.retries == 2
    assert a.consumer.work_ms == DEFAULTS["consumer.work_ms"], "a later set is not in force at the start"


def test_the_id_defaults_to_the_file_name(tmp_path):
    path = tmp_path / "my-run.toml"
    path.write_text('title = "x"\nduration = 5\n')
    assert load_scenario(path).id == "my-run"


def test_a_scenario_survives_a_round_trip_through_its_document():
    s = parse_scenario_text(FORMAT_EXAMPLE, "design.toml")
    again = parse_scenario(scenario_to_document(s), "again")
    assert again == parse_scenario(scenario_to_document(again), "again")
    assert (again.timeline, again.expectations, again.variants, again.knobs) == (
        s.timeline, s.expectations, s.variants, s.knobs)


BAD = [
    ('title = "x"\nduration = 10\ncolour = "red"\n', "colour", "unknown field"),
    ('title = "x"\n', "duration", "is required"),
    ('title = "x"\nduration = -5\n', "duration", "out of range; use 1 to 7,200 s"),
    ('title = "x"\nduration = "long"\n', "duration", "is not a number"),
    ('title = "x"\nduration = 10\n[load]\nreads_per_s = -1\n', "load.reads_per_s", "use 0 to 2,000 per s"),
    ('title = "x"\nduration = 10\n[load]\nreads_per_s = "lots"\n', "load.reads_per_s", "is not a number"),
    ('title = "x"\nduration = 10\n[load]\nbursts = 3\n', "load.bursts", "unknown field"),
    ('title = "x"\nduration = 10\n[knobs]\nhttp.timeout = 5\n', "knobs.http.timeout", "unknown knob"),
    ('title = "x"\nduration = 10\n[knobs]\nconsumer.ack = "maybe"\n', "knobs.consumer.ack", "'manual', 'auto'"),
    ('title = "x"\nduration = 10\n[variants.a]\narchitecture = "grpc"\n', "variants.a.architecture",
     "'grpc' is not allowed"),
    ('title = "x"\nduration = 10\n[[timeline]]\nat = 1\ndo = "explode"\ntarget = "user"\n', "timeline[0].do",
     "not a verb"),
    ('title = "x"\nduration = 10\n[[timeline]]\nat = 1\ndo = "kill"\ntarget = "db"\n', "timeline[0].target",
     "not a target"),
    ('title = "x"\nduration = 10\n[[timeline]]\nat = 11\ndo = "kill"\ntarget = "user"\n', "timeline[0].at",
     "outside the run"),
    ('title = "x"\nduration = 10\n[[timeline]]\ndo = "kill"\ntarget = "user"\n', "timeline[0].at", "is required"),
    ('title = "x"\nduration = 10\n[[timeline]]\nat = 1\ndo = "restart"\ntarget = "user"\n', "timeline[0].down_s",
     "needs `down_s`"),
    ('title = "x"\nduration = 10\n[[timeline]]\nat = 1\ndo = "errors"\ntarget = "user"\nrate = 2\n',
     "timeline[0].rate", "out of range; use 0 to 1"),
    ('title = "x"\nduration = 10\n[[timeline]]\nat = 1\ndo = "latency"\ntarget = "user"\nms = -3\n',
     "timeline[0].ms", "out of range; use 0 to 60,000 ms"),
    ('title = "x"\nduration = 10\n[[timeline]]\nat = 1\ndo = "set"\nkey = "nope"\nvalue = 1\n',
     "timeline[0].key", "unknown knob"),
    ('title = "x"\nduration = 10\n[[timeline]]\nat = 1\ndo = "kill"\ntarget = "user"\nvariant = "zz"\n',
     "timeline[0].variant", "not a variant"),
    ('title = "x"\nduration = 10\n[[expect]]\nvariant = "sync"\nmetric = "read.happiness"\nabove = 1\n',
     "expect[0].metric", "not a metric"),
    ('title = "x"\nduration = 10\n[[expect]]\nvariant = "sync"\nmetric = "read.error_rate"\n', "expect[0]",
     "exactly one of"),
    ('title = "x"\nduration = 10\n[[expect]]\nvariant = "sync"\nmetric = "read.error_rate"\nbelow = 1\n'
     'during = [8, 2]\n', "expect[0].during", "start < end"),
    ('title = "x"\nduration = 10\n[[expect]]\nvariant = "sync"\nmetric = "read.error_rate"\nbelow = 1\n'
     'during = [2, 20]\n', "expect[0].during", "≤ duration"),
    ('title = "x"\nduration = 10\n[[expect]]\nvariant = "q"\nmetric = "read.error_rate"\nbelow = 1\n',
     "expect[0].variant", "not a variant"),
    ('title = "x"\nduration = 10\nid = "Has Spaces"\n', "id", "lower-case"),
    ('title = "x"\nduration = 10\nseed = -1\n', "seed", "out of range; use 0 to 2,147,483,647"),
    ('title = "x"\nduration = [10\n', "TOML", "not valid TOML"),
]


@pytest.mark.parametrize(("text", "field", "problem"), BAD, ids=[b[1] + ":" + b[2] for b in BAD])
def test_a_bad_file_names_the_file_the_field_and_what_is_allowed(text, field, problem):
    with pytest.raises(ScenarioError) as caught:
        parse_scenario_text(text, "bad.toml")
    assert caught.value.source == "bad.toml"
    assert caught.value.field == field
    assert problem in caught.value.problem
    assert str(caught.value).startswith(f"bad.toml: {field}: ")


def test_a_missing_file_is_a_scenario_error(tmp_path):
    with pytest.raises(ScenarioError, match="no such file"):
        load_scenario(tmp_path / "absent.toml")


def test_a_shorter_live_duration_scales_the_timeline_and_the_windows():
    s = parse_scenario_text(FORMAT_EXAMPLE + "\n[live]\nduration = 30\n", "design.toml")
    assert s.live_duration_s == 30 and s.duration_s == 60
    live = s.on_live_clock()
    assert live.duration_s == 30 and live.live_duration_s is None
    assert [a.at for a in live.timeline] == [5, 15]
    assert live.expectations[0].during == (6, 15)
    assert parse_scenario(scenario_to_document(s), "again").live_duration_s == 30
    assert scenario(duration=10).on_live_clock() == scenario(duration=10)


@pytest.mark.parametrize(("live", "problem"), [("duration = 90", "longer than the run"),
                                               ("duration = -1", "out of range; use 1 to 7,200 s"),
                                               ("speed = 2", "unknown field")])
def test_a_bad_live_table_is_named(live, problem):
    with pytest.raises(ScenarioError, match=problem) as caught:
        parse_scenario_text(f'title = "x"\nduration = 60\n[live]\n{live}\n', "bad.toml")
    assert caught.value.field.startswith("live.")
