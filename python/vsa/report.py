"""``vsa report``: one self-contained HTML file of the KPI tables, for a streaming operator.

Spark reduces the tables to a few hundred numbers; the charts are inline SVG drawn here, so the
file has no script, no font and no stylesheet to fetch: it opens offline, in any browser, and
can be mailed. Sections whose table does not exist yet (``cdn_qos_minute`` before CDN logs are
ingested, ``kpi_by_pop`` before CMCD requests are joined with views) say so instead of drawing
an empty chart.
"""

from __future__ import annotations

import html
import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from pyspark.sql import Column, DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql.utils import AnalysisException

from vsa.config import VsaConfig
from vsa.kpis.minute import STARTUP_BUCKETS_MS

REPORT_FILE = "report.html"
# Newest minutes drawn in the time series (a day).
MAX_MINUTES = 1440
TOP = 10
COLORS = ("#2563eb", "#dc2626", "#16a34a", "#d97706", "#7c3aed", "#0891b2")
STARTUP_LABELS = (
    *(
        f"<{b / 1000:g} s" if i == 0 else f"{STARTUP_BUCKETS_MS[i - 1] / 1000:g}–{b / 1000:g} s"
        for i, b in enumerate(STARTUP_BUCKETS_MS)
    ),
    f"≥{STARTUP_BUCKETS_MS[-1] / 1000:g} s",
    "unknown",
)

Point = tuple[float, float | None]


@dataclass(frozen=True)
class Chart:
    """One card of the report: a title, a line under it, and an SVG (or why there is none)."""

    title: str
    note: str
    svg: str | None
    empty: str = "no data"


def write_report(spark: SparkSession, config: VsaConfig, out_dir: str | Path) -> Path:
    """Reads the tables under ``config.output_root`` and writes ``out_dir/report.html``."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    path = out / REPORT_FILE
    path.write_text(render(spark, config), encoding="utf-8")
    return path


def render(spark: SparkSession, config: VsaConfig) -> str:
    """The report's HTML."""
    minute = _table(spark, config, "kpi_minute")
    if minute is None:
        raise FileNotFoundError(
            f"no kpi_minute table under {config.output_root}: run `vsa run` or `vsa batch` first"
        )
    rows = (
        minute.orderBy(F.desc("window_start"))
        .limit(MAX_MINUTES)
        .orderBy("window_start")
        .select(
            "window_start",
            "views",
            "concurrent_viewers",
            "startup_time_p50_ms",
            "startup_time_p95_ms",
            "rebuffer_ratio",
            "playback_failure_pct",
            "vsf_pct",
            "ebvs_pct",
        )
        .collect()
    )
    t = [r["window_start"].replace(tzinfo=UTC).timestamp() * 1000 for r in rows]

    def series(column: str, scale: float = 1.0) -> list[Point]:
        return [
            (x, None if r[column] is None else r[column] * scale)
            for x, r in zip(t, rows, strict=True)
        ]

    charts = [
        Chart(
            "Views and concurrent viewers",
            "views started per minute; viewers playing or stalled in the minute",
            line_chart([("views", series("views")), ("concurrent", series("concurrent_viewers"))]),
        ),
        Chart(
            "Startup time",
            "p50 and p95 of the minute's startups, ms",
            line_chart(
                [("p50", series("startup_time_p50_ms")), ("p95", series("startup_time_p95_ms"))],
                unit=" ms",
            ),
        ),
        Chart(
            "Startup time histogram",
            "plays by startup time, all minutes of the tables",
            bar_chart(_startup_histogram(minute), vertical=True),
        ),
        Chart(
            "Rebuffer ratio",
            "stall time / watch time, %",
            line_chart([("rebuffer", series("rebuffer_ratio", 100.0))], unit="%"),
        ),
        Chart(
            "Failures, VSF, EBVS",
            "% of the views that ended in the minute",
            line_chart(
                [
                    ("failures", series("playback_failure_pct")),
                    ("VSF", series("vsf_pct")),
                    ("EBVS", series("ebvs_pct")),
                ],
                unit="%",
            ),
        ),
    ]
    geo = _table(spark, config, "kpi_by_geo")
    charts.append(Chart("Top countries", "views", bar_chart(_top(geo, "country")) if geo else None))
    device = _table(spark, config, "kpi_by_device")
    for column, title in (
        ("device_type", "Devices"),
        ("os_family", "Operating systems"),
        ("browser_family", "Browsers"),
    ):
        charts.append(Chart(title, "views", bar_chart(_top(device, column)) if device else None))
    charts += _cdn_charts(_table(spark, config, "cdn_qos_minute"))
    charts += _pop_charts(_table(spark, config, "kpi_by_pop"))
    return _page(config, _tiles(minute), charts, t)


def _table(spark: SparkSession, config: VsaConfig, name: str) -> DataFrame | None:
    path = config.table_path(name)
    if "://" not in path and not Path(path).is_dir():
        return None  # a local table not written yet (and no Java stack trace in the log)
    try:
        return spark.read.parquet(config.table_path(name))
    except AnalysisException:
        return None


def _tiles(minute: DataFrame) -> list[tuple[str, str]]:
    """Headline figures over every minute of the table, recomputed from summed parts."""
    s = minute.agg(
        F.sum("views").alias("views"),
        F.sum("plays").alias("plays"),
        F.hll_sketch_estimate(F.hll_union_agg("unique_viewers_sketch")).alias("viewers"),
        F.sum("watch_time_ms").alias("watch"),
        F.sum("stall_time_ms").alias("stall"),
        F.sum("playback_failures").alias("failures"),
        F.sum("vsf_views").alias("vsf"),
        F.sum("ebvs_views").alias("ebvs"),
        F.sum("ended_views").alias("ended"),
        F.max("concurrent_viewers").alias("peak"),
    ).first()

    def pct(part: str, whole: str) -> str:
        return f"{s[part] * 100 / s[whole]:.2f} %" if s[whole] else "–"

    return [
        ("views", f"{s['views'] or 0:,}"),
        ("plays", f"{s['plays'] or 0:,}"),
        ("unique viewers", f"{s['viewers'] or 0:,}"),
        ("watch hours", f"{(s['watch'] or 0) / 3_600_000:,.1f}"),
        ("peak concurrent", f"{s['peak'] or 0:,.0f}"),
        ("rebuffer ratio", pct("stall", "watch")),
        ("failures", pct("failures", "ended")),
        ("VSF", pct("vsf", "ended")),
        ("EBVS", pct("ebvs", "ended")),
    ]


def _startup_histogram(minute: DataFrame) -> list[tuple[str, float]]:
    hist = minute.select(F.posexplode("startup_hist").alias("bucket", "n"))
    counts = {
        r["bucket"]: r["n"] for r in hist.groupBy("bucket").agg(F.sum("n").alias("n")).collect()
    }
    if not any(counts.values()):
        return []
    return [(label, float(counts.get(i, 0))) for i, label in enumerate(STARTUP_LABELS)]


def _top(df: DataFrame, column: str) -> list[tuple[str, float]]:
    top = (
        df.groupBy(column)
        .agg(F.sum("views").alias("views"))
        .where(F.col("views") > 0)
        .orderBy(F.desc("views"), column)
        .limit(TOP)
        .collect()
    )
    return [(str(r[column]), float(r["views"])) for r in top]


def _cdn_charts(qos: DataFrame | None) -> list[Chart]:
    """Error % and TTFB by CDN and POP, from ``cdn_qos_minute`` (CDN logs)."""
    if qos is None:
        note = "no CDN data: the cdn_qos_minute table does not exist yet"
        return [
            Chart("CDN error %", "by CDN / POP", None, note),
            Chart("CDN TTFB", "by CDN / POP", None, note),
        ]
    by_pop = (
        qos.groupBy("cdn", "pop")
        .agg(
            F.sum("requests").alias("requests"),
            F.sum(F.col("errors_4xx") + F.col("errors_5xx")).alias("errors"),
            # Request-weighted means of the minutes' percentiles (percentiles do not add).
            (F.sum(F.col("ttfb_p50_ms") * F.col("requests")) / F.sum("requests")).alias("p50"),
            (F.sum(F.col("ttfb_p95_ms") * F.col("requests")) / F.sum("requests")).alias("p95"),
        )
        .where(F.col("requests") > 0)
        .orderBy(F.desc("requests"))
        .limit(TOP)
        .collect()
    )
    label = [f"{r['cdn']} / {r['pop']}" for r in by_pop]
    errors = [(n, r["errors"] * 100.0 / r["requests"]) for n, r in zip(label, by_pop, strict=True)]
    ttfb = [(n, float(r["p50"] or 0)) for n, r in zip(label, by_pop, strict=True)]
    ttfb95 = [(n, float(r["p95"] or 0)) for n, r in zip(label, by_pop, strict=True)]
    return [
        Chart("CDN error %", "4xx + 5xx of requests, by CDN / POP", bar_chart(errors, unit="%")),
        Chart(
            "CDN TTFB",
            "time to first byte p50 and p95 (request-weighted), ms, by CDN / POP",
            bar_chart(ttfb, unit=" ms", second=ttfb95, legend=("p50", "p95")),
        ),
    ]


def _pop_charts(by_pop: DataFrame | None) -> list[Chart]:
    """The players' rebuffer ratio by the CDN POP that served them, and against its TTFB p95,
    from ``kpi_by_pop`` (views joined with the CDN requests that served them)."""
    empty = "no CDN data: no kpi_by_pop rows (CMCD requests joined with views) yet"
    weighted = "request-weighted mean of its minutes"
    if by_pop is None:
        return [
            Chart("Rebuffer ratio by POP", weighted, None, empty),
            Chart("TTFB p95 against rebuffer ratio by POP", weighted, None, empty),
        ]

    def mean(column: str) -> Column:
        # Ratios and percentiles do not add: weigh each minute by its requests.
        known = F.col(column).isNotNull()
        weight = F.when(known, F.col("requests"))
        return F.sum(F.col(column) * weight) / F.sum(weight)

    pops = (
        by_pop.groupBy("cdn", "pop")
        .agg(
            F.sum("requests").alias("requests"),
            mean("rebuffer_ratio").alias("rebuffer"),
            mean("ttfb_p95_ms").alias("ttfb_p95"),
        )
        .where(F.col("rebuffer").isNotNull())
        .orderBy(F.desc("rebuffer"), "cdn", "pop")
        .limit(TOP)
        .collect()
    )
    label = [f"{r['cdn']} / {r['pop']}" for r in pops]
    rebuffer = [(n, r["rebuffer"] * 100.0) for n, r in zip(label, pops, strict=True)]
    points = [
        (n, float(r["ttfb_p95"]), r["rebuffer"] * 100.0)
        for n, r in zip(label, pops, strict=True)
        if r["ttfb_p95"] is not None
    ]
    return [
        Chart(
            "Rebuffer ratio by POP",
            f"stall time / watch time of the views each CDN / POP served, %, {weighted}",
            bar_chart(rebuffer, unit="%"),
            empty,
        ),
        Chart(
            "TTFB p95 against rebuffer ratio by POP",
            f"one dot per CDN / POP: its time to first byte p95 (ms) and its viewers' rebuffer "
            f"ratio (%), {weighted}",
            scatter_chart(points, x_unit=" ms", y_unit="%"),
            empty,
        ),
    ]


# --- SVG -------------------------------------------------------------------------------------

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


# --- page ------------------------------------------------------------------------------------

STYLE = """
body { font: 14px/1.4 system-ui, sans-serif; margin: 24px; color: #111827; background: #f9fafb; }
h1 { font-size: 22px; margin: 0 0 4px; } .sub { color: #6b7280; margin-bottom: 16px; }
.tiles { display: flex; flex-wrap: wrap; gap: 10px; margin-bottom: 16px; }
.tile { background: #fff; border: 1px solid #e5e7eb; border-radius: 8px; padding: 8px 14px; }
.tile b { display: block; font-size: 20px; } .tile span { color: #6b7280; font-size: 12px; }
.grid2 { display: grid; grid-template-columns: repeat(auto-fill, minmax(520px, 1fr)); gap: 14px; }
.card { background: #fff; border: 1px solid #e5e7eb; border-radius: 8px; padding: 12px; }
.card h2 { font-size: 15px; margin: 0; } .card p { color: #6b7280; margin: 2px 0 6px; }
.empty { color: #9ca3af; padding: 40px 0; text-align: center; }
svg .grid { stroke: #e5e7eb; } svg .tick { font-size: 10px; fill: #6b7280; }
svg .label { font-size: 11px; fill: #374151; }
"""


def _page(
    config: VsaConfig, tiles: list[tuple[str, str]], charts: list[Chart], t: list[float]
) -> str:
    def moment(ms: float) -> str:
        return datetime.fromtimestamp(ms / 1000, UTC).strftime("%Y-%m-%d %H:%M")

    span = f"{moment(t[0])} – {moment(t[-1])} UTC" if t else "no minutes yet"
    cards = []
    for chart in charts:
        body = (
            f'<div class="chart">{chart.svg}</div>'
            if chart.svg
            else f'<div class="empty">{html.escape(chart.empty)}</div>'
        )
        cards.append(
            f'<section class="card"><h2>{html.escape(chart.title)}</h2>'
            f"<p>{html.escape(chart.note)}</p>{body}</section>"
        )
    tile_html = "".join(f'<div class="tile"><b>{v}</b><span>{k}</span></div>' for k, v in tiles)
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>vsa report</title><style>{STYLE}</style></head>
<body><h1>Video streaming report</h1>
<div class="sub">{html.escape(span)} · tables: {html.escape(config.output_root)}</div>
<div class="tiles">{tile_html}</div>
<div class="grid2">{"".join(cards)}</div>
</body></html>
"""
