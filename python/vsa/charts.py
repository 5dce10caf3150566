"""The report's charts as inline SVG, drawn without a library: lines over time, a scatter, bars.

Each chart function takes plain numbers (no Spark) and returns an ``<svg>`` element, or None
when there is nothing to draw; :mod:`vsa.report` queries the tables and lays the page out.
"""

from __future__ import annotations

import html
import math
from collections.abc import Sequence
from datetime import UTC, datetime

COLORS = ("#2563eb", "#dc2626", "#16a34a", "#d97706", "#7c3aed", "#0891b2")

Point = tuple[float, float | None]

W, H = 560, 240
LEFT, RIGHT, TOP_PAD, BOTTOM = 56, 12, 24, 28


def nice_ticks(low: float, high: float, count: int = 5) -> list[float]:
    """Round values from ``low`` to at least ``high`` for an axis (1, 2, 5 × 10ⁿ steps)."""
    if high <= low:
        high = low + 1
    raw = (high - low) / count
    power = 10 ** math.floor(math.log10(raw))
    step = next(m * power for m in (1, 2, 5, 10) if m * power >= raw)
    first = math.floor(low / step) * step
    ticks = [first]
    while ticks[-1] < high - 1e-9:
        ticks.append(ticks[-1] + step)
    return ticks


def _fmt(value: float, unit: str = "") -> str:
    if abs(value) >= 10_000:
        text = f"{value / 1000:,.0f}k"
    elif value == int(value):
        text = f"{value:,.0f}"
    else:
        text = f"{value:,.2f}".rstrip("0").rstrip(".")
    return text + unit


def _drawable(value: float | None) -> bool:
    """Whether a value can be drawn: normalize rejects non-finite durations, but a table
    written before (or by hand) may hold one, and no axis holds NaN or Infinity."""
    return value is not None and math.isfinite(value)


def line_chart(series: Sequence[tuple[str, Sequence[Point]]], unit: str = "") -> str | None:
    """Lines over time (x: epoch ms, UTC); None when no series has a value. A value that is
    not finite is a gap, as a missing one."""
    series = [(name, [(x, y if _drawable(y) else None) for x, y in pts]) for name, pts in series]
    values = [y for _, points in series for _, y in points if y is not None]
    xs = [x for _, points in series for x, _ in points]
    if not values:
        return None
    x0, x1 = min(xs), max(xs)
    x1 = x1 if x1 > x0 else x0 + 60_000
    ticks = nice_ticks(min(0.0, min(values)), max(values))
    y0, y1 = ticks[0], ticks[-1]

    def sx(x: float) -> float:
        return LEFT + (x - x0) / (x1 - x0) * (W - LEFT - RIGHT)

    def sy(y: float) -> float:
        return H - BOTTOM - (y - y0) / (y1 - y0) * (H - BOTTOM - TOP_PAD)

    parts = [_y_axis(ticks, sy, unit), _time_axis(x0, x1, sx)]
    for i, (name, points) in enumerate(series):
        color = COLORS[i % len(COLORS)]
        for run in _runs(points):
            d = " ".join(f"{sx(x):.1f},{sy(y):.1f}" for x, y in run)
            if len(run) == 1:
                x, y = run[0]
                parts.append(f'<circle cx="{sx(x):.1f}" cy="{sy(y):.1f}" r="2" fill="{color}"/>')
            else:
                parts.append(
                    f'<polyline class="mark" points="{d}" fill="none" stroke="{color}" '
                    f'stroke-width="1.6"><title>{html.escape(name)}</title></polyline>'
                )
    parts.append(_legend([name for name, _ in series]))
    return _svg(parts)


def scatter_chart(
    points: Sequence[tuple[str, float, float]], x_unit: str = "", y_unit: str = ""
) -> str | None:
    """Labelled dots ``(label, x, y)`` on value axes from zero (not finite: left out); None
    when there are none."""
    points = [p for p in points if _drawable(p[1]) and _drawable(p[2])]
    if not points:
        return None
    x_ticks = nice_ticks(0.0, max(x for _, x, _ in points), 4)
    y_ticks = nice_ticks(0.0, max(y for _, _, y in points), 4)

    def sx(x: float) -> float:
        return LEFT + x / x_ticks[-1] * (W - LEFT - RIGHT - 90)

    def sy(y: float) -> float:
        return H - BOTTOM - y / y_ticks[-1] * (H - BOTTOM - TOP_PAD)

    parts = [_y_axis(y_ticks, sy, y_unit)]
    parts += [
        f'<text x="{sx(t):.1f}" y="{H - BOTTOM + 16}" text-anchor="middle" class="tick">'
        f"{_fmt(t, x_unit)}</text>"
        for t in x_ticks
    ]
    placed: list[tuple[float, float]] = []
    for i, (label, x, y) in enumerate(points):
        text = f"{label}: {_fmt(round(x, 2), x_unit)}, {_fmt(round(y, 2), y_unit)}"
        label_y = sy(y)
        # Dots close together (healthy POPs often are): stack their labels upwards.
        while any(abs(sx(x) - px) < 140 and abs(label_y - py) < 12 for px, py in placed):
            label_y -= 12
        placed.append((sx(x), label_y))
        parts.append(
            f'<circle class="mark" cx="{sx(x):.1f}" cy="{sy(y):.1f}" r="5" '
            f'fill="{COLORS[i % len(COLORS)]}"><title>{html.escape(text)}</title></circle>'
            f'<text x="{sx(x) + 8:.1f}" y="{label_y:.1f}" dominant-baseline="middle" '
            f'class="label">{html.escape(label[:24])}</text>'
        )
    return _svg(parts)


def _runs(points: Sequence[Point]) -> list[list[tuple[float, float]]]:
    """The points split where a value is missing (a gap, not a drop to zero)."""
    runs: list[list[tuple[float, float]]] = [[]]
    for x, y in points:
        if y is None:
            runs.append([])
        else:
            runs[-1].append((x, y))
    return [r for r in runs if r]


def bar_chart(
    items: Sequence[tuple[str, float]],
    unit: str = "",
    vertical: bool = False,
    second: Sequence[tuple[str, float]] | None = None,
    legend: tuple[str, str] | None = None,
) -> str | None:
    """Bars, horizontal (labels on the left) or vertical; ``second`` draws a paired bar per
    label. None when there are no items. A label whose value is not finite is left out."""
    keep = [
        i
        for i, (_, value) in enumerate(items)
        if _drawable(value) and (second is None or _drawable(second[i][1]))
    ]
    items = [items[i] for i in keep]
    second = [second[i] for i in keep] if second is not None else None
    if not items:
        return None
    peak = max([v for _, v in items] + [v for _, v in second or []])
    ticks = nice_ticks(0.0, peak if peak > 0 else 1.0, 4)
    top = ticks[-1]
    parts = []
    n = len(items)
    pair = 2 if second else 1
    if vertical:
        band = (W - LEFT - RIGHT) / n

        def sy(y: float) -> float:
            return H - BOTTOM - y / top * (H - BOTTOM - TOP_PAD)

        parts.append(_y_axis(ticks, sy, unit))
        for i, (label, value) in enumerate(items):
            x = LEFT + i * band + band * 0.15
            parts.append(_rect(x, sy(value), band * 0.7, H - BOTTOM - sy(value), 0, label, value))
            parts.append(
                f'<text x="{x + band * 0.35:.1f}" y="{H - BOTTOM + 14}" text-anchor="middle" '
                f'class="tick">{html.escape(label)}</text>'
            )
        return _svg(parts)
    left = 150
    height = max(H, TOP_PAD + n * 22 * pair + BOTTOM)
    band = min((height - TOP_PAD - BOTTOM) / n, 26 * pair)

    def sx(v: float) -> float:
        return left + v / top * (W - left - RIGHT - 40)

    for tick in ticks:
        parts.append(
            f'<line x1="{sx(tick):.1f}" x2="{sx(tick):.1f}" y1="{TOP_PAD}" '
            f'y2="{height - BOTTOM}" class="grid"/><text x="{sx(tick):.1f}" '
            f'y="{height - BOTTOM + 14}" text-anchor="middle" class="tick">'
            f"{_fmt(tick, unit)}</text>"
        )
    for i, (label, value) in enumerate(items):
        y = TOP_PAD + i * band + band * 0.12
        bar = band * 0.76 / pair
        parts.append(
            f'<text x="{left - 6}" y="{y + band * 0.45:.1f}" text-anchor="end" '
            f'dominant-baseline="middle" class="label">{html.escape(label[:24])}</text>'
        )
        for j, (v, color) in enumerate([(value, 0)] + ([(second[i][1], 1)] if second else [])):
            top_y = y + j * bar
            parts.append(_rect(left, top_y, sx(v) - left, bar, color, label, v, unit))
            parts.append(
                f'<text x="{sx(v) + 4:.1f}" y="{top_y + bar / 2:.1f}" '
                f'dominant-baseline="middle" class="tick">{_fmt(round(v, 2), unit)}</text>'
            )
    if legend:
        parts.append(_legend(list(legend)))
    return _svg(parts, height)


def _rect(
    x: float, y: float, w: float, h: float, color: int, label: str, value: float, unit: str = ""
) -> str:
    return (
        f'<rect class="mark" x="{x:.1f}" y="{y:.1f}" width="{max(w, 1):.1f}" '
        f'height="{max(h, 0.5):.1f}" fill="{COLORS[color]}"><title>{html.escape(label)}: '
        f"{_fmt(round(value, 2), unit)}</title></rect>"
    )


def _y_axis(ticks: list[float], sy, unit: str) -> str:
    return "".join(
        f'<line x1="{LEFT}" x2="{W - RIGHT}" y1="{sy(t):.1f}" y2="{sy(t):.1f}" class="grid"/>'
        f'<text x="{LEFT - 6}" y="{sy(t):.1f}" text-anchor="end" dominant-baseline="middle" '
        f'class="tick">{_fmt(t, unit)}</text>'
        for t in ticks
    )


def _time_axis(x0: float, x1: float, sx) -> str:
    span_min = (x1 - x0) / 60_000
    step = (
        next((s for s in (1, 2, 5, 10, 15, 30, 60, 120, 360, 720) if span_min / s <= 6), 1440)
        * 60_000
    )
    tick = math.ceil(x0 / step) * step
    out = []
    while tick <= x1:
        label = datetime.fromtimestamp(tick / 1000, UTC).strftime("%H:%M")
        out.append(
            f'<text x="{sx(tick):.1f}" y="{H - BOTTOM + 16}" text-anchor="middle" '
            f'class="tick">{label}</text>'
        )
        tick += step
    return "".join(out)


def _legend(names: list[str]) -> str:
    out = []
    x = LEFT
    for i, name in enumerate(names):
        out.append(
            f'<rect x="{x}" y="6" width="10" height="10" fill="{COLORS[i % len(COLORS)]}"/>'
            f'<text x="{x + 14}" y="15" class="label">{html.escape(name)}</text>'
        )
        x += 24 + 7 * len(name)
    return "".join(out)


def _svg(parts: list[str], height: int | float = H) -> str:
    return (
        f'<svg viewBox="0 0 {W} {height:.0f}" width="100%" role="img" '
        f'xmlns="http://www.w3.org/2000/svg">{"".join(parts)}</svg>'
    )
