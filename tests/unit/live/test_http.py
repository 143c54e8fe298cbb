"""Service-to-service calls: backoff with full jitter, retries on failures only, the circuit breaker."""

from __future__ import annotations

import random

import httpx
import pytest

from sandbox.live.services.http import Caller, CallFailed, http_timeout
from sandbox.model.backoff import retry_backoff_s
from sandbox.model.knobs import resolve


def test_backoff_doubles_without_jitter():
    assert [retry_backoff_s(n, 100.0, False, random.Random(0)) for n in (1, 2, 3, 4)] == [0.1, 0.2, 0.4, 0.8]


def test_full_jitter_draws_between_zero_and_the_exponential_ceiling():
    rng = random.Random(1)
    draws = [retry_backoff_s(3, 100.0, jitter=True, rng=rng) for _ in range(500)]
    assert all(0.0 <= d <= 0.4 for d in draws)
    assert min(draws) < 0.05 and max(draws) > 0.35


def test_zero_timeout_means_wait_forever():
    assert http_timeout(0).read is None
    assert http_timeout(1.5).connect == 1.5 == http_timeout(1.5).pool


class Clock:
    def __init__(self):
        self.now = 0.0
        self.slept: list[float] = []

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


def caller(handler, clock: Clock | None = None, **knobs) -> tuple[Caller, list[httpx.Request]]:
    seen: list[httpx.Request] = []

    def record(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return handler(request)

    clock = clock or Clock()
    client = httpx.Client(transport=httpx.MockTransport(record))
    typed = resolve(knobs)
    return Caller(client, typed.http, typed.breaker, rng=random.Random(1), clock=lambda: clock.now,
                  sleep=clock.sleep), seen


def test_a_2xx_answer_is_returned_after_one_attempt():
    call, seen = caller(lambda r: httpx.Response(200, json={"id": 1, "name": "Ada"}), **{"http.retries": 3})
    assert call.call("user", "GET", "http://user/api/v1/user/1").json()["name"] == "Ada"
    assert len(seen) == 1


def test_failures_are_retried_with_backoff_then_reported():
    clock = Clock()
    call, seen = caller(lambda r: httpx.Response(503), clock, **{"http.retries": 2, "http.jitter": False})
    with pytest.raises(CallFailed, match="user: answered 503 \\(after 2 retries\\)"):
        call.call("user", "GET", "http://user/x")
    assert len(seen) == 3
    assert clock.slept == [0.1, 0.2]
    assert (call.calls, call.failures) == (3, 3)


def test_a_refused_connection_is_a_failure_too():
    def refuse(request):
        raise httpx.ConnectError("connection refused", request=request)

    call, seen = caller(refuse, **{"http.retries": 1})
    with pytest.raises(CallFailed, match="no answer \\(ConnectError"):
        call.call("user", "GET", "http://user/x")
    assert len(seen) == 2


def test_a_4xx_is_not_retried():
    call, seen = caller(lambda r: httpx.Response(404), **{"http.retries": 3})
    with pytest.raises(CallFailed, match="answered 404"):
        call.call("user", "GET", "http://user/x")
    assert len(seen) == 1


def test_the_breaker_opens_fails_fast_then_lets_one_trial_through():
    clock = Clock()
    healthy = {"ok": False}
    call, seen = caller(lambda r: httpx.Response(200 if healthy["ok"] else 500), clock,
                        **{"http.breaker": True, "breaker.min_calls": 4, "breaker.error_rate": 0.5,
                           "breaker.open_s": 5.0})
    for _ in range(4):
        with pytest.raises(CallFailed, match="answered 500"):
            call.call("user", "GET", "http://user/x")
    assert call.breakers["user"].state == "open"
    with pytest.raises(CallFailed, match="circuit breaker open"):
        call.call("user", "GET", "http://user/x")
    assert len(seen) == 4 and call.short_circuited == 1
    clock.now += 5.0
    healthy["ok"] = True
    assert call.call("user", "GET", "http://user/x").status_code == 200
    assert call.breakers["user"].state == "closed"
