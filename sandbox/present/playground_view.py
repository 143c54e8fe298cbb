"""Everything the playground view draws for one moment, as one JSON-ready dict.

It reads a playground through `Playing` (the engine contract, the recording, the kept history), so it depends on
no engine. The page hands the dict to the playground view component (sandbox/ui/playground_view.js), which draws it
in the browser and redraws only what changed. Per variant: its title, the narration and the queueing-theory hint, the
diagram, the tiles with their difference cues, and the message view; per chart panel: one y-domain for every
variant and a value per second of the window; the recorded moments each variant's charts mark; the event log.
A paused playground can be shown at an earlier second (`at_s`): the diagram, tiles, narration and log as they were
then, the charts with a cursor there.
"""

from __future__ import annotations

from typing import Any, Protocol

from sandbox.engine import Engine
from sandbox.model.commands import Command, Hang, Heal, Kill, Revive, parse_command
from sandbox.model.errors import ScenarioError
from sandbox.model.knobs import Knobs
from sandbox.model.measurements import Frame
from sandbox.model.periods import fault_periods
from sandbox.model.scenario import Variant
from sandbox.model.status import VariantStatus
from sandbox.model.theory import pool_loads
from sandbox.present.charts import (
    DASHES,
    FAULT_COLOURS,
    MAIN_PANELS,
    PANELS,
    SERIES_COLOURS,
    circled,
    frames_of,
    y_domain,
)
from sandbox.present.diagram import COMPACT, HEALTH_COLOURS, HEALTH_WORDS, topology
from sandbox.present.differences import difference_cues
from sandbox.present.headlines import RECENT_S, headlines
from sandbox.present.letters import mailbag
from sandbox.present.names import moment_words, target_label, variant_title
from sandbox.present.narration import Recent, narrate
from sandbox.present.queueing import pool_hint

MIN_SPAN_S = 30
"""The charts' time axis spans at least this much, so the first seconds do not fill the width."""
LOG_LINES = 12


class Playing(Protocol):
    """What the view reads of a running playground (sandbox.playground.Playground)."""

    recorded: list[Command]

    @property
    def engine(self) -> Engine: ...

    @property
    def now(self) -> float: ...

    @property
    def variants(self) -> tuple[Variant, ...]: ...

    @property
    def speed_name(self) -> str: ...

    def recent_frames(self, window_s: int) -> tuple[int, list[Frame]]: ...

    def status_at(self, second: int) -> dict[str, VariantStatus]: ...

    def knobs(self, variant: str, at_s: float | None = None) -> Knobs: ...


VIEW_VERBS = tuple(c.verb for c in (Kill, Revive, Hang, Heal))
"""What a click on a part of the diagram offers."""


def view_command(request: dict[str, Any], variants: list[str]) -> Command:
    """The command a click in the view asks for ({"verb", "target", "variant": a name or None}); ScenarioError for
    anything else."""
    verb, variant = request.get("verb"), request.get("variant")
    if verb not in VIEW_VERBS:
        raise ScenarioError("the view", "verb", f"{verb!r} is not one of {', '.join(VIEW_VERBS)}")
    if variant is not None and variant not in variants:
        raise ScenarioError("the view", "variant", f"{variant!r} is not a variant here: {', '.join(variants)}")
    entry = {"do": verb, "target": request.get("target")} | ({"variant": variant} if variant else {})
    return parse_command(entry, "the view")


def _theory(knobs: Knobs, status: VariantStatus, recent: Recent) -> dict[str, Any]:
    hint = pool_hint(pool_loads(knobs, status), status, recent.waiting or {}, recent.window)
    return {"text": hint.text, "tone": hint.tone, "detail": list(hint.detail)}


def _bands(pg: Playing, variant: str, start: float, end: float, absent: set[str]) -> list[dict[str, Any]]:
    """The shaded fault periods of a variant's charts: periods of one kind that touch or overlap are one band (its
    label names each fault once), and a period that ended as it began is none; none for a part the variant lacks."""
    clipped = sorted((max(p.start_s, start), min(end if p.end_s is None else p.end_s, end), p.kind,
                      p.label.replace(f" {p.target}", f" {target_label(p.target)}", 1))
                     for p in fault_periods(pg.recorded, variant) if p.target not in absent)
    bands: list[dict[str, Any]] = []
    for first, last, kind, label in clipped:
        if last <= first:
            continue
        same = next((b for b in reversed(bands) if b["kind"] == kind and b["end"] >= first), None)
        if same is None:
            bands.append({"start": first, "end": last, "kind": kind, "label": label})
        else:
            same["end"] = max(same["end"], last)
            if label not in same["label"].split("; "):
                same["label"] += f"; {label}"
    return bands


def _marks(pg: Playing, variant: str, start: float, end: float, absent: set[str]) -> list[dict[str, Any]]:
    """The recorded actions a variant's charts mark, one line per second, numbered in time order: a chart shows the
    number (never words that could run past it or over another), the legend under the charts the words (the last
    action of that second, and how many more there were)."""
    by_second: dict[int, list[Command]] = {}
    for command in pg.recorded:
        if start <= command.at <= end and command.variant in (None, variant) and getattr(
                command, "target", None) not in absent:
            by_second.setdefault(int(command.at), []).append(command)
    marks = []
    for number, second in enumerate(sorted(by_second), start=1):
        commands = by_second[second]
        more = f" (+{len(commands) - 1})" if len(commands) > 1 else ""
        marks.append({"t": commands[0].at, "n": circled(number), "text": moment_words(commands[-1]) + more})
    return marks


def _charts(frames: list[dict[str, Any]], names: list[str], start: int, end: int) -> list[dict[str, Any]]:
    mine = {name: frames_of(frames, name) for name in names}
    charts = []
    for chosen in PANELS:
        values = {name: [[None if (v := s.value(f)) is None else round(float(v), 3) for f in rows]
                         for s in chosen.series] for name, rows in mine.items()}
        charts.append({"key": chosen.key, "heading": chosen.heading, "unit": chosen.unit, "log": chosen.log_scale,
                       "main": chosen.key in MAIN_PANELS,
                       "domain": list(y_domain(chosen, mine.values())),
                       "series": [{"name": s.name, "colour": c, "dash": list(d)}
                                  for s, c, d in zip(chosen.series, SERIES_COLOURS, DASHES, strict=False)],
                       "start": start, "end": end, "values": values})
    return charts


def view_data(pg: Playing, window_s: int, at_s: int | None = None, highlight: tuple[str, ...] = ()) -> dict[str, Any]:
    """The view of `pg` over its last `window_s` seconds, now or (paused) at the end of second `at_s` of them;
    `highlight` names tiles the guided tour points at."""
    end = int(pg.now)
    start = max(0, end - window_s)
    shown = end if at_s is None else min(max(at_s, start), end)
    names = [v.name for v in pg.variants]
    _, frames = pg.recent_frames(window_s)
    statuses = pg.engine.status() if shown == end else pg.status_at(shown)
    tiles = {name: headlines(pg.engine.measurements(name), statuses[name], shown) for name in names}
    cues = difference_cues(tiles)
    recent = [f for f in frames if shown - RECENT_S <= f["t"] < shown]
    variants = []
    for name in names:
        status = statuses[name]
        measurements = pg.engine.measurements(name)
        mine = frames_of(recent, name)
        knobs = pg.knobs(name, shown)
        letters = pg.engine.messages(name) if status.architecture == "queue" else None
        story = narrate(status, mine, knobs, measurements.lost_by_cause, letters)
        variants.append({
            "name": name,
            "title": variant_title(name, status.architecture),
            "narration": {"text": story.text, "tone": story.tone},
            "theory": _theory(knobs, status, Recent.of(mine)),
            "diagram": topology(status),
            "compact": topology(status, COMPACT),
            "tiles": [{"label": t.label, "value": t.value, "help": t.help, "cue": cues[name].get(t.label, ""),
                       "window": t.window, "tone": {True: "ok", False: "bad", None: "none"}[t.healthy]}
                      for t in tiles[name]],
            "messages": mailbag(letters) if letters is not None else None,
            "bands": _bands(pg, name, float(start), float(end), status.absent_parts()),
            "marks": _marks(pg, name, float(start), float(end), status.absent_parts()),
        })
    log = [[round(t, 1), variant, words] for t, variant, words in pg.engine.log() if t <= shown][-LOG_LINES:]
    return {
        "now_s": pg.now, "shown_s": shown, "scrubbed": shown != end, "speed": pg.speed_name,
        "span": [start, max(end, start + MIN_SPAN_S)],
        "variants": variants, "charts": _charts(frames, names, start, end), "log": log,
        "highlight": list(highlight), "verbs": list(VIEW_VERBS), "recent_s": RECENT_S,
        "palette": {"health": {k: {"fill": f, "border": b, "words": HEALTH_WORDS[k]}
                               for k, (f, b) in HEALTH_COLOURS.items()},
                    "faults": FAULT_COLOURS},
    }
