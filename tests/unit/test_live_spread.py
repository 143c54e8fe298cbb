"""bench.live_spread's verdict on a bound: how many spreads it sits from the nearest reading."""

from __future__ import annotations

from bench.live_spread import margin
from sandbox.model.expectations import Expectation


def expect(comparison: str, bound: float) -> Expectation:
    return Expectation("v", "read.stale_rate", comparison, bound)


def test_a_bound_two_spreads_from_the_nearest_reading_is_ok_and_closer_is_an_edge():
    spreads, word = margin(expect("below", 0.1), [0.02, 0.03, 0.04])
    assert round(spreads, 6) == 3.0 and word == "ok"
    assert margin(expect("below", 0.05), [0.02, 0.03, 0.04])[1] == "EDGE"
    assert margin(expect("above", 0.0), [0.02, 0.03, 0.04])[1] == "EDGE"
    assert margin(expect("at_least", 5), [5, 5, 5]) == (float("inf"), "ok")


def test_a_reading_on_the_wrong_side_of_the_bound_fails():
    assert margin(expect("at_most", 15), [15, 15, 18])[1] == "FAILED"
    assert margin(expect("below", 0.04), [0.02, 0.04])[1] == "FAILED"
    assert margin(expect("above", 0.02), [0.02, 0.04])[1] == "FAILED"
    assert margin(expect("at_least", 0.02), [0.02, 0.04])[1] == "EDGE"
