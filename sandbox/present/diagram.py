"""The topology diagram of one variant as Graphviz DOT: parts coloured by health, calls on the edges."""

from __future__ import annotations

from sandbox.model.status import Component, VariantStatus

# health -> (fill, border); the legend on the page reads the same table
HEALTH_COLOURS = {
    "up": ("#dcf3e4", "#2e8b57"),
    "slow": ("#fff3c4", "#b8860b"),
    "saturated": ("#ffdcb8", "#d2691e"),
    "hung": ("#eadcf8", "#7b4fb0"),
    "down": ("#f9d4d4", "#c62828"),
    "absent": ("#f4f4f4", "#b0b0b0"),
}
HEALTH_WORDS = {
    "up": "up", "slow": "slow (latency or errors injected)", "saturated": "saturated (every worker busy, a line waits)",
    "hung": "hung (takes calls, never answers)", "down": "down (refuses connections)",
    "absent": "not in this variant",
}

# (source, target, what the arrow means); client edges carry the outside load
_SYNC_EDGES = (("client", "author", "POST /blogs"), ("client", "blog", "GET /blogs"),
               ("author", "database", "INSERT"), ("author", "blog", "POST /internal/cache/invalidate"),
               ("blog", "redis", "GET/SET blogs:*"), ("blog", "database", "SELECT on a miss"),
               ("blog", "user", "GET /api/v1/user/{id}"))
_QUEUE_EDGES = (("client", "author", "POST /blogs"), ("client", "blog", "GET /blogs"),
                ("author", "database", "INSERT"), ("author", "broker", "publish"),
                ("broker", "cache-worker", "deliver"), ("cache-worker", "redis", "SCAN + UNLINK blogs:*"),
                ("blog", "redis", "GET/SET blogs:*"), ("blog", "database", "SELECT on a miss"),
                ("user", "broker", "user.updated"), ("broker", "blog", "user.updated → directory"))
_TITLES = {"author": "Author Service", "blog": "Blog Service", "user": "User Service",
           "cache-worker": "cache-worker", "redis": "Redis", "broker": "RabbitMQ"}


def _quote(text: str) -> str:
    """A DOT string literal; a newline in `text` becomes a line break in the label."""
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


def _node_label(part: Component, status: VariantStatus) -> str:
    title = _TITLES[part.name]
    if part.health == "absent":
        return f"{title}\n(not in this variant)"
    lines = [title]
    if part.name == "broker":
        lines.append(f"cache-invalidation: {status.queue_ready} ready · {status.queue_unacked} unacked")
        if status.dead_letters:
            lines.append(f"dead-letter queue: {status.dead_letters}")
        if status.outbox_pending:
            lines.append(f"outbox: {status.outbox_pending} waiting")
    elif part.workers:
        unit = "consumers" if part.name == "cache-worker" else "workers"
        lines.append(f"{part.busy}/{part.workers} {unit} busy · {part.waiting} waiting")
    if part.latency_ms:
        lines.append(f"+{part.latency_ms:g} ms")
    if part.error_rate:
        lines.append(f"{part.error_rate:.0%} errors")
    if part.health not in ("up",):
        lines.append(part.health.upper())
    return "\n".join(lines)


def _node(name: str, label: str, health: str, shape: str = "box") -> str:
    fill, border = HEALTH_COLOURS[health]
    style = "rounded,filled,dashed" if health == "absent" else "rounded,filled"
    if shape != "box":
        style = style.replace("rounded,", "")
    return (f"  {_quote(name)} [label={_quote(label)} shape={shape} style={_quote(style)} fillcolor={_quote(fill)} "
            f"color={_quote(border)} penwidth=2]")


def topology_dot(status: VariantStatus) -> str:
    """DOT for one variant: every part, and every arrow labelled with calls/s and error % of the last second."""
    sync = status.architecture == "sync"
    lines = ["digraph {", "  rankdir=TB; bgcolor=transparent; nodesep=0.25; ranksep=0.35;",
             '  node [fontname="Helvetica" fontsize=10 margin="0.12,0.06"];',
             '  edge [fontname="Helvetica" fontsize=9 color="#666666" fontcolor="#444444"];',
             '  "client" [label="readers & authors" shape=plaintext fontsize=11];',
             '  "database" [label="database\\n(source of truth)" shape=cylinder style=filled '
             f'fillcolor="{HEALTH_COLOURS["up"][0]}" color="{HEALTH_COLOURS["up"][1]}" penwidth=2];']
    for name, part in status.components.items():
        lines.append(_node(name, _node_label(part, status), part.health))
    traffic = {(e.source, e.target): e for e in status.edges}
    for source, target, meaning in _SYNC_EDGES if sync else _QUEUE_EDGES:
        edge = traffic.get((source, target))
        label = meaning
        colour = "#666666"
        if edge is not None:
            label += f"\n{edge.calls_per_s:g}/s"
            if edge.error_rate:
                label += f" · {edge.error_rate:.0%} failed"
                colour = HEALTH_COLOURS["down" if edge.error_rate >= 0.5 else "saturated"][1]
        breaker = status.breakers.get(f"{source}→{target}", "closed")
        if breaker != "closed":
            label += f"\nbreaker {breaker}"
        dashed = " style=dashed" if "user.updated" in meaning else ""
        lines.append(f"  {_quote(source)} -> {_quote(target)} [label={_quote(label)} color={_quote(colour)} "
                     f"fontcolor={_quote(colour if colour != '#666666' else '#444444')}{dashed}]")
    lines.append("}")
    return "\n".join(lines)
