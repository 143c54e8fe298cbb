"""The free sandbox: an open-ended simulation a learner breaks at will, and the record of what they did.

Every action is recorded with its moment, so the session saves as a scenario that replays to the same frames.
"""

from __future__ import annotations

import math
from dataclasses import replace
from typing import Any

import tomli_w

from sandbox.model.actions import TARGETS, Action
from sandbox.model.knobs import KNOBS
from sandbox.model.periods import open_faults
from sandbox.model.scenario import Scenario, Variant, scenario_to_document
from sandbox.present.theory import PoolLoad, pool_loads
from sandbox.sim.engine import SimEngine

PRESETS: dict[str, tuple[str, dict[str, Any], str]] = {
    "sync": ("sync", {}, "services call each other over HTTP and wait"),
    "sync-guarded": ("sync", {"http.timeout_s": 1.0, "http.retries": 2, "http.breaker": True},
                     "sync with a 1 s timeout, 2 retries with jittered backoff and a circuit breaker"),
    "queue": ("queue", {}, "the author publishes to RabbitMQ; a worker invalidates the cache later"),
    "queue-fire-and-forget": ("queue", {"publish.on_error": "drop", "publish.confirms": False},
                              "queue without confirms; a failed publish is dropped"),
    "queue-outbox": ("queue", {"publish.on_error": "outbox"},
                     "queue with a transactional outbox: a failed publish waits in the database"),
    "queue-auto-ack": ("queue", {"consumer.ack": "auto"}, "queue whose worker acks on delivery, before the work"),
    "queue-transient": ("queue", {"broker.durable": False, "broker.persistent": False},
                        "queue that is neither durable nor persistent"),
}
MAX_VARIANTS = 3
MAX_SCENARIO_S = 2 * 3600.0
"""A playground stops at two hours of scenario time; memory grows with it (bench/ui_speed.py)."""
SPEEDS = {"pause": 0.0, "1×": 1.0, "5×": 5.0, "20×": 20.0}
IDLE_PAUSE_S = 600.0
"""A running playground nobody touches for this long (wall clock) pauses itself."""

MAIN_KNOBS = (
    "load.reads_per_s", "load.writes_per_s", "http.timeout_s", "http.retries", "http.jitter", "http.breaker",
    "sync.on_invalidate_error", "consumer.ack", "consumer.prefetch", "consumer.count", "broker.durable",
    "broker.persistent", "publish.confirms", "publish.on_error", "cache.ttl_s",
)


def preset_variant(name: str) -> Variant:
    architecture, knobs, _ = PRESETS[name]
    return Variant(name, architecture, dict(knobs))


class Playground:
    """One learner's sandbox: variants side by side on the simulation, run by ticks of wall time."""

    def __init__(self, presets: tuple[str, ...] = ("sync", "queue"), seed: int = 1,
                 knobs: dict[str, Any] | None = None):
        if not 1 <= len(presets) <= MAX_VARIANTS:
            raise ValueError(f"a playground compares 1 to {MAX_VARIANTS} variants")
        self.presets = tuple(presets)
        self.base = Scenario(
            id="playground", title="Recorded in the playground", summary="", duration_s=MAX_SCENARIO_S,
            seed=seed, knobs=dict(knobs or {}), variants=tuple(preset_variant(p) for p in presets),
            timeline=(), expectations=())
        self.engine = SimEngine(self.base)
        self.recorded: list[Action] = []
        self.speed = SPEEDS["1×"]
        self.last_input_s: float | None = None

    @property
    def now(self) -> float:
        return self.engine.now

    @property
    def variants(self) -> tuple[Variant, ...]:
        return self.base.variants

    @property
    def at_limit(self) -> bool:
        return self.now >= MAX_SCENARIO_S

    def act(self, action: Action) -> list[str]:
        """Apply an action now and record it; returns the engine's notes (variants where it did nothing)."""
        action = replace(action, at=self.now)
        self.recorded.append(action)
        return self.engine.apply(action)

    def set_knob(self, key: str, value: Any, variant: str | None = None) -> list[str]:
        value = KNOBS[key].validate(value, "playground", key)
        return self.act(Action("set", key=key, value=value, variant=variant))

    def heal_everything(self) -> list[str]:
        """Revive every killed part and clear every latency, error rate and hang, in every variant."""
        notes: list[str] = []
        statuses = self.engine.status()
        for variant in self.variants:
            faults = open_faults(self.recorded, variant.name)
            parts = statuses[variant.name].components
            for target in (t for t in TARGETS if parts[t].health != "absent"):
                kinds = {p.kind for p in faults if p.target == target}
                if "down" in kinds:
                    notes += self.act(Action("revive", target=target, variant=variant.name))
                if kinds - {"down"}:
                    notes += self.act(Action("heal", target=target, variant=variant.name))
        return notes

    def tick(self, wall_s: float) -> float:
        """Let `wall_s` seconds of wall time pass at the chosen speed; returns the scenario seconds advanced."""
        seconds = min(self.speed * wall_s, MAX_SCENARIO_S - self.now)
        if seconds > 0:
            self.engine.advance(seconds)
        return max(seconds, 0.0)

    def touch(self, wall_clock_s: float) -> None:
        """Note that the learner did something (for the idle pause)."""
        self.last_input_s = wall_clock_s

    def idle(self, wall_clock_s: float) -> bool:
        return self.last_input_s is not None and wall_clock_s - self.last_input_s >= IDLE_PAUSE_S

    def knobs(self, variant: str) -> dict[str, Any]:
        """Every knob's current value in one variant: the start values, then each recorded change."""
        values = self.base.knobs_for(self.base.variant(variant))
        for action in self.recorded:
            if action.variant in (None, variant):
                if action.verb == "set":
                    values[action.key] = action.value
                elif action.verb == "load":
                    for kind in ("reads", "writes"):
                        rate = getattr(action, f"{kind}_per_s")
                        if rate is not None:
                            values[f"load.{kind}_per_s"] = rate
        return values

    def recent_frames(self, window_s: int) -> tuple[int, list[dict]]:
        """The first second of the window and every variant's frames of its finished seconds."""
        end = int(self.now)
        start = max(0, end - window_s)
        frames = [{"t": t, "variant": v.name, **self.engine.measurements(v.name).frame(t)}
                  for v in self.variants for t in range(start, end)]
        return start, frames

    def predicted_loads(self, variant: str) -> list[PoolLoad]:
        """Queueing theory's load on each pool of `variant`, from its knobs and faults."""
        return pool_loads(self.knobs(variant), self.engine.status()[variant])

    def recording(self) -> Scenario:
        """The session so far as a scenario: the same variants and seed, every action at its moment."""
        return replace(self.base, duration_s=max(self.now, 1.0), timeline=tuple(self.recorded),
                       summary=f"{len(self.recorded)} action(s) over {math.floor(self.now)} s, recorded in the "
                               "playground")

    def recording_toml(self) -> str:
        return tomli_w.dumps(scenario_to_document(self.recording()))
