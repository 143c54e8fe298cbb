"""The colours tell things apart for everyone: the chart lines under protanopia, deuteranopia and tritanopia as in
normal vision, and the diagram's health borders as far as colours with enough contrast allow, with a word beside
each state so that colour is never the only cue.

Colour-vision deficiency is simulated with the matrices of Machado, Oliveira and Fernandes (2009, severity 1.0) on
linear RGB; distance is CIE76 ΔE in CIELAB (D65)."""

from __future__ import annotations

import itertools
import math

import pytest

from sandbox.model.status import Component, VariantStatus
from sandbox.present.charts import DASHES, SERIES_COLOURS
from sandbox.present.diagram import HEALTH_COLOURS, topology

MACHADO = {
    "protanopia": ((0.152286, 1.052583, -0.204868), (0.114503, 0.786281, 0.099216),
                   (-0.003882, -0.048116, 1.051998)),
    "deuteranopia": ((0.367322, 0.860646, -0.227968), (0.280085, 0.672501, 0.047413),
                     (-0.011820, 0.042940, 0.968881)),
    "tritanopia": ((1.255528, -0.076749, -0.178779), (-0.078411, 0.930809, 0.147602),
                   (0.004733, 0.691367, 0.303900)),
}
VISIONS = [None, *MACHADO]
PAGE = "#fbfaf7"
LINES_APART = 30.0
"""ΔE between any two chart lines, in every vision: clearly different colours."""
HEALTH_APART = 12.0
"""ΔE between any two health borders in every vision: the best that 3:1 contrast on the page allows here."""


def _linear(hex_colour: str) -> tuple[float, ...]:
    channels = (int(hex_colour[i:i + 2], 16) / 255 for i in (1, 3, 5))
    return tuple(c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4 for c in channels)


def _seen(hex_colour: str, vision: str | None) -> tuple[float, ...]:
    rgb = _linear(hex_colour)
    if vision is None:
        return rgb
    return tuple(min(1.0, max(0.0, sum(m * c for m, c in zip(row, rgb, strict=True)))) for row in MACHADO[vision])


def _lab(rgb: tuple[float, ...]) -> tuple[float, float, float]:
    r, g, b = rgb
    xyz = (0.4124 * r + 0.3576 * g + 0.1805 * b, 0.2126 * r + 0.7152 * g + 0.0722 * b,
           0.0193 * r + 0.1192 * g + 0.9505 * b)
    fx, fy, fz = (t ** (1 / 3) if t > 0.008856 else 7.787 * t + 16 / 116
                  for t in (xyz[0] / 0.95047, xyz[1], xyz[2] / 1.08883))
    return 116 * fy - 16, 500 * (fx - fy), 200 * (fy - fz)


def delta_e(a: str, b: str, vision: str | None = None) -> float:
    return math.dist(_lab(_seen(a, vision)), _lab(_seen(b, vision)))


def contrast(a: str, b: str) -> float:
    def luminance(colour: str) -> float:
        r, g, b = _linear(colour)
        return 0.2126 * r + 0.7152 * g + 0.0722 * b

    high, low = sorted((luminance(a), luminance(b)), reverse=True)
    return (high + 0.05) / (low + 0.05)


def test_the_simulation_sees_the_old_red_and_green_lines_as_one_under_deuteranopia():
    """The check can fail: read p99 red and write p99 green, as the charts had them, are near one olive."""
    assert delta_e("#d62728", "#2ca02c") > 100
    assert delta_e("#d62728", "#2ca02c", "deuteranopia") < 10


@pytest.mark.parametrize("vision", VISIONS, ids=lambda v: v or "normal")
def test_chart_lines_stay_apart_in_every_vision(vision):
    for a, b in itertools.combinations(SERIES_COLOURS, 2):
        assert delta_e(a, b, vision) >= LINES_APART, (a, b, vision, delta_e(a, b, vision))


def test_chart_lines_differ_by_dash_and_show_on_the_page():
    assert len(set(DASHES)) == len(DASHES) >= len(SERIES_COLOURS)
    assert all(contrast(colour, PAGE) >= 3 for colour in SERIES_COLOURS)


@pytest.mark.parametrize("vision", VISIONS, ids=lambda v: v or "normal")
def test_health_borders_stay_apart_and_each_state_is_also_written(vision):
    borders = {health: border for health, (_, border) in HEALTH_COLOURS.items() if health != "absent"}
    for (a, colour_a), (b, colour_b) in itertools.combinations(borders.items(), 2):
        assert delta_e(colour_a, colour_b, vision) >= HEALTH_APART, (a, b, vision)
    assert all(contrast(colour, PAGE) >= 3 for colour in borders.values())
    for health in ("slow", "saturated", "hung", "down"):
        part = Component("user", health, workers=8, latency_ms=100 if health == "slow" else 0)
        status = VariantStatus("sync", "sync", 1.0, {
            name: part if name == "user" else Component(name, "up", workers=8)
            for name in ("author", "blog", "user", "redis")} | {
            "broker": Component("broker", "absent"), "cache-worker": Component("cache-worker", "absent")})
        [box] = [b for b in topology(status)["boxes"] if b["name"] == "user"]
        assert any(health.upper() in line for line in box["lines"]), box
