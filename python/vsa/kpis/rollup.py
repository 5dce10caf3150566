"""Hour and day KPIs from minute KPIs: sums of the parts, unions of the sketches, ratios
recomputed, so a rolled-up hour equals the hour computed directly from the slices."""

from __future__ import annotations

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from vsa import functions as vf
from vsa.kpis.minute import (
    AD_PARTS,
    KLL_K,
    PICTURE_PARTS,
    SCORE_PARTS,
    SERVED_SKETCHES,
    SERVED_SUMS,
    STARTUP_BUCKETS_MS,
    finish_columns,
)

PERIOD_SECONDS = {"hour": 3600, "day": 86400}
SUMMED = (
    "views",
    "plays",
    "watch_time_ms",
    "playing_time_ms",
    "stall_time_ms",
    "stall_count",
    "playback_failures",
    "vsf_views",
    "ebvs_views",
    "ended_views",
    "active_view_minutes",
    "ended_watch_time_ms",
    "startup_time_sum_ms",
    "startup_time_count",
    *SCORE_PARTS,
    *PICTURE_PARTS,
    *AD_PARTS,
)


def rollup(minutes: DataFrame, period: str, dimensions: tuple[str, ...]) -> DataFrame:
    """``minutes`` (a ``kpi_minute`` or ``kpi_by_*`` table) rolled up to ``period`` (hour,
    day). ``peak_concurrent_viewers`` is the busiest window's ``concurrent_viewers``. The CDN
    figures of ``kpi_by_pop`` roll up with the rest when ``minutes`` has them."""
    if period not in PERIOD_SECONDS:
        raise ValueError(f"period must be one of {', '.join(PERIOD_SECONDS)}, not {period!r}")
    start = F.date_trunc(period, "window_start").alias("window_start")
    buckets = len(STARTUP_BUCKETS_MS) + 2
    served = "requests" in minutes.columns
    served_parts = [F.sum(c).alias(c) for c in SERVED_SUMS] + [
        F.kll_merge_agg_bigint(c, KLL_K).alias(c) for c in SERVED_SKETCHES
    ]
    rolled = minutes.groupBy(start, *dimensions).agg(
        *(served_parts if served else []),
        *[F.sum(c).alias(c) for c in SUMMED],
        vf.sketch_union("unique_viewers_sketch").alias("unique_viewers_sketch"),
        F.kll_merge_agg_bigint("startup_time_sketch", KLL_K).alias("startup_time_sketch"),
        F.array(*[F.sum(F.col("startup_hist")[i]) for i in range(buckets)]).alias("startup_hist"),
        F.max("concurrent_viewers").alias("peak_concurrent_viewers"),
    )
    return rolled.select(
        "window_start",
        (F.col("window_start") + F.expr(f"INTERVAL 1 {period.upper()}")).alias("window_end"),
        *dimensions,
        *finish_columns(PERIOD_SECONDS[period], served),
        "peak_concurrent_viewers",
    )
