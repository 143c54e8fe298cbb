"""Arrivals drawn in batches are the arrivals one expovariate per gap gives, across a rate change."""

from __future__ import annotations

import random
from types import SimpleNamespace

import pytest

from sandbox.sim.clock import Clock
from sandbox.sim.load import _Arrivals


def test_batched_gaps_are_expovariate_gaps_in_order_even_across_a_rate_change():
    clock = Clock()
    rate = {"per_s": 5.0}
    arrived: list[float] = []
    arrivals = _Arrivals(SimpleNamespace(env=clock), 7, "reads", lambda: rate["per_s"],  # type: ignore[arg-type]
                         lambda: arrived.append(clock.now))
    clock.run_to(100.0)
    rate["per_s"] = 20.0
    arrivals.restart()
    clock.run_to(130.0)

    rng = random.Random("7:reads")
    expected: list[float] = []
    t = rng.expovariate(5.0)
    while t < 100.0:
        expected.append(t)
        t += rng.expovariate(5.0)
    t = 100.0 + rng.expovariate(20.0)  # the gap pending at the change is dropped; one is drawn at the new rate
    while t < 130.0:
        expected.append(t)
        t += rng.expovariate(20.0)
    assert len(arrived) > 2 * _Arrivals.BATCH
    assert arrived == pytest.approx(expected, abs=1e-9)
