"""One draw of a service time, in the shape `services.distribution` names: the same on both engines."""

from __future__ import annotations

import math
import random


def service_time_s(mean_ms: float, shape: str, lognormal_sigma: float, rng: random.Random) -> float:
    """A service time with mean `mean_ms`, in seconds: exponential, fixed, or lognormal with that sigma."""
    mean_s = mean_ms / 1000.0
    if mean_s <= 0:
        return 0.0
    if shape == "exponential":
        return rng.expovariate(1.0 / mean_s)
    if shape == "fixed":
        return mean_s
    return rng.lognormvariate(math.log(mean_s) - lognormal_sigma * lognormal_sigma / 2, lognormal_sigma)
