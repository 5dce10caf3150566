"""Sessionization runs in the jar (``vsa.spark.sessions.Sessionizer``, flatMapGroupsWithState);
this module shapes its input and output. See docs/architecture.md for why it lives in Scala."""

from __future__ import annotations

from pyspark.sql import Column, DataFrame, SparkSession
from pyspark.sql import functions as F

from vsa import jvm
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
# What an event says of the picture besides its bitrate (held by the view until changed).
PICTURE_FIELDS = ("video_width", "video_height", "player_width", "player_height")
# The descriptive columns the live view is broken down by.
LIVE_DIMENSIONS = ("cdn", "country")
# The one figure of a CDN request the sessionizer attributes that is not a column of its
# cdn_requests row: CMCD ``bs`` (buffer starvation).
_STARVED = "starved"


def sessionize(
    events: DataFrame, config: VsaConfig, requests: DataFrame | None = None
) -> DataFrame:
    """Runs the sessionizer over player events (streaming or batch) that carry their ``raw``
    record and Kafka coordinates, and over ``requests``: CDN requests (struct ``request``, a
    ``cdn_requests`` row or null, and ``event_time``) to attribute to the views they served
    (docs/cdn.md). A streaming input must already carry its watermark, on ``event_time`` of
    ``events`` (the source sets it, see :mod:`vsa.pipeline`).

    Returns one row per emitted slice: struct ``slice`` and, on the slice that ends a view,
    struct ``closed_view``; descriptive columns travel in ``attrs`` (see :func:`view_slices`).
    An event the sessionizer rejects (``late``, ``duplicate``) is a row with struct
    ``rejected`` instead (see :func:`rejected_events`). A session's part of the live view is a
    row with struct ``live`` (see :func:`vsa.kpis.live.live_rows`): each micro-batch that
    brings a session events gives one per 10-s tick its events touch, with its view's ``cdn``
    and ``country``.

    ``events`` may carry ``clock_offset`` (receipt time - ``ts``, ms, within the bound: see
    :func:`vsa.pipeline.player_records`): the sessionizer places each session in server time
    by it (docs/views.md, "Device clocks"); without it, event time is ``ts``.

    A struct column ``passthrough`` (of ``events``, and of ``requests`` with the same type)
    comes out unchanged in the micro-batch its row came in (a row of its own); a row without a
    session key (an event's null ``session_id``, a request without CMCD ``sid``) is passed
    through only, so a record that is not a valid event, or any CDN line, travels the same
    query.
    """
    attributes = [c for c in ATTRIBUTE_COLUMNS if c in events.columns]
    event_time = F.col("event_time") if "event_time" in events.columns else F.col("ts")
    carried = ["passthrough"] if "passthrough" in events.columns else []
    clock_offset, *picture = [
        F.col(c) if c in events.columns else F.lit(None).cast("bigint")
        for c in ("clock_offset", *PICTURE_FIELDS)
    ]
    spark = events.sparkSession
    prepared = events.select(
        _session_key(events).alias("key"),
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
        F.lit(None).cast(_request_type(spark)).alias("request"),
        clock_offset.alias("clock_offset"),
        *[value.alias(name) for value, name in zip(picture, PICTURE_FIELDS, strict=True)],
    ).withColumnRenamed("ts_ms", "ts")
    if requests is not None:
        prepared = prepared.unionByName(_request_rows(requests, carried))
    out = jvm.sessionize(
        prepared,
        config.view_timeout_seconds * 1000,
        config.max_event_gap_seconds * 1000,
        config.max_pending_events_per_session,
        *[attributes.index(c) if c in attributes else -1 for c in LIVE_DIMENSIONS],
    )
    types = dict(events.dtypes)
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


def _request_type(spark: SparkSession) -> str:
    """The type of the sessionizer's ``request`` column (its ``CdnRequest``)."""
    figures = jvm.row_schemas(spark).request_figures
    return f"struct<{','.join(f'{name}:{kind}' for name, kind in figures.items())}>"


def _session_key(events: DataFrame) -> Column:
    """The key that groups a session's events with its CDN requests: its CMCD session id
    (``cmcd_sid``, sent by a player whose CMCD ``sid`` is not its ``session_id``), else its
    ``session_id``; null (passed through only) when the event has no ``session_id``."""
    session = F.col("session_id")
    if "cmcd_sid" not in events.columns:
        return session
    return F.when(session.isNotNull(), F.coalesce(F.nullif(F.col("cmcd_sid"), F.lit("")), session))


def _request_rows(requests: DataFrame, carried: list[str]) -> DataFrame:
    """CDN requests as rows of the sessionizer's input: keyed by their CMCD ``sid`` (none: the
    row is only passed through), at their ``timestamp``, with the figures attributed."""
    request = F.col("request")
    figures = F.struct(
        *[
            (
                F.coalesce(request["cmcd_bs"], F.lit(False))
                if name == _STARVED
                else request[name].cast(kind)
            ).alias(name)
            for name, kind in jvm.row_schemas(requests.sparkSession).request_figures.items()
        ]
    )
    nothing = F.lit(None).cast("string")
    return requests.select(
        F.nullif(request["cmcd_sid"], F.lit("")).alias("key"),
        nothing.alias("session_id"),
        nothing.alias("event_id"),
        nothing.alias("event_type"),
        _attribution_time(request["timestamp"]).alias("ts"),
        F.col("event_time"),
        nothing.alias("video_id"),
        F.lit(None).cast("bigint").alias("bitrate_kbps"),
        F.lit(None).cast("array<string>").alias("attrs"),
        nothing.alias("raw"),
        nothing.alias("kafka_topic"),
        F.lit(None).cast("int").alias("kafka_partition"),
        F.lit(None).cast("bigint").alias("kafka_offset"),
        *carried,
        F.when(request.isNotNull(), figures).alias("request"),
        # The CDN's clock is the server's: nothing to correct, nothing to learn of a device.
        F.lit(None).cast("bigint").alias("clock_offset"),
        *[F.lit(None).cast("bigint").alias(name) for name in PICTURE_FIELDS],
    )


def view_slices(sessionized: DataFrame) -> DataFrame:
    """The ``view_slices`` table: one row per view and minute, with the descriptive columns,
    and the closed view's row (``closed_view``) on the slice that ends it."""
    columns = jvm.row_schemas(sessionized.sparkSession).slice_columns
    return sessionized.where(F.col("slice").isNotNull()).select(
        # attrs: the descriptive columns, typed as the events had them (sessionize).
        *[F.col(f"slice.{c}").alias(c) for c in columns if c not in ("minute", "attrs")],
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


def _attribution_time(timestamp: Column) -> Column:
    """When a request is attributed (epoch ms): its time, or the end of its second when the
    log has whole seconds only (nginx's ``$time_local``, CloudFront's ``time``). The request
    completed somewhere in that second, maybe after its view started within it: placed at the
    second's start it would miss the view that it served (docs/cdn.md, "Attribution")."""
    ms = F.unix_millis(timestamp)
    return F.when(ms % 1000 == 0, ms + 999).otherwise(ms)
