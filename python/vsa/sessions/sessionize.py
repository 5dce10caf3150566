"""Sessionization runs in the jar (``vsa.spark.sessions.Sessionizer``, flatMapGroupsWithState);
this module shapes its input and output. See docs/architecture.md for why it lives in Scala."""

from __future__ import annotations

from pyspark.sql import DataFrame
from pyspark.sql import functions as F
from pyspark.sql.classic.dataframe import DataFrame as ClassicDataFrame

from vsa.config import VsaConfig
from vsa.enrich import GEO_COLUMNS, USER_AGENT_COLUMNS

# Descriptive columns a view takes from its first event that has them (in this order).
ATTRIBUTE_COLUMNS = (
    "viewer_id",
    "stream_type",
    "cdn",
    "player_name",
    "player_version",
    *USER_AGENT_COLUMNS,
    *GEO_COLUMNS,
)
SLICE_COLUMNS = (
    "view_id",
    "session_id",
    "minute",
    "video_id",
    "opened",
    "first_frame",
    "startup_time_ms",
    "watch_time_ms",
    "playing_time_ms",
    "stall_time_ms",
    "stall_count",
    "failed",
    "vsf",
    "ebvs",
    "ended",
    "active",
)


def sessionize(events: DataFrame, config: VsaConfig) -> DataFrame:
    """Runs the sessionizer over player events (streaming or batch) that carry their ``raw``
    record and Kafka coordinates. A streaming input must already carry its watermark, on
    ``event_time`` (the source sets it, see :mod:`vsa.pipeline`).

    Returns one row per emitted slice: struct ``slice`` and, on the slice that ends a view,
    struct ``closed_view``; descriptive columns travel in ``attrs`` (see :func:`view_slices`).
    An event the sessionizer rejects (``late``, ``duplicate``) is a row with struct
    ``rejected`` instead (see :func:`rejected_events`).

    A struct column ``passthrough`` of ``events`` comes out unchanged in the micro-batch its
    row came in (a row of its own); a row whose ``session_id`` is null is passed through
    only, so a record that is not a valid event can travel the same query.
    """
    attributes = [c for c in ATTRIBUTE_COLUMNS if c in events.columns]
    event_time = F.col("event_time") if "event_time" in events.columns else F.col("ts")
    carried = ["passthrough"] if "passthrough" in events.columns else []
    prepared = events.select(
        "session_id",
        "event_id",
        "event_type",
        F.unix_millis("ts").alias("ts_ms"),
        event_time.alias("event_time"),
        "video_id",
        "bitrate_kbps",
        F.array(*[F.col(c).cast("string") for c in attributes]).alias("attrs"),
        "raw",
        "kafka_topic",
        "kafka_partition",
        "kafka_offset",
        *carried,
    ).withColumnRenamed("ts_ms", "ts")
    spark = events.sparkSession
    jdf = spark._jvm.vsa.spark.sessions.Sessionizer.sessionize(  # type: ignore[union-attr]
        prepared._jdf,  # type: ignore[attr-defined]
        config.view_timeout_seconds * 1000,
        config.max_event_gap_seconds * 1000,
    )
    types = dict(events.dtypes)
    out = ClassicDataFrame(jdf, spark)
    return out.withColumns(
        {
            "attributes": F.struct(
                *[
                    F.col("slice.attrs")[i].cast(types[name]).alias(name)
                    for i, name in enumerate(attributes)
                ]
            )
        }
    )


def view_slices(sessionized: DataFrame) -> DataFrame:
    """The ``view_slices`` table: one row per view and minute, with the descriptive columns,
    and the closed view's row (``closed_view``) on the slice that ends it."""
    return sessionized.where(F.col("slice").isNotNull()).select(
        *[F.col(f"slice.{c}").alias(c) for c in SLICE_COLUMNS if c != "minute"],
        F.timestamp_millis("slice.minute").alias("minute"),
        "attributes.*",
        F.when(
            F.col("closed_view").isNotNull(),
            F.struct(
                F.col("closed_view").dropFields("attrs").alias("view"),
                F.col("attributes").alias("attributes"),
            ),
        ).alias("closed_view"),
    )


def views(slices: DataFrame) -> DataFrame:
    """The ``views`` table from ``view_slices`` rows (those that carry a closed view)."""
    closed = slices.where(F.col("closed_view").isNotNull())
    return closed.select("closed_view.view.*", "closed_view.attributes.*").withColumns(
        {c: F.timestamp_millis(c) for c in ("view_start", "view_end", "closed_at")}
    )
