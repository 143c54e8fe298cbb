"""Numeric predictions rest on queueing theory: Little's law next to utilisation, and the working shown."""

from __future__ import annotations

import pytest

from sandbox.model.theory import backlog_after, littles_law_items, littles_law_rate_per_s, workers_needed
from sandbox.teach.estimates import EstimateError, parse_estimate


def test_littles_law_both_ways_round():
    assert littles_law_items(5, 0.3) == pytest.approx(1.5)  # 5 arrivals/s staying 0.3 s: 1.5 in the system
    assert littles_law_rate_per_s(8, 6) == pytest.approx(4 / 3)  # 8 workers held 6 s each take 1.33/s


def test_workers_needed_keeps_utilisation_below_one():
    assert workers_needed(5, 301) == 2  # 1.505 busy on average
    assert workers_needed(5, 200) == 2  # exactly 1.0 busy: one worker would be at 100%, which never catches up
    assert workers_needed(0, 300) == 1


def test_a_backlog_grows_only_while_arrivals_outrun_service():
    assert backlog_after(30, 20, 30) == 300
    assert backlog_after(3, 20, 30) == 0


@pytest.mark.parametrize(("table", "value", "words"), [
    ({"law": "utilisation", "arrivals_per_s": 200, "hold_ms": 5.1, "workers": 8}, 12.75,
     "utilisation = arrival rate × hold time ÷ workers = 200/s × 5.1 ms ÷ 8 = 13%"),
    ({"law": "littles_law", "arrivals_per_s": 5, "time_s": 0.3}, 1.5,
     "Little's law: in the system = arrival rate × time in it = 5/s × 0.3 s = 1.5"),
    ({"law": "arrival_rate", "items": 8, "time_s": 6}, 4 / 3,
     "Little's law turned round: arrival rate = in the system ÷ time in it = 8 ÷ 6 s = 1.33/s"),
    ({"law": "workers_needed", "arrivals_per_s": 5, "hold_ms": 301}, 2,
     "busy on average = 5/s × 301 ms = 1.5 workers, so at least 2 keep utilisation below 100%"),
    ({"law": "backlog", "arrivals_per_s": 1, "served_per_s": 0, "seconds": 30}, 30,
     "backlog = (arrivals − served) × time = (1 − 0)/s × 30 s = 30"),
])
def test_each_law_gives_its_value_and_its_working(table, value, words):
    estimate = parse_estimate(table)
    assert estimate.value() == pytest.approx(value)
    assert estimate.explain() == words


@pytest.mark.parametrize(("table", "field", "problem"), [
    ({"law": "magic"}, "law", "'magic' is not a law"),
    ({"law": "backlog", "arrivals_per_s": 1, "served_per_s": 0}, "seconds", "backlog needs seconds as a number"),
    ({"law": "backlog", "arrivals_per_s": 1, "served_per_s": 0, "seconds": 1, "workers": 2}, "workers",
     "not an input of backlog"),
    ({"law": "utilisation", "arrivals_per_s": 1, "hold_ms": 1, "workers": 1.5}, "workers", "whole number"),
    ({"law": "arrival_rate", "items": 1, "time_s": 0}, "time_s", "more than 0"),
    ({"law": "littles_law", "arrivals_per_s": -1, "time_s": 1}, "arrivals_per_s", "0 or more"),
])
def test_a_bad_estimate_names_its_field(table, field, problem):
    with pytest.raises(EstimateError, match=problem) as info:
        parse_estimate(table)
    assert info.value.field == field


def test_the_laws_that_need_reasoning_agree_with_erlang_c_and_the_spike_arithmetic():
    # M/M/2 at a = 1 (λ = 10/s, h = 100 ms): C = 1/3, W_q = C / (2μ − λ) = (1/3) / 10 s
    assert parse_estimate({"law": "wait_share", "arrivals_per_s": 10, "hold_ms": 100, "workers": 2}).value() == (
        pytest.approx(100 / 3))
    assert parse_estimate({"law": "mean_wait", "arrivals_per_s": 10, "hold_ms": 100, "workers": 2}).value() == (
        pytest.approx(1000 / 30))
    drain = parse_estimate({"law": "drain_time", "backlog": 100, "arrivals_per_s": 2, "hold_ms": 250, "workers": 3})
    assert drain.value() == pytest.approx(10.0)  # 100 ÷ (12 − 2)/s
    assert drain.explain() == ("drain time = backlog ÷ (cμ − λ) = 100 ÷ (3 × 1000/250 ms − 2)/s = 100 ÷ 10/s "
                               "= 10 s")
    peak = parse_estimate({"law": "spike_peak", "arrivals_per_s": 30, "hold_ms": 250, "workers": 3, "seconds": 5})
    assert peak.value() == pytest.approx(90.0)  # (30 − 12)/s × 5 s
    assert "(30 − 12)/s × 5 s = 90" in peak.explain()


@pytest.mark.parametrize(("table", "field"), [
    ({"law": "wait_share", "arrivals_per_s": 10, "hold_ms": 300, "workers": 2}, "arrivals_per_s"),  # 150%
    ({"law": "drain_time", "backlog": 10, "arrivals_per_s": 8, "hold_ms": 250, "workers": 2}, "arrivals_per_s"),
    ({"law": "mean_wait", "arrivals_per_s": 1, "hold_ms": 0, "workers": 2}, "hold_ms"),
    ({"law": "spike_peak", "arrivals_per_s": 30, "hold_ms": 250, "workers": 1.5, "seconds": 5}, "workers"),
])
def test_a_queueing_law_refuses_inputs_it_does_not_hold_for(table, field):
    with pytest.raises(EstimateError) as caught:
        parse_estimate(table)
    assert caught.value.field == field
