"""Difference cues between variants: a tile notably worse than the best variant's says by how much, e.g. "−100 pts
vs queue" under sync's reads ok, so the eye needs not subtract."""

from __future__ import annotations

from collections.abc import Mapping

from sandbox.present.headlines import Headline

SHARE_PTS = 5.0
"""Percentage points between two shares worth a cue."""
LATENCY_RATIO = 3.0
"""How many times slower a latency must be to get a cue."""


def _signed(value: float, digits: int = 0) -> str:
    return f"{value:+,.{digits}f}".replace("-", "−")


def _cue(tile: Headline, best: Headline, best_name: str) -> str:
    """The cue for `tile` against the best variant's tile of the same label; empty when the gap is small."""
    assert tile.number is not None and best.number is not None
    if tile.scale == "share":
        points = 100 * (tile.number - best.number)
        return f"{_signed(points)} pts vs {best_name}" if abs(points) >= SHARE_PTS else ""
    if tile.scale == "ms":
        if best.number <= 0 or tile.number / best.number < LATENCY_RATIO:
            return ""
        return f"{tile.number / best.number:,.0f}× slower than {best_name}"
    gap = tile.number - best.number
    return f"{_signed(gap)} vs {best_name}" if abs(gap) >= 1 else ""


def difference_cues(tiles: Mapping[str, list[Headline]]) -> dict[str, dict[str, str]]:
    """{variant: {tile label: cue}} for every tile that is worse than the best variant's; variants without a number
    for a tile (a sync variant's queue depth) take no part in its comparison."""
    cues: dict[str, dict[str, str]] = {name: {} for name in tiles}
    labels = [tile.label for tile in next(iter(tiles.values()), [])]
    for index, tile_label in enumerate(labels):
        measured = [(name, row[index], row[index].number) for name, row in tiles.items()
                    if row[index].number is not None]
        if len(measured) < 2:
            continue
        direction = 1 if measured[0][1].higher_is_better else -1
        best_name, best, _ = max(measured, key=lambda item: direction * (item[2] or 0.0))
        for name, tile, _ in measured:
            cue = _cue(tile, best, best_name) if name != best_name else ""
            if cue:
                cues[name][tile_label] = cue
    return cues
