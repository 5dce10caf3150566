"""Windowed KPIs over view slices: every figure of kpis.md, overall and per dimension.

Sums are exact; unique viewers are a DataSketches HLL sketch (``vsa_viewer_sketch``, the very
function vsa offers its users, byte for byte Spark's ``hll_sketch_agg``; mergeable) plus its
estimate; startup-time percentiles come from a KLL sketch (Spark's
``kll_sketch_agg_bigint``, exact while a window holds fewer than ``KLL_K`` startups, mergeable
for rollups). Ratios are stored beside their parts so rollups recompute them.

``kpi_by_pop`` adds the CDN side of the same slices (:func:`pop_kpis`): the figures of the
requests attributed to them, from the slices' parts and sketches.
"""

from __future__ import annotations

from collections.abc import Mapping

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

from vsa import functions as vf
from vsa.config import VsaConfig

# Upper bounds of the startup histogram's first seven buckets (kpis.md); the seventh is open.
# An eighth count holds the plays whose startup time is unknown (pause or seek before the
# first frame), so startups are never zero-filled and never vanish.
STARTUP_BUCKETS_MS = (250, 500, 1000, 2000, 5000, 10000)
HLL_LG_K = 12
KLL_K = 4096
UNKNOWN = "unknown"
POP_DIMENSIONS = ("cdn", "pop", "country")


def pop_kpis(slices: DataFrame, config: VsaConfig) -> DataFrame:
    """``kpi_by_pop``: the KPIs (:func:`grouped_kpis`) of the slices whose minute had attributed CDN
    requests, by the CDN and POP that served the minute's most bytes (``cdn_primary_cdn``,
    ``cdn_primary_pop``) and country, with the CDN figures of those requests."""
    served = slices.where(F.col("cdn_primary_pop").isNotNull()).withColumns(
        {"cdn": F.col("cdn_primary_cdn"), "pop": F.col("cdn_primary_pop")}
    )
    grouped = grouped_kpis(served, config, {"kpi_by_pop": POP_DIMENSIONS}, served=True)
    return kpis_of(grouped, "kpi_by_pop", POP_DIMENSIONS)


def grouped_kpis(
    slices: DataFrame,
    config: VsaConfig,
    groupings: Mapping[str, tuple[str, ...]],
    served: bool = False,
) -> DataFrame:
    """The KPIs of ``slices`` (``view_slices`` rows, a batch DataFrame) in tumbling event-time
    windows of ``config.window_seconds``, for every grouping of ``groupings`` (a name and its
    dimensions; null values form the group ``"unknown"``) from one aggregation (``GROUPING
    SETS``): the slices are read and shuffled once for all of them. Column ``grouping`` names a
    row's grouping; :func:`kpis_of` selects one.
    ``served``: with the figures of the CDN requests attributed to the slices (``kpi_by_pop``).
    Cache the result when more than one grouping is read from it.

    The invariant the streaming job rests on: the sessionizer emits all of a minute's slices
    in the micro-batch whose watermark passes the minute's end, and none before. So a
    micro-batch's slices aggregated by minute are those minutes' final KPIs, and a longer
    window's are final once the batch whose watermark passes its end has written its slices
    (``tests/test_one_query.py`` pins this).
    """
    dimensions = list(dict.fromkeys(d for ds in groupings.values() for d in ds))
    keys = ["window_start", *dimensions]
    sets = [("window_start", *ds) for ds in groupings.values()]
    if len(set(map(frozenset, sets))) < len(sets):
        raise ValueError(f"two groupings have the same dimensions: {dict(groupings)}")
    # grouping_id(): one bit per key, from the first, set when the key is not grouped on.
    ids = {
        name: sum(1 << (len(keys) - 1 - i) for i, k in enumerate(keys) if k not in group)
        for name, group in zip(groupings, sets, strict=True)
    }
    grouping = F.lit(None).cast("string")
    for name, gid in ids.items():
        grouping = F.when(F.col("grouping_id") == gid, name).otherwise(grouping)
    window = config.window_seconds
    keyed = slices.withColumns(
        {
            "window_start": window_of(F.col("minute"), window),
            **{d: _dimension(slices, d) for d in dimensions},
        }
    )
    aggregated = keyed.groupingSets(sets, *keys).agg(
        *_aggregates(),
        *_parts(),
        *(_served_parts() if served else []),
        F.grouping_id().alias("grouping_id"),
    )
    return aggregated.select(
        grouping.alias("grouping"),
        "window_start",
        (F.col("window_start") + F.expr(f"INTERVAL {window} SECONDS")).alias("window_end"),
        *dimensions,
        *finish_columns(window, served),
    )


def window_of(minute: Column, window_seconds: int) -> Column:
    """The start of the tumbling window of ``window_seconds`` holding ``minute``, aligned on
    the epoch as Spark's window() aligns them."""
    if window_seconds == 60:
        return minute
    return F.timestamp_seconds(F.floor(F.unix_seconds(minute) / window_seconds) * window_seconds)


def kpis_of(grouped: DataFrame, name: str, dimensions: tuple[str, ...]) -> DataFrame:
    """The rows of grouping ``name`` of :func:`grouped_kpis`, with its ``dimensions`` only."""
    # The KPI columns follow the dimensions, from "views" on.
    figures = grouped.columns[grouped.columns.index("views") :]
    return grouped.where(F.col("grouping") == name).select(
        "window_start", "window_end", *dimensions, *figures
    )


def _dimension(slices: DataFrame, name: str) -> Column:
    value = F.col(name).cast("string") if name in slices.columns else F.lit(None).cast("string")
    return F.coalesce(value, F.lit(UNKNOWN)).alias(name)


def _aggregates() -> list[Column]:
    startup = F.col("startup_time_ms")
    first_frame = F.col("first_frame")
    return [
        F.sum(F.col("opened").cast("long")).alias("views"),
        F.sum(first_frame.cast("long")).alias("plays"),
        vf.viewer_sketch("viewer_id", HLL_LG_K).alias("unique_viewers_sketch"),
        F.sum("watch_time_ms").alias("watch_time_ms"),
        F.sum("playing_time_ms").alias("playing_time_ms"),
        F.sum("stall_time_ms").alias("stall_time_ms"),
        F.sum("stall_count").cast("long").alias("stall_count"),
        F.sum(F.col("failed").cast("long")).alias("playback_failures"),
        F.sum(F.col("vsf").cast("long")).alias("vsf_views"),
        F.sum(F.col("ebvs").cast("long")).alias("ebvs_views"),
        F.sum(F.col("ended").cast("long")).alias("ended_views"),
        F.sum(F.col("active").cast("long")).alias("active_view_minutes"),
        F.kll_sketch_agg_bigint(startup, KLL_K).alias("startup_time_sketch"),
        F.sum(startup).alias("startup_time_sum_ms"),
        F.count(startup).alias("startup_time_count"),
        F.array(*_startup_histogram(startup, first_frame)).alias("startup_hist"),
        *[F.sum(part).alias(part) for part in PICTURE_PARTS],
        *[F.sum(part).cast("long").alias(part) for part in AD_PARTS],
    ]


def _startup_histogram(startup: Column, first_frame: Column) -> list[Column]:
    bounds = (0, *STARTUP_BUCKETS_MS, None)
    counts = []
    for low, high in zip(bounds, bounds[1:], strict=False):
        within = startup >= low if high is None else (startup >= low) & (startup < high)
        counts.append(F.count(F.when(within, 1)))
    counts.append(F.count(F.when(first_frame & startup.isNull(), 1)))
    return counts


def _parts() -> list[Column]:
    ending = F.col("closed_view.view.watch_time_ms")
    # A view's scores count in the window of the slice that ends it, as its duration does. They
    # are summed as decimals: exact, so the sum does not depend on the order of the rows.
    scored = {
        s: F.when(F.col("ended"), F.col(f"closed_view.view.{s}").cast(SCORE_SUM_TYPE))
        for s in SCORES
    }
    return [
        F.sum(F.when(F.col("ended"), ending)).alias("ended_watch_time_ms"),
        *[F.sum(value).alias(f"{score}_sum") for score, value in scored.items()],
        *[F.count(value).alias(f"{score}_count") for score, value in scored.items()],
    ]


def _served_parts() -> list[Column]:
    return [
        F.sum("cdn_requests").alias("requests"),
        F.sum("cdn_bytes").alias("bytes"),
        F.sum("cdn_errors").alias("errors"),
        F.sum("cdn_cache_hits").alias("cache_hits"),
        F.sum("cdn_cache_misses").alias("cache_misses"),
        F.kll_merge_agg_bigint("cdn_ttfb_sketch", KLL_K).alias("ttfb_sketch"),
        F.kll_merge_agg_bigint("cdn_throughput_sketch", KLL_K).alias("throughput_sketch"),
    ]


# The picture's parts of view slices, summed per window (docs/kpis.md, "Picture quality"):
# kbps·ms over playing time with a known bitrate, upscale and downscale basis points · ms over
# playing time with a known scale (the weights the KPI tables keep beside their averages), and
# bitrate downshifts (a KPI of its own). All whole numbers: their sums do not depend on the
# order Spark adds them in.
PICTURE_WEIGHTS = ("bitrate_kbps_ms", "bitrate_ms", "upscale_bp_ms", "downscale_bp_ms", "scaled_ms")
PICTURE_PARTS = (*PICTURE_WEIGHTS, "bitrate_downshifts")

# Ad breaks of view slices, summed per window (docs/kpis.md, "Ads"): time in breaks, breaks
# begun, ads failed inside them.
AD_PARTS = ("ad_time_ms", "ad_breaks", "ad_failures")

# The experience scores of ``views`` (docs/kpis.md, "Scores"), averaged per window over the
# views that end in it, from their sums and counts.
SCORES = (
    "score_playback_success",
    "score_startup",
    "score_smoothness",
    "score_video_quality",
    "score_overall",
)
SCORE_SUM_TYPE = "decimal(18,6)"
SCORE_PARTS = tuple(f"{score}_{part}" for part in ("sum", "count") for score in SCORES)

# The parts of the CDN figures that rollups sum (kll sketches: merge).
SERVED_SUMS = ("requests", "bytes", "errors", "cache_hits", "cache_misses")
SERVED_SKETCHES = ("ttfb_sketch", "throughput_sketch")


def finish_columns(window_seconds: int, served: bool = False) -> list[Column]:
    """The output columns computed from the summed parts (shared with the rollups);
    ``served``: the CDN figures of ``kpi_by_pop`` too."""
    watch = F.col("watch_time_ms")
    ended = F.col("ended_views")
    minutes = window_seconds / 60
    return [
        "views",
        "plays",
        vf.sketch_estimate("unique_viewers_sketch").alias("unique_viewers"),
        "unique_viewers_sketch",
        "watch_time_ms",
        "playing_time_ms",
        (F.col("startup_time_sum_ms") / F.col("startup_time_count")).alias("startup_time_mean_ms"),
        _quantile(0.5).alias("startup_time_p50_ms"),
        _quantile(0.95).alias("startup_time_p95_ms"),
        "startup_hist",
        "stall_time_ms",
        "stall_count",
        _ratio(F.col("stall_time_ms"), watch).alias("rebuffer_ratio"),
        _ratio(F.col("stall_count") * 60000, watch).alias("rebuffer_frequency"),
        _ratio(F.col("bitrate_kbps_ms"), F.col("bitrate_ms")).alias("avg_bitrate_kbps"),
        (_ratio(F.col("upscale_bp_ms"), F.col("scaled_ms")) / 100).alias("upscale_pct"),
        (_ratio(F.col("downscale_bp_ms"), F.col("scaled_ms")) / 100).alias("downscale_pct"),
        F.col("bitrate_downshifts").cast("long").alias("bitrate_downshifts"),
        (F.col("ad_time_ms") / 60000.0).alias("ad_minutes"),
        _pct(F.col("ad_failures"), F.col("ad_breaks")).alias("ad_failure_pct"),
        "playback_failures",
        _pct(F.col("playback_failures"), ended).alias("playback_failure_pct"),
        _pct(F.col("vsf_views"), ended).alias("vsf_pct"),
        _pct(F.col("ebvs_views"), ended).alias("ebvs_pct"),
        (F.col("active_view_minutes") / F.lit(minutes)).alias("concurrent_viewers"),
        "ended_views",
        _ratio(F.col("ended_watch_time_ms"), ended).alias("avg_view_duration_ms"),
        *[_ratio(F.col(f"{s}_sum"), F.col(f"{s}_count")).cast("double").alias(s) for s in SCORES],
        # The parts that rollups sum.
        "vsf_views",
        "ebvs_views",
        "active_view_minutes",
        "ended_watch_time_ms",
        "startup_time_sum_ms",
        "startup_time_count",
        "startup_time_sketch",
        *SCORE_PARTS,
        *PICTURE_WEIGHTS,
        *AD_PARTS,
        *(_served_columns() if served else []),
    ]


def _served_columns() -> list[Column]:
    hits, misses = F.col("cache_hits"), F.col("cache_misses")
    return [
        "requests",
        "bytes",
        _pct(F.col("errors"), F.col("requests")).alias("error_pct"),
        _ratio(hits, hits + misses).alias("cache_hit_ratio"),
        _sketch_quantile("ttfb_sketch", 0.95).alias("ttfb_p95_ms"),
        _sketch_quantile("throughput_sketch", 0.5).alias("throughput_p50_kbps"),
        # The parts that rollups sum.
        "errors",
        "cache_hits",
        "cache_misses",
        *SERVED_SKETCHES,
    ]


def _sketch_quantile(sketch: str, rank: float) -> Column:
    # kll_merge_agg of only null sketches is null: no value, no quantile.
    column = F.col(sketch)
    return F.when(column.isNotNull(), F.kll_sketch_get_quantile_bigint(column, F.lit(rank)))


def _quantile(rank: float) -> Column:
    sketch = F.col("startup_time_sketch")
    return F.when(
        F.col("startup_time_count") > 0, F.kll_sketch_get_quantile_bigint(sketch, F.lit(rank))
    )


def _ratio(part: Column, whole: Column) -> Column:
    return F.when(whole > 0, part / whole)


def _pct(part: Column, whole: Column) -> Column:
    return F.when(whole > 0, part * 100.0 / whole)
