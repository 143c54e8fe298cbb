"""Random scenario documents: the loader accepts them or raises ScenarioError — nothing else."""

from __future__ import annotations

import contextlib

from hypothesis import given, settings
from hypothesis import strategies as st

from sandbox.model.commands import TARGETS, VERBS
from sandbox.model.errors import ScenarioError
from sandbox.model.knobs import KNOBS
from sandbox.model.metrics import WINDOW_METRICS
from sandbox.model.scenario import Scenario, parse_scenario, parse_scenario_text

scalars = st.one_of(
    st.none(), st.booleans(), st.integers(-10, 10**6), st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=8), st.sampled_from(["manual", "auto", "drop", "outbox", "sync", "queue", "user"]),
)
values = st.recursive(scalars, lambda inner: st.lists(inner, max_size=3) | st.dictionaries(
    st.text(max_size=6), inner, max_size=3), max_leaves=6)
known_fields = st.sampled_from([
    "at", "do", "target", "variant", "down_s", "ms", "jitter_ms", "rate", "reads_per_s", "writes_per_s",
    "key", "value", "count", "metric", "during", "above", "below", "at_least", "at_most", "why",
])
entries = st.dictionaries(
    known_fields,
    st.one_of(values, st.sampled_from([*VERBS, *TARGETS, *KNOBS, *WINDOW_METRICS, "sync", "queue"]),
              st.lists(st.floats(-5, 100), min_size=2, max_size=2)),
    max_size=6,
)
documents = st.fixed_dictionaries(
    {"title": st.one_of(st.text(max_size=5), values), "duration": st.one_of(st.floats(-1, 200), values)},
    optional={
        "id": st.one_of(st.from_regex(r"[a-z][a-z0-9-]{0,6}", fullmatch=True), values),
        "seed": values,
        "summary": values,
        "load": st.dictionaries(st.sampled_from(["reads_per_s", "writes_per_s", "x"]), values, max_size=2),
        "knobs": st.dictionaries(st.sampled_from([*KNOBS, "nope"]), values, max_size=3),
        "variants": st.dictionaries(
            st.sampled_from(["sync", "queue", "a"]),
            st.dictionaries(st.sampled_from(["architecture", "consumer.ack", "http.retries"]), values,
                            max_size=3), max_size=4),
        "timeline": st.one_of(st.lists(entries, max_size=4), values),
        "expect": st.one_of(st.lists(entries, max_size=4), values),
        "extra": values,
    },
)


@settings(max_examples=400, deadline=None)
@given(documents)
def test_the_loader_accepts_or_explains_every_document(doc):
    try:
        loaded = parse_scenario(doc, "fuzz.toml")
    except ScenarioError as exc:
        assert str(exc).startswith("fuzz.toml: ")
    else:
        assert isinstance(loaded, Scenario)
        assert loaded.duration_s > 0


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=200))
def test_any_text_loads_or_is_a_scenario_error(text):
    with contextlib.suppress(ScenarioError):
        parse_scenario_text(text, "fuzz.toml")
