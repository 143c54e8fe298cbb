"""The wait before a retry: exponential backoff with optional full jitter, the same on both engines."""

from __future__ import annotations

import random

MAX_BACKOFF_S = 300.0
"""No single wait is longer than this, however many retries and however large the base."""


def retry_backoff_s(attempt: int, backoff_ms: float, jitter: bool, rng: random.Random) -> float:
    """The wait before retry number `attempt` (1, 2, ...): `backoff_ms` · 2^(attempt−1), at most MAX_BACKOFF_S;
    with full jitter, a uniform random part of it."""
    ceiling_s = min(MAX_BACKOFF_S, backoff_ms / 1000.0 * 2.0 ** min(attempt - 1, 64))
    return rng.uniform(0.0, ceiling_s) if jitter else ceiling_s
