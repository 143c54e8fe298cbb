"""A Hystrix-style circuit breaker: closed, open, half-open."""

from __future__ import annotations

from collections import deque


class CircuitBreaker:
    """Opens when enough calls in the rolling window failed; after `open_s` lets one trial through."""

    def __init__(self, min_calls: int, error_rate: float, open_s: float, window_s: float):
        self.min_calls = min_calls
        self.error_rate = error_rate
        self.open_s = open_s
        self.window_s = window_s
        self.state = "closed"
        self._calls: deque[tuple[float, bool]] = deque()
        self._failures = 0
        self._opened_at = 0.0
        self._trial_out = False

    def allow(self, now: float) -> bool:
        """May a call go out now? An open breaker fails fast."""
        if self.state == "closed":
            return True
        if self.state == "open":
            if now - self._opened_at < self.open_s:
                return False
            self.state = "half-open"
            self._trial_out = False
        if self._trial_out:
            return False
        self._trial_out = True
        return True

    def record(self, now: float, ok: bool) -> None:
        if self.state == "half-open":
            self._trial_out = False
            if ok:
                self.state = "closed"
                self._calls.clear()
                self._failures = 0
            else:
                self._open(now)
            return
        if self.state == "open":
            return
        calls = self._calls
        calls.append((now, ok))
        if not ok:
            self._failures += 1
        horizon = now - self.window_s
        while calls and calls[0][0] < horizon:
            if not calls.popleft()[1]:
                self._failures -= 1
        if len(calls) >= self.min_calls and self._failures / len(calls) >= self.error_rate:
            self._open(now)

    def _open(self, now: float) -> None:
        self.state = "open"
        self._opened_at = now
        self._calls.clear()
        self._failures = 0
