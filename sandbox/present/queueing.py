"""The queueing-theory line above each variant: what the knobs predict for its busiest pool, in words that agree with
the diagram — the pool it shows SATURATED first, and an offered load above capacity said as a multiple of it."""

from __future__ import annotations

from dataclasses import dataclass

from sandbox.model.status import VariantStatus
from sandbox.model.theory import PoolLoad, load_multiple


@dataclass(frozen=True)
class Hint:
    text: str
    tone: str
    detail: tuple[str, ...]


def pool_hint(loads: list[PoolLoad], status: VariantStatus, lines: dict[str, tuple[int, int]],
              window: str) -> Hint:
    """The queueing-theory line of a variant, agreeing with the diagram: the pool the diagram shows SATURATED (else
    the busiest by the estimate); an estimate of 1 or more as the multiple of the capacity the load asks for; and an
    estimate below 1 beside a SATURATED pool called what it is, with how its line (`lines`: {pool: (first, last)}
    over `window`) moved."""
    saturated = [load for load in loads if status.components[load.service].health == "saturated"]
    chosen = max(saturated or loads, key=lambda load: load.utilisation)
    rho = chosen.utilisation
    detail = tuple(load.explain() for load in loads)
    pool = f"the {chosen.service} pool"
    if rho >= 1:
        return Hint(f"queueing theory: the load asks {pool} for {load_multiple(rho)} the work it can do; "
                    "its line grows while this lasts", "bad", detail)
    if not saturated:
        return Hint(f"queueing theory: {pool} needs {rho:.0%} of its capacity", "warn" if rho >= 0.7 else "ok",
                    detail)
    first, last = lines.get(chosen.service, (0, 0))
    moved = (f"its line grew from {first:,} to {last:,} {window}, so its requests hold a worker longer than the "
             "knobs' mean times" if last > first
             else f"its line, left from earlier, went from {first:,} to {last:,} {window}")
    return Hint(f"queueing theory: the knobs' mean times put {pool} at {rho:.0%} of its capacity, yet it is "
                f"SATURATED: {moved}", "bad" if last > first else "warn", detail)
