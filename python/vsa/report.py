"""``vsa report``: one self-contained HTML file of the KPI tables, for a streaming operator.

Spark reduces the tables to a few hundred numbers (the queries are here); the charts are inline
SVG drawn by :mod:`vsa.charts`, so the file has no script, no font and no stylesheet to fetch:
it opens offline, in any browser, and can be mailed. Sections whose table does not exist yet
(``cdn_qos_minute`` before CDN logs are ingested, ``kpi_by_pop`` before CMCD requests are
joined with views) say so instead of drawing an empty chart.
"""

from __future__ import annotations

import html
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from pyspark.sql import Column, DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql.utils import AnalysisException

from vsa import functions as vf
from vsa.charts import Point, bar_chart, line_chart, scatter_chart
from vsa.config import VsaConfig
from vsa.kpis.live import live_view
from vsa.kpis.minute import SCORES, STARTUP_BUCKETS_MS

REPORT_FILE = "report.html"
# Newest minutes drawn in the time series (a day).
MAX_MINUTES = 1440
# Newest ticks of the live card (ten minutes).
LIVE_TICKS = 60
TOP = 10
STARTUP_LABELS = (
    *(
        f"<{b / 1000:g} s" if i == 0 else f"{STARTUP_BUCKETS_MS[i - 1] / 1000:g}–{b / 1000:g} s"
        for i, b in enumerate(STARTUP_BUCKETS_MS)
    ),
    f"≥{STARTUP_BUCKETS_MS[-1] / 1000:g} s",
    "unknown",
)
SCORE_LABELS = dict(
    zip(
        SCORES,
        ("playback success", "startup", "smoothness", "video quality", "overall"),
        strict=True,
    )
)


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
            "upscale_pct",
            "downscale_pct",
            "avg_bitrate_kbps",
            "watch_time_ms",
            "ad_minutes",
            *SCORES,
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
    charts.append(_live_chart(_table(spark, config, "live")))
    charts += [
        Chart(
            "Experience scores",
            "mean scores (0–100) of the views that ended in the minute",
            line_chart([(label, series(score)) for score, label in SCORE_LABELS.items()]),
        ),
        Chart(
            "Picture quality",
            "how much the picture was stretched (upscale) or shrunk (downscale) to fit the "
            "player, % of playing time weighted",
            line_chart(
                [("upscale", series("upscale_pct")), ("downscale", series("downscale_pct"))],
                unit="%",
            ),
        ),
        Chart(
            "Ads and content",
            "minutes of content watched and of ads played, per minute",
            line_chart(
                [("content", series("watch_time_ms", 1 / 60_000)), ("ads", series("ad_minutes"))],
                unit=" min",
            ),
        ),
        Chart(
            "Bitrate",
            "mean rendition bitrate, weighted by playing time, kbps",
            line_chart([("bitrate", series("avg_bitrate_kbps"))], unit=" kbps"),
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


def _live_chart(live: DataFrame | None) -> Chart:
    """The newest ten minutes of the ``live`` table, per 10-s tick (docs/kpis.md, "Live")."""
    title = "Live: the last 10 minutes"
    note = (
        "viewers watching and stalled per 10-s tick, and playback failures in the last minute "
        "per 1,000 viewers; provisional, the newest ticks are still filling"
    )
    if live is None:
        return Chart(title, note, None, "no live table yet: vsa run writes it")
    rows = live_view(live).orderBy(F.desc("tick")).limit(LIVE_TICKS).orderBy("tick").collect()
    t = [r["tick"].replace(tzinfo=UTC).timestamp() * 1000 for r in rows]

    def series(column: str) -> list[Point]:
        return [(x, r[column]) for x, r in zip(t, rows, strict=True)]

    lines = [
        ("watching", series("concurrent_viewers")),
        ("stalled", series("stalled_viewers")),
        ("failures per 1,000", series("failures_per_1000_viewers")),
    ]
    return Chart(title, note, line_chart(lines))


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
        vf.sketch_estimate(vf.sketch_union("unique_viewers_sketch")).alias("viewers"),
        F.sum("watch_time_ms").alias("watch"),
        F.sum("stall_time_ms").alias("stall"),
        F.sum("playback_failures").alias("failures"),
        F.sum("vsf_views").alias("vsf"),
        F.sum("ebvs_views").alias("ebvs"),
        F.sum("ended_views").alias("ended"),
        F.max("concurrent_viewers").alias("peak"),
        F.sum("score_overall_sum").alias("score"),
        F.sum("score_overall_count").alias("scored"),
        F.sum("ad_breaks").alias("ad_breaks"),
        F.sum("ad_failures").alias("ad_failures"),
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
        ("experience score", f"{s['score'] / s['scored']:.1f}" if s["scored"] else "–"),
        ("ad failures", pct("ad_failures", "ad_breaks")),
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
