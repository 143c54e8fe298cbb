"""The challenge format: a valid file loads, each mistake is one message naming file and field; designs are
checked against the constraints before they run, and the judge refuses or runs them."""

from __future__ import annotations

import pytest

from sandbox.model.errors import ScenarioError
from sandbox.teach.challenge_run import attempt
from sandbox.teach.challenges import VARIANT, ChallengeError, Design, parse_challenge_text

CHALLENGE = '''
id = "demo"
title = "Keep reads up"
lesson = "cascade"
brief = "The User Service dies."
duration = 30
seed = 3
watch = ["read.errors"]
hints = ["Who calls whom?", "Take the call off the read path."]

[load]
reads_per_s = 20
writes_per_s = 1

[knobs]
http.rtt_ms = 2.0

[start]
architecture = "sync"
http.retries = 1

[constraints]
architectures = ["sync", "queue"]
knobs = ["http.retries", "consumer.count"]
at_most = { "consumer.count" = 2 }

[solution]
architecture = "queue"
why = "The blog keeps its own names."

[[timeline]]
at = 5
do = "kill"
target = "user"

[[expect]]
metric = "read.error_rate"
during = [6, 30]
at_most = 0.01
why = "reads survive"
'''


def error_of(text: str) -> str:
    with pytest.raises(ChallengeError) as info:
        parse_challenge_text(text, "challenges/01-demo.toml")
    return str(info.value)


def test_a_valid_challenge_loads_as_one_variant_scenario():
    c = parse_challenge_text(CHALLENGE, "demo.toml")
    assert (c.id, c.title, c.lesson_id, c.watch, c.hints) == (
        "demo", "Keep reads up", "cascade", ("read.errors",), ("Who calls whom?", "Take the call off the read path."))
    assert c.start == Design("sync", {"http.retries": 1}) and c.solution == Design("queue", {})
    assert c.solution_why == "The blog keeps its own names."
    s = c.scenario
    assert (s.duration_s, s.seed, [v.name for v in s.variants]) == (30, 3, [VARIANT])
    assert s.knobs["load.reads_per_s"] == 20 and s.knobs["http.rtt_ms"] == 2.0
    assert [(e.variant, e.metric, e.during) for e in s.expectations] == [(VARIANT, "read.error_rate", (6, 30))]
    assert [(a.verb, a.at) for a in s.timeline] == [("kill", 5)]


def test_a_design_becomes_the_runs_one_variant_over_the_fixed_knobs():
    c = parse_challenge_text(CHALLENGE, "demo.toml")
    design = c.with_changes("queue", {"consumer.count": 2})
    assert design == Design("queue", {"http.retries": 1, "consumer.count": 2})
    [variant] = c.scenario_for(design).variants
    assert (variant.name, variant.architecture, variant.knobs) == (VARIANT, "queue", dict(design.knobs))
    knobs = c.knobs_of(design)
    assert (knobs.consumer.count, knobs.http.retries, knobs.http.rtt_ms) == (2, 1, 2.0)


def test_typed_values_are_checked_against_the_knob():
    c = parse_challenge_text(CHALLENGE, "demo.toml")
    with pytest.raises(ScenarioError, match=r"consumer\.count: 0 is out of range; use 1 to 64 consumers"):
        c.with_changes("queue", {"consumer.count": 0})


def test_every_number_a_learner_types_has_its_range():
    c = parse_challenge_text(CHALLENGE, "demo.toml")
    assert str(c.constraints.input_range("consumer.count")) == "1 to 2 consumers"
    assert str(c.constraints.input_range("http.retries")) == "0 to 10 retries"
    assert c.constraints.describe() == ["architecture: sync or queue", "http.retries: 0 to 10 retries",
                                        "consumer.count: 1 to 2 consumers"]


def test_violations_name_what_breaks_each_constraint():
    c = parse_challenge_text(CHALLENGE, "demo.toml")
    assert c.violations(c.start) == [] and c.violations(c.solution) == []
    assert c.violations(Design("sync", {"http.retries": 1, "http.rtt_ms": 2.0})) == []  # unchanged is fine
    assert c.violations(Design("sync", {"http.timeout_s": 1.0})) == [
        "http.timeout_s is not yours to change here (it stays 5.0)"]
    assert c.violations(Design("queue", {"consumer.count": 3})) == ["consumer.count = 3 is more than the 2 allowed"]


def test_a_design_rabbitmq_cannot_run_or_the_budget_forbids_is_refused_before_it_runs():
    text = (CHALLENGE.replace('knobs = ["http.retries", "consumer.count"]',
                              'knobs = ["http.retries", "consumer.count", "consumer.delivery_limit", "client.retries"]')
            .replace("duration = 30", "duration = 600").replace("writes_per_s = 1", "writes_per_s = 50")
            .replace("during = [6, 30]", "during = [6, 600]"))
    c = parse_challenge_text(text, "demo.toml")
    limited = Design("queue", {"consumer.delivery_limit": 5})
    assert c.violations(limited) == ['consumer.delivery_limit: a delivery limit needs broker.queue_type = "quorum" '
                                     "(RabbitMQ's classic queues have none)"]
    assert attempt(c, limited).result is None
    retried = c.violations(Design("sync", {"client.retries": 10}))
    assert len(retried) == 1 and "the most one run may is 300,000" in retried[0], "every write may be tried 11 times"


def test_a_refused_design_never_runs_and_an_allowed_one_is_judged():
    c = parse_challenge_text(CHALLENGE, "demo.toml")
    refused = attempt(c, Design("queue", {"consumer.count": 5}))
    assert refused.result is None and not refused.passed and refused.held == 0
    assert refused.violations == ("consumer.count = 5 is more than the 2 allowed",)
    start, solution = attempt(c, c.start), attempt(c, c.solution)
    assert not start.passed and start.result.verdicts[0].observed > 0.5
    assert solution.passed and solution.held == 1 and solution.violations == ()
    assert attempt(c, c.start, seed=3).result.engine.frames() == start.result.engine.frames()


@pytest.mark.parametrize(("edit", "message"), [
    (('title = "Keep reads up"', 'title = "Keep reads up"\ncolour = "red"'),
     "challenges/01-demo.toml: colour: unknown field; allowed: id, title,"),
    (('seed = 3\n', 'seed = 3\nwatch = ["read.errs"]\n'), "not valid TOML"),
    (('watch = ["read.errors"]', 'watch = ["read.error_rate"]'),
     "challenges/01-demo.toml: watch[0]: 'read.error_rate' is not a per-second metric"),
    (('hints = ["Who calls whom?", "Take the call off the read path."]', 'hints = ["Only one."]'),
     "challenges/01-demo.toml: hints: must be a list of at least 2 strings"),
    (('lesson = "cascade"', 'lesson = "nope"'), "challenges/01-demo.toml: lesson: 'nope' is not a lesson; use one of"),
    (('[start]\narchitecture = "sync"', '[start]\narchitecture = "rpc"'),
     "challenges/01-demo.toml: start.architecture: 'rpc' is not allowed; use one of sync, queue"),
    (('http.retries = 1\n', 'http.retries = 11\n'),
     "challenges/01-demo.toml: start.http.retries: 11 is out of range; use 0 to 10 retries"),
    (('http.retries = 1\n', 'load.reads_per_s = 5\n'),
     "challenges/01-demo.toml: start.load.reads_per_s: the load is the challenge's, not a design's: use [load]"),
    (('knobs = ["http.retries", "consumer.count"]', 'knobs = ["http.retries", "consumer.kount"]'),
     "challenges/01-demo.toml: constraints.knobs[1]: unknown knob 'consumer.kount'"),
    (('at_most = { "consumer.count" = 2 }', 'at_most = { "consumer.prefetch" = 2 }'),
     "challenges/01-demo.toml: constraints.at_most.consumer.prefetch: bounds only a knob listed in constraints.knobs"),
    (('knobs = ["http.retries", "consumer.count"]', 'knobs = ["http.retries", "consumer.count", "http.breaker"]\n'
                                                    'at_least = { "http.breaker" = 1 }'),
     "challenges/01-demo.toml: constraints.at_least.http.breaker: http.breaker is not a number"),
    (('architectures = ["sync", "queue"]\nknobs = ["http.retries", "consumer.count"]\n'
      'at_most = { "consumer.count" = 2 }', 'architectures = ["queue"]'),
     "challenges/01-demo.toml: constraints: leaves the learner nothing to change"),
    (('architectures = ["sync", "queue"]', 'architectures = ["queue"]'),
     "challenges/01-demo.toml: start: breaks the challenge's own constraints: the architecture must be queue, "
     "not sync"),
    (('[solution]\narchitecture = "queue"', '[solution]\narchitecture = "queue"\nconsumer.count = 4'),
     "challenges/01-demo.toml: solution: breaks the challenge's own constraints: consumer.count = 4 is more than"),
    (('why = "The blog keeps its own names."', ''), "challenges/01-demo.toml: solution.why"),
    (('[[expect]]\nmetric', '[[expect]]\nvariant = "sync"\nmetric'),
     "challenges/01-demo.toml: expect[0].variant: a challenge runs one design, the learner's; leave variant out"),
    (('metric = "read.error_rate"', 'metric = "read.errs"'),
     "challenges/01-demo.toml: expect[0].metric: 'read.errs' is not a metric"),
    (('[[timeline]]\nat = 5\ndo = "kill"\ntarget = "user"\n', ''),
     "challenges/01-demo.toml: timeline: a challenge needs something to break"),
])
def test_each_mistake_is_one_message_naming_file_and_field(edit, message):
    old, new = edit
    assert old in CHALLENGE
    assert message in error_of(CHALLENGE.replace(old, new, 1))


def test_a_missing_required_field_is_named():
    text = CHALLENGE.replace('brief = "The User Service dies."\n', "")
    assert error_of(text) == "challenges/01-demo.toml: brief: is required"


TEMPTING = '''
[[tempting]]
name = "retry harder"
why = "more retries look like more resilience"
architecture = "sync"
http.retries = 3
fails = "read.error_rate"
'''


def test_a_tempting_design_loads_with_the_goal_metric_that_catches_it():
    challenge = parse_challenge_text(CHALLENGE + TEMPTING, "challenges/01-demo.toml")
    (tempting,) = challenge.tempting
    assert (tempting.name, tempting.fails) == ("retry harder", "read.error_rate")
    assert tempting.design == Design("sync", {"http.retries": 3})


@pytest.mark.parametrize(("old", "new", "message"), [
    ('fails = "read.error_rate"', 'fails = "msg.lost"',
     "challenges/01-demo.toml: tempting[0].fails: 'msg.lost' is not the metric of one of the goal's expectations"),
    ('fails = "read.error_rate"\n', '', "challenges/01-demo.toml: tempting[0].fails"),
    ('http.retries = 3', 'http.retries = 30', "challenges/01-demo.toml: tempting[0].http.retries: 30 is out of range"),
])
def test_a_tempting_design_names_a_goal_metric_and_valid_knobs(old, new, message):
    assert message in error_of(CHALLENGE + TEMPTING.replace(old, new, 1))
