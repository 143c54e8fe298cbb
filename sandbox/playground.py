"""The free sandbox: an open-ended simulation a learner breaks at will, and the record of what they did.

Every action is recorded with its moment, so the session saves as a scenario that replays to the same frames.
"""

from __future__ import annotations

import math
import threading
from dataclasses import replace
from typing import Any

import tomli_w

from sandbox.model.budget import MAX_REQUESTS, expected_requests
from sandbox.model.commands import TARGETS, Command, Heal, Load, Revive, Set
from sandbox.model.errors import ScenarioError
from sandbox.model.faults import HEALED
from sandbox.model.knobs import KNOBS, Knobs
from sandbox.model.measurements import Frame, interleave
from sandbox.model.periods import open_faults
from sandbox.model.scenario import Scenario, Variant, scenario_to_document
from sandbox.model.status import VariantStatus
from sandbox.sim.engine import SimEngine, cyclic_gc_paused

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
                        "a transient queue (exclusive to the worker's connection) of non-persistent messages"),
}
MAX_VARIANTS = 3
MAX_SCENARIO_S = 2 * 3600.0
"""A playground stops at two hours of scenario time; memory grows with it (bench/ui_speed.py)."""
SPEEDS = {"pause": 0.0, "1×": 1.0, "5×": 5.0, "20×": 20.0}
FINAL_AFTER_S = 2
"""Seconds after its end a second's frames are taken as final (the simulation closes a second for good)."""
HISTORY_S = 120
"""How far back a paused playground can be scrubbed: each variant's status is kept for every second of it."""
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
        self.recorded: list[Command] = []
        self.requests = 0.0
        """Client requests simulated so far, all variants together (model/budget.py)."""
        self.speed = SPEEDS["1×"]
        self.last_input_s: float | None = None
        self.lock = threading.RLock()
        """Held by whoever moves or reads the playground: two browser tabs on one playground take turns."""
        self._history: dict[int, dict[str, VariantStatus]] = {0: self.engine.status()}
        self._frames: dict[int, list[Frame]] = {}

    @property
    def now(self) -> float:
        return self.engine.now

    @property
    def variants(self) -> tuple[Variant, ...]:
        return self.base.variants

    @property
    def speed_name(self) -> str:
        """The chosen speed as the speed control names it: "pause", "1×", "5×" or "20×"."""
        return next((name for name, value in SPEEDS.items() if value == self.speed), f"{self.speed:g}×")

    @property
    def at_limit(self) -> bool:
        return self.limit_reason is not None

    @property
    def limit_reason(self) -> str | None:
        """Why the playground stopped for good: two hours of scenario time, or the work one run may do."""
        if self.now >= MAX_SCENARIO_S:
            return f"it reached {MAX_SCENARIO_S / 3600:g} hours of scenario time"
        if self.requests >= MAX_REQUESTS:
            return f"it simulated {MAX_REQUESTS:,} requests, the most one run may"
        return None

    def act(self, command: Command) -> list[str]:
        """Apply a command now and record it; returns the engine's notes (variants where it did nothing)."""
        command = replace(command, at=self.now)
        self.recorded.append(command)
        return self.engine.apply(command)

    def set_knob(self, key: str, value: Any, variant: str | None = None) -> list[str]:
        """Set a knob now, in one variant or all; ScenarioError for a value out of range or at odds with others."""
        value = KNOBS[key].validate(value, "playground", key)
        for name in [variant] if variant else [v.name for v in self.variants]:
            conflict = self.knobs(name).with_values({key: value}).conflict()
            if conflict is not None:
                raise ScenarioError("playground", f"{name}: {conflict[0]}", conflict[1])
        return self.act(Set(key, value, variant=variant))

    def heal_everything(self) -> list[str]:
        """Revive every killed part and clear every latency, error rate and hang, in every variant."""
        notes: list[str] = []
        statuses = self.engine.status()
        for variant in self.variants:
            faults = open_faults(self.recorded, variant.name)
            status = statuses[variant.name]
            parts = {**status.components, **{node.name: node for node in status.nodes}}
            for target in (t for t in TARGETS if t in parts and parts[t].health != "absent"):
                kinds = {p.kind for p in faults if p.target == target}
                if "down" in kinds:
                    notes += self.act(Revive(target, variant=variant.name))
                if kinds & set(HEALED):
                    notes += self.act(Heal(target, variant=variant.name))
        return notes

    def tick(self, wall_s: float) -> float:
        """Let `wall_s` seconds of wall time pass at the chosen speed; returns the scenario seconds advanced."""
        seconds = min(self.speed * wall_s, MAX_SCENARIO_S - self.now)
        if seconds <= 0 or self.at_limit:
            return 0.0
        self.requests += sum(expected_requests(self.knobs(v.name), (), v.name, seconds) for v in self.variants)
        self._advance(seconds)
        return seconds

    def _advance(self, seconds: float) -> None:
        """Move scenario time on, keeping each variant's status at every whole second passed (for scrubbing)."""
        target = self.now + seconds
        with cyclic_gc_paused():  # once for the whole tick, not once a second (bench/ui_speed.py)
            while self.now < target:
                step_to = min(math.floor(self.now) + 1.0, target)
                self.engine.advance(step_to - self.now)
                if step_to == int(step_to):
                    self._history[int(step_to)] = self.engine.status()
                    self._history.pop(int(step_to) - HISTORY_S - 1, None)

    def status_at(self, second: int) -> dict[str, VariantStatus]:
        """Every variant's status at the end of `second` if it is among the last HISTORY_S seconds ticked, else
        now."""
        return self._history.get(second) or self.engine.status()

    def touch(self, wall_clock_s: float) -> None:
        """Note that the learner did something (for the idle pause)."""
        self.last_input_s = wall_clock_s

    def idle(self, wall_clock_s: float) -> bool:
        return self.last_input_s is not None and wall_clock_s - self.last_input_s >= IDLE_PAUSE_S

    def knobs(self, variant: str, at_s: float | None = None) -> Knobs:
        """Every knob's value in one variant now (or at `at_s`): the start values, then each recorded change."""
        changes: dict[str, Any] = {}
        for command in self.recorded:
            if at_s is not None and command.at > at_s:
                break
            if command.variant in (None, variant):
                if isinstance(command, Set):
                    changes[command.key] = command.value
                elif isinstance(command, Load):
                    changes |= command.rates()
        return self.base.knobs_for(self.base.variant(variant)).with_values(changes)

    def recent_frames(self, window_s: int) -> tuple[int, list[Frame]]:
        """The first second of the window and every variant's frames of its finished seconds (interleaved second by
        second). A second closed FINAL_AFTER_S ago does not change any more, so its frames are computed once."""
        end = int(self.now)
        start = max(0, end - window_s)
        final = max(start, end - FINAL_AFTER_S)
        for second in [s for s in self._frames if s < start]:
            del self._frames[second]
        rows: list[Frame] = []
        for second in range(start, final):
            if second not in self._frames:
                self._frames[second] = self._interleaved(second, second + 1)
            rows += self._frames[second]
        return start, rows + self._interleaved(final, end)

    def _interleaved(self, start: int, end: int) -> list[Frame]:
        return interleave({v.name: self.engine.measurements(v.name).frames(start, end) for v in self.variants})

    def recording(self) -> Scenario:
        """The session so far as a scenario: the same variants and seed, every action at its moment."""
        return replace(self.base, duration_s=max(self.now, 1.0), timeline=tuple(self.recorded),
                       summary=f"{len(self.recorded)} action(s) over {math.floor(self.now)} s, recorded in the "
                               "playground")

    def recording_toml(self) -> str:
        return tomli_w.dumps(scenario_to_document(self.recording()))
