"""CDN quality of service per window, cdn, pop, country and object type (kpis.md, "CDN quality
of service"), from ``cdn_requests`` rows.

Percentiles are exact (``percentile``, linear interpolation between the two nearest values):
a group is one minute of one PoP's requests for one country and object type, small enough to
hold, and exact figures are what a CDN's own reports are compared with.
"""

from __future__ import annotations

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

from vsa.config import VsaConfig
from vsa.kpis.minute import window_of

QOS_DIMENSIONS = ("cdn", "pop", "country", "object_type")
UNKNOWN = "unknown"
# kpis.md groups object types as manifest, video, audio and other.
QOS_OBJECT_TYPES = {"manifest": "manifest", "video": "video", "muxed": "video", "audio": "audio"}


def qos_object_type(object_type: Column) -> Column:
    """The object type of ``cdn_qos_minute``: manifest, video (muxed too), audio or other."""
    grouped = F.lit("other")
    for name, group in QOS_OBJECT_TYPES.items():
        grouped = F.when(object_type == name, F.lit(group)).otherwise(grouped)
    return grouped


def cdn_qos(requests: DataFrame, config: VsaConfig, slices: DataFrame | None = None) -> DataFrame:
    """``cdn_qos_minute``: tumbling event-time windows of ``config.window_seconds`` over
    ``cdn_requests`` rows (column ``timestamp``; a batch DataFrame: the streaming job hands it
    a window's requests once its watermark has passed the window). Null dimension values form
    the group ``"unknown"``. ``slices``: the ``view_slices`` of the same windows, whose
    attributed requests give ``cdn_attributed_pct`` (none: 0)."""
    window = F.window("timestamp", f"{config.window_seconds} seconds").alias("window")
    keys = [
        F.coalesce(F.col(d).cast("string"), F.lit(UNKNOWN)).alias(d)
        for d in ("cdn", "pop", "country")
    ] + [qos_object_type(F.col("object_type")).alias("object_type")]
    status = F.col("status")
    download = F.col("download_ms")
    cmcd = F.col("cmcd_v").isNotNull()  # vsa_parse_cmcd sets v (default 1) whenever CMCD is read
    aggregated = requests.groupBy(window, *keys).agg(
        F.count(F.lit(1)).alias("requests"),
        F.sum("bytes").alias("bytes"),
        F.count(F.when((status >= 400) & (status < 500), 1)).alias("errors_4xx"),
        F.count(F.when(status >= 500, 1)).alias("errors_5xx"),
        # Status 0 is a request the CDN never answered (CloudFront's sc-status 000).
        F.count(F.when((status >= 400) | (status == 0), 1)).alias("errors"),
        F.count(F.when(F.col("cache_status") == "HIT", 1)).alias("cache_hits"),
        F.count(F.when(F.col("cache_status") == "MISS", 1)).alias("cache_misses"),
        F.percentile("ttfb_ms", F.lit(0.5)).alias("ttfb_p50_ms"),
        F.percentile("ttfb_ms", F.lit(0.95)).alias("ttfb_p95_ms"),
        F.percentile(download, F.lit(0.5)).alias("download_p50_ms"),
        F.percentile(download, F.lit(0.95)).alias("download_p95_ms"),
        # bits per millisecond is kilobits per second
        F.percentile(F.when(download > 0, F.col("bytes") * 8 / download), F.lit(0.5)).alias(
            "throughput_p50_kbps"
        ),
        F.count(F.when(cmcd, 1)).alias("cmcd_requests"),
        F.count(F.when(cmcd & F.col("cmcd_bs"), 1)).alias("cmcd_starved_requests"),
        F.percentile("cmcd_mtp", F.lit(0.5)).alias("cmcd_mtp_p50_kbps"),
        F.percentile("cmcd_bl", F.lit(0.5)).alias("cmcd_bl_p50_ms"),
    )
    aggregated = _with_attributed_pct(aggregated, slices, config)
    requests_ = F.col("requests")
    hits, misses = F.col("cache_hits"), F.col("cache_misses")
    cmcd_requests = F.col("cmcd_requests")
    return aggregated.select(
        F.col("window.start").alias("window_start"),
        F.col("window.end").alias("window_end"),
        *QOS_DIMENSIONS,
        "requests",
        "bytes",
        "errors_4xx",
        "errors_5xx",
        (F.col("errors") * 100.0 / requests_).alias("error_pct"),
        "cache_hits",
        "cache_misses",
        F.when(hits + misses > 0, hits / (hits + misses)).alias("cache_hit_ratio"),
        "ttfb_p50_ms",
        "ttfb_p95_ms",
        "download_p50_ms",
        "download_p95_ms",
        "throughput_p50_kbps",
        "cmcd_requests",
        F.when(cmcd_requests > 0, F.col("cmcd_starved_requests") / cmcd_requests).alias(
            "buffer_starvation_rate"
        ),
        "cmcd_mtp_p50_kbps",
        "cmcd_bl_p50_ms",
        "cdn_attributed_pct",
        # The parts that rollups sum.
        "errors",
        "cmcd_starved_requests",
    )


def _with_attributed_pct(
    aggregated: DataFrame, slices: DataFrame | None, config: VsaConfig
) -> DataFrame:
    """Adds ``cdn_attributed_pct``: the share of a window's and CDN's requests that the
    sessionizer attributed to a view (``view_slices.cdn_requests``, by the CDN of the slice's
    requests), the same on every row of that window and CDN."""
    key = ["window_start", "cdn"]
    window_start = F.col("window.start").alias("window_start")
    totals = aggregated.groupBy(window_start, "cdn").agg(F.sum("requests").alias("all"))
    if slices is None:
        attributed = F.lit(0)
    else:
        by_window = slices.where(F.col("cdn_requests") > 0).groupBy(
            window_of(F.col("minute"), config.window_seconds).alias("window_start"),
            F.coalesce(F.col("cdn_primary_cdn"), F.lit(UNKNOWN)).alias("cdn"),
        )
        totals = totals.join(by_window.agg(F.sum("cdn_requests").alias("attributed")), key, "left")
        attributed = F.coalesce(F.col("attributed"), F.lit(0))
    pct = totals.select(*key, (attributed * 100.0 / F.col("all")).alias("cdn_attributed_pct"))
    return aggregated.withColumn("window_start", F.col("window.start")).join(pct, key, "left")
