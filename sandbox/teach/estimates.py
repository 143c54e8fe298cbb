"""What queueing theory says a numeric prediction should be: a law, its inputs, the value and the arithmetic.

A lesson step that asks for a number names the law behind it (`estimate = {law = "utilisation", ...}`); the
loader checks that the step's answer agrees with the law within its tolerance, and the page shows the working.
The arithmetic is `sandbox.model.theory`'s, so the lessons and the playground's hints use one formula.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from sandbox.model.theory import (
    PoolLoad,
    backlog_after,
    erlang_c,
    erlang_c_wait_s,
    littles_law_items,
    littles_law_rate_per_s,
    workers_needed,
)


def _g(value: float) -> str:
    return f"{value:,.3g}" if value < 1000 else f"{value:,.0f}"


@dataclass(frozen=True)
class Law:
    inputs: tuple[str, ...]
    compute: Callable[[Mapping[str, float]], float]
    words: Callable[[Mapping[str, float], float], str]


def _utilisation(i: Mapping[str, float]) -> float:
    return 100.0 * PoolLoad("", i["arrivals_per_s"], i["hold_ms"], int(i["workers"])).utilisation


def _capacity_per_s(i: Mapping[str, float]) -> float:
    return i["workers"] * 1000.0 / i["hold_ms"]


def _stable(i: Mapping[str, float]) -> bool:
    return i["arrivals_per_s"] < _capacity_per_s(i)


def _wait_share(i: Mapping[str, float]) -> float:
    return 100.0 * erlang_c(int(i["workers"]), i["arrivals_per_s"] * i["hold_ms"] / 1000.0)


def _mean_wait_ms(i: Mapping[str, float]) -> float:
    return 1000.0 * erlang_c_wait_s(int(i["workers"]), i["arrivals_per_s"], i["hold_ms"] / 1000.0)


def _drain_s(i: Mapping[str, float]) -> float:
    return i["backlog"] / (_capacity_per_s(i) - i["arrivals_per_s"])


def _load_words(i: Mapping[str, float]) -> str:
    a = i["arrivals_per_s"] * i["hold_ms"] / 1000.0
    return (f"offered load a = {_g(i['arrivals_per_s'])}/s × {_g(i['hold_ms'])} ms = {a:.3g} workers' worth, "
            f"{100 * a / i['workers']:.0f}% of {_g(i['workers'])}")


LAWS: dict[str, Law] = {
    "wait_share": Law(
        ("arrivals_per_s", "hold_ms", "workers"), _wait_share,
        lambda i, v: (f"Erlang C: {_load_words(i)}; the share of arrivals that find every worker busy and wait "
                      f"= C({_g(i['workers'])}, {i['arrivals_per_s'] * i['hold_ms'] / 1000:.3g}) = {v:.0f}%")),
    "mean_wait": Law(
        ("arrivals_per_s", "hold_ms", "workers"), _mean_wait_ms,
        lambda i, v: (f"Erlang C: {_load_words(i)}; mean wait W_q = C ÷ (cμ − λ) = "
                      f"{_wait_share(i) / 100:.3g} ÷ ({_capacity_per_s(i):.3g} − {_g(i['arrivals_per_s'])})/s "
                      f"= {v:,.0f} ms")),
    "drain_time": Law(
        ("backlog", "arrivals_per_s", "hold_ms", "workers"), _drain_s,
        lambda i, v: (f"drain time = backlog ÷ (cμ − λ) = {_g(i['backlog'])} ÷ ({_g(i['workers'])} × 1000/"
                      f"{_g(i['hold_ms'])} ms − {_g(i['arrivals_per_s'])})/s = {_g(i['backlog'])} ÷ "
                      f"{_capacity_per_s(i) - i['arrivals_per_s']:.3g}/s = {v:.3g} s")),
    "spike_peak": Law(
        ("arrivals_per_s", "hold_ms", "workers", "seconds"),
        lambda i: backlog_after(i["arrivals_per_s"], _capacity_per_s(i), i["seconds"]),
        lambda i, v: (f"peak depth = (λ − cμ) × spike = ({_g(i['arrivals_per_s'])} − {_g(i['workers'])} × 1000/"
                      f"{_g(i['hold_ms'])} ms)/s × {_g(i['seconds'])} s = ({_g(i['arrivals_per_s'])} − "
                      f"{_capacity_per_s(i):.3g})/s × {_g(i['seconds'])} s = {v:.3g}")),
    "utilisation": Law(
        ("arrivals_per_s", "hold_ms", "workers"), _utilisation,
        lambda i, v: (f"utilisation = arrival rate × hold time ÷ workers = {_g(i['arrivals_per_s'])}/s × "
                      f"{_g(i['hold_ms'])} ms ÷ {_g(i['workers'])} = {v:.0f}%")),
    "littles_law": Law(
        ("arrivals_per_s", "time_s"), lambda i: littles_law_items(i["arrivals_per_s"], i["time_s"]),
        lambda i, v: (f"Little's law: in the system = arrival rate × time in it = {_g(i['arrivals_per_s'])}/s × "
                      f"{_g(i['time_s'])} s = {_g(v)}")),
    "arrival_rate": Law(
        ("items", "time_s"), lambda i: littles_law_rate_per_s(i["items"], i["time_s"]),
        lambda i, v: (f"Little's law turned round: arrival rate = in the system ÷ time in it = {_g(i['items'])} ÷ "
                      f"{_g(i['time_s'])} s = {_g(v)}/s")),
    "workers_needed": Law(
        ("arrivals_per_s", "hold_ms"), lambda i: workers_needed(i["arrivals_per_s"], i["hold_ms"]),
        lambda i, v: (f"busy on average = {_g(i['arrivals_per_s'])}/s × {_g(i['hold_ms'])} ms = "
                      f"{_g(i['arrivals_per_s'] * i['hold_ms'] / 1000)} workers, so at least {v:.0f} keep "
                      "utilisation below 100%")),
    "backlog": Law(
        ("arrivals_per_s", "served_per_s", "seconds"),
        lambda i: backlog_after(i["arrivals_per_s"], i["served_per_s"], i["seconds"]),
        lambda i, v: (f"backlog = (arrivals − served) × time = ({_g(i['arrivals_per_s'])} − "
                      f"{_g(i['served_per_s'])})/s × {_g(i['seconds'])} s = {_g(v)}")),
}


QUEUEING = ("wait_share", "mean_wait", "drain_time", "spike_peak")
"""The laws that need a hold time above 0; those with `workers` also a whole number of them."""
STABLE = ("wait_share", "mean_wait", "drain_time")
"""The laws that hold only for a pool that keeps up: arrivals below the workers' capacity."""


class EstimateError(ValueError):
    """An estimate table that names no law, or not its inputs; `field` is the key at fault."""

    def __init__(self, field: str, problem: str):
        super().__init__(problem)
        self.field = field
        self.problem = problem


@dataclass(frozen=True)
class Estimate:
    law: str
    inputs: Mapping[str, float]

    def value(self) -> float:
        return LAWS[self.law].compute(self.inputs)

    def explain(self) -> str:
        """The working, e.g. 'utilisation = arrival rate × hold time ÷ workers = 5/s × 301 ms ÷ 1 = 150%'."""
        return LAWS[self.law].words(self.inputs, self.value())


def parse_estimate(table: Mapping[str, object]) -> Estimate:
    """An Estimate from `{law = "...", <input> = <number>, ...}`; EstimateError naming the key at fault."""
    law = table.get("law")
    if law not in LAWS:
        raise EstimateError("law", f"{law!r} is not a law; use one of {', '.join(LAWS)}")
    wanted = LAWS[law].inputs
    for key in table:
        if key != "law" and key not in wanted:
            raise EstimateError(key, f"not an input of {law}; it takes {', '.join(wanted)}")
    inputs = {}
    for key in wanted:
        value = table.get(key)
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value < 0:
            raise EstimateError(key, f"{law} needs {key} as a number of 0 or more")
        inputs[key] = float(value)
    if law == "utilisation" and (inputs["workers"] < 1 or inputs["workers"] != int(inputs["workers"])):
        raise EstimateError("workers", "must be a whole number of workers, 1 or more")
    if law == "arrival_rate" and inputs["time_s"] == 0:
        raise EstimateError("time_s", "must be more than 0")
    if "hold_ms" in inputs and law in QUEUEING and inputs["hold_ms"] == 0:
        raise EstimateError("hold_ms", "must be more than 0")
    whole = inputs.get("workers", 1.0)
    if law in QUEUEING and (whole < 1 or whole != int(whole)):
        raise EstimateError("workers", "must be a whole number of workers, 1 or more")
    if law in STABLE and not _stable(inputs):
        raise EstimateError("arrivals_per_s", f"{law} needs the arrivals below the workers' capacity "
                                              f"({_capacity_per_s(inputs):.3g}/s): a queue above it never settles")
    return Estimate(law, inputs)
