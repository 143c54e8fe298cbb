"""The topology diagram of one variant as plain data the playground view draws: every part in a fixed place (the same
place in every variant, a part the variant lacks drawn dashed), coloured by health, and arrows with calls per second,
the failed share and dots in proportion to the traffic."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from sandbox.model.status import Component, VariantStatus

# health -> (fill, border); the legend and the About page read the same table. The borders are as far apart as
# colours with 3:1 contrast on the page can be under the three common colour-vision deficiencies
# (tests/unit/test_palette.py); a box that is not up also says its state in words, so colour is never the only cue.
HEALTH_COLOURS = {
    "up": ("#dcf3e4", "#2e8b57"),
    "slow": ("#fff3c4", "#806600"),
    "saturated": ("#ffdcb8", "#e07000"),
    "hung": ("#eadcf8", "#7b4fb0"),
    "down": ("#f9d4d4", "#8b0000"),
    "absent": ("#f4f4f4", "#b0b0b0"),
}
HEALTH_WORDS = {
    "up": "up", "slow": "slow (latency or errors injected)", "saturated": "saturated (every worker busy, a line waits)",
    "hung": "hung (takes calls, never answers)", "down": "down (refuses connections)",
    "absent": "not in this variant",
}
TITLES = {"client": "readers\n& authors", "author": "Author Service", "blog": "Blog Service", "user": "User Service",
          "cache-worker": "cache-worker", "redis": "Redis", "broker": "RabbitMQ", "database": "database"}

Place = tuple[float, float, float, float]
"""Centre x, centre y, width, height in the diagram's own units."""


@dataclass(frozen=True)
class Layout:
    """Where every part sits: one layout for every architecture, so a part is in the same place in every variant."""

    width: float
    height: float
    places: dict[str, Place]
    bends: dict[tuple[str, str], tuple[float, float]]
    """Arrows that curve around a part in their way: the control point of a quadratic curve."""
    titles: dict[str, str]
    compact: bool = False
    """Short lines in each box (its state, or how busy it is), for a narrow column or a phone."""
    labels: dict[tuple[str, str], tuple[float, float]] = field(default_factory=dict)
    """Where an arrow's label goes when the middle of a short arrow has no room for it."""


FULL = Layout(540, 222, {
    "client": (30, 111, 58, 40),
    "author": (152, 30, 140, 54), "blog": (152, 192, 140, 54),
    "broker": (332, 30, 124, 54), "cache-worker": (487, 30, 102, 54),
    "database": (332, 111, 112, 36), "user": (332, 192, 124, 54), "redis": (487, 100, 84, 36),
}, {("user", "broker"): (414.0, 111.0)}, TITLES)
COMPACT = Layout(340, 250, {
    "client": (30, 125, 52, 40),
    "author": (110, 34, 88, 60), "blog": (110, 216, 88, 60),
    "broker": (213, 34, 88, 60), "cache-worker": (302, 34, 66, 60),
    "database": (213, 125, 76, 34), "user": (213, 216, 88, 60), "redis": (302, 125, 60, 34),
}, {("user", "broker"): (300.0, 125.0)},
    TITLES | {"author": "Author\nService", "blog": "Blog\nService", "user": "User\nService",
              "cache-worker": "cache-\nworker"}, compact=True, labels={("blog", "user"): (161.0, 180.0)})
WIDTH, HEIGHT = FULL.width, FULL.height
PLACES = FULL.places

# (source, target, what the arrow carries); client arrows carry the outside load
SYNC_ROUTES = (("client", "author", "POST /blogs"), ("client", "blog", "GET /blogs"),
               ("author", "database", "INSERT"), ("author", "blog", "POST /internal/cache/invalidate"),
               ("blog", "redis", "GET/SET blogs:*"), ("blog", "database", "SELECT on a miss"),
               ("blog", "user", "GET /api/v1/user/{id}"))
QUEUE_ROUTES = (("client", "author", "POST /blogs"), ("client", "blog", "GET /blogs"),
                ("author", "database", "INSERT"), ("author", "broker", "publish"),
                ("broker", "cache-worker", "deliver"), ("cache-worker", "redis", "SCAN + UNLINK blogs:*"),
                ("blog", "redis", "GET/SET blogs:*"), ("blog", "database", "SELECT on a miss"),
                ("user", "broker", "user.updated"), ("broker", "blog", "user.updated → directory"))
SIDE_ROUTES = {("user", "broker"), ("broker", "blog")}
"""Profile updates feeding the queue blog's directory: drawn only while they carry traffic."""

CALLS_PER_DOT = 10.0
MAX_DOTS = 4
GAP = 3.0
"""Space between an arrow's end and the box it points at."""


@dataclass(frozen=True)
class Box:
    name: str
    title: str
    lines: tuple[str, ...]
    health: str
    x: float
    y: float
    w: float
    h: float


@dataclass(frozen=True)
class Arrow:
    source: str
    target: str
    route: str
    path: str
    """SVG path data from the source's border to the target's."""
    label_x: float
    label_y: float
    label: tuple[str, ...]
    """Calls per second, the failed share and an open breaker, a line each, e.g. ("19/s", "100% fail"); empty
    without traffic."""
    colour: str
    dashed: bool
    dots: int
    """Dots moving along the arrow: one per CALLS_PER_DOT calls per second, at least one while calls flow, at most
    MAX_DOTS (each animated dot costs the browser a little every frame)."""
    failed_dots: int


def _compact_lines(part: Component, status: VariantStatus) -> tuple[str, ...]:
    """At most two short lines: what the part holds or how busy it is, and its state in words when it is not up."""
    if part.health == "absent":
        return (f"not in {status.architecture}",)
    if part.name == "broker":
        held = [f"{status.queue_ready + status.queue_unacked:,} queued"]
        held += [f"{status.outbox_pending:,} in outbox"] if status.outbox_pending else []
    elif part.workers:
        held = [f"{part.busy}/{part.workers} busy" + (f" · {part.waiting:,} wait" if part.waiting else "")]
    else:
        held = []
    state = [part.health.upper()] if part.health != "up" else []
    if part.latency_ms:
        state.append(f"+{part.latency_ms:,.0f} ms")
    if part.error_rate and not part.latency_ms:
        state.append(f"{part.error_rate:.0%} err")
    return tuple([*held, " ".join(state)][:2] if state else held[:2])


def _part_lines(part: Component, status: VariantStatus) -> tuple[str, ...]:
    if part.health == "absent":
        return (f"not in {status.architecture}",)
    lines = []
    if part.name == "broker":
        lines.append(f"{status.queue_ready:,} ready · {status.queue_unacked:,} unacked")
        extra = [f"{status.dead_letters:,} dead" if status.dead_letters else "",
                 f"{status.outbox_pending:,} in outbox" if status.outbox_pending else ""]
        if any(extra):
            lines.append(" · ".join(e for e in extra if e))
    elif part.workers:
        unit = "consumers" if part.name == "cache-worker" else "workers"
        lines.append(f"{part.busy}/{part.workers} {unit} busy")
        if part.waiting:
            lines.append(f"{part.waiting:,} waiting")
    state = [part.health.upper()] if part.health != "up" else []
    if part.latency_ms:
        state.append(f"+{part.latency_ms:,.0f} ms")
    if part.error_rate:
        state.append(f"{part.error_rate:.0%} errors")
    if state:
        lines.append(" ".join(state))
    return tuple(lines)


def _border(layout: Layout, name: str, towards: tuple[float, float]) -> tuple[float, float]:
    """Where the line from a box's centre towards a point leaves the box, GAP further out."""
    cx, cy, w, h = layout.places[name]
    dx, dy = towards[0] - cx, towards[1] - cy
    if dx == 0 and dy == 0:
        return cx, cy
    scale = min(w / 2 / abs(dx) if dx else math.inf, h / 2 / abs(dy) if dy else math.inf)
    length = math.hypot(dx, dy)
    scale += GAP / length
    return round(cx + dx * scale, 1), round(cy + dy * scale, 1)


_PATHS: dict[tuple[bool, str, str], tuple[str, float, float]] = {}
"""Each layout's arrows, worked out once: a path depends on the layout alone."""


def _path(layout: Layout, source: str, target: str) -> tuple[str, float, float]:
    """The arrow's path and where its label sits (the middle, nudged off the line, or where the layout says)."""
    key = (layout.compact, source, target)
    if key not in _PATHS:
        path, x, y = _route(layout, source, target)
        _PATHS[key] = (path, *layout.labels.get((source, target), (x, y)))
    return _PATHS[key]


def _route(layout: Layout, source: str, target: str) -> tuple[str, float, float]:
    sx, sy = layout.places[source][:2]
    tx, ty = layout.places[target][:2]
    bend = layout.bends.get((source, target))
    if bend is not None:
        (ax, ay), (bx, by) = _border(layout, source, bend), _border(layout, target, bend)
        mid_x, mid_y = (ax + 2 * bend[0] + bx) / 4, (ay + 2 * bend[1] + by) / 4
        return f"M{ax},{ay} Q{bend[0]},{bend[1]} {bx},{by}", round(mid_x + 4, 1), round(mid_y, 1)
    (ax, ay), (bx, by) = _border(layout, source, (tx, ty)), _border(layout, target, (sx, sy))
    mid_x, mid_y = (ax + bx) / 2, (ay + by) / 2
    length = math.hypot(bx - ax, by - ay) or 1.0
    # nudge the label to the line's left-hand side (seen along the arrow), so it does not sit on the line
    nx, ny = (by - ay) / length, -(bx - ax) / length
    return f"M{ax},{ay} L{bx},{by}", round(mid_x + 10 * nx, 1), round(mid_y + 10 * ny, 1)


def _arrow(layout: Layout, source: str, target: str, route: str, status: VariantStatus, calls: dict) -> Arrow:
    edge = calls.get((source, target))
    rate = edge.calls_per_s if edge else 0.0
    failed = edge.error_rate if edge else 0.0
    label = [f"{rate:,.0f}/s"] if rate else []
    colour = "#666666"
    if rate and failed:
        fail = f"{failed:.0%} fail"
        label = [f"{label[0]} · {fail}"] if layout.compact else [*label, fail]
        colour = HEALTH_COLOURS["down" if failed >= 0.5 else "saturated"][1]
    breaker = status.breakers.get(f"{source}→{target}", "closed")
    if breaker != "closed":
        label.append(f"breaker {breaker}")
    dots = min(MAX_DOTS, math.ceil(rate / CALLS_PER_DOT)) if rate else 0
    path, label_x, label_y = _path(layout, source, target)
    return Arrow(source, target, route, path, label_x, label_y, tuple(label), colour, (source, target) in SIDE_ROUTES,
                 dots, round(dots * failed))


def topology(status: VariantStatus, layout: Layout = FULL) -> dict[str, Any]:
    """The diagram of one variant as JSON-ready data: {"width", "height", "compact", "boxes", "arrows"}."""
    parts = {**status.components, "database": Component("database", "up")}
    boxes = []
    lines_of = _compact_lines if layout.compact else _part_lines
    for name, (x, y, w, h) in layout.places.items():
        if name == "client":
            boxes.append(Box(name, layout.titles[name], (), "client", x, y, w, h))
            continue
        part = parts[name]
        if name == "database":
            lines: tuple[str, ...] = () if layout.compact else ("source of truth",)
        else:
            lines = lines_of(part, status)
        boxes.append(Box(name, layout.titles[name], lines, part.health, x, y, w, h))
    calls = {(e.source, e.target): e for e in status.edges}
    routes = SYNC_ROUTES if status.architecture == "sync" else QUEUE_ROUTES
    arrows = [_arrow(layout, s, t, route, status, calls) for s, t, route in routes
              if (s, t) not in SIDE_ROUTES or (s, t) in calls]
    # Box and Arrow hold only numbers, strings and tuples of strings: a shallow copy is their whole dict, at a
    # fraction of asdict's deep copy (this runs for every variant, twice, on every tick)
    return {"width": layout.width, "height": layout.height, "compact": layout.compact,
            "boxes": [vars(b).copy() for b in boxes], "arrows": [vars(a).copy() for a in arrows]}
