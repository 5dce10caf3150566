"""The live view (docs/kpis.md, "Live"): per 10-s tick, viewers watching and stalled now, and
starts, start failures, exits before start and failures as they happen, written every
micro-batch from the sessionizer's state without waiting for the watermark.

Rows are provisional parts that add up: each micro-batch appends what it saw, so one tick (and
CDN and country) may have rows from several batches. :func:`live_view` adds them up.
"""

from __future__ import annotations

from collections.abc import Sequence

from pyspark.sql import DataFrame, Window
from pyspark.sql import functions as F

from vsa.sessions import LIVE_DIMENSIONS as DIMENSIONS

TICK_SECONDS = 10
# What a live row counts, in the order of the jar's LiveRow; each adds up over rows.
COUNTS = (
    "concurrent_viewers",
    "stalled_viewers",
    "start_attempts",
    "start_failures",
    "exits_before_start",
    "playback_failures",
)
# The event counts that live_view also gives over the last minute.
EVENT_COUNTS = COUNTS[2:]


def live_rows(parts: DataFrame) -> DataFrame:
    """The ``live`` table's rows of one micro-batch: the sessions' parts (the sessionizer's
    ``live`` structs, as columns) added up per tick, CDN and country. A few rows a batch: one
    partition, so the write is one task and one file."""
    return (
        parts.groupBy("tick", *DIMENSIONS)
        .agg(*[F.sum(c).cast("bigint").alias(c) for c in COUNTS])
        .withColumn("tick", F.timestamp_millis("tick"))
        .coalesce(1)
    )


def live_view(live: DataFrame, by: Sequence[str] = ()) -> DataFrame:
    """The ``live`` table (``live``, its rows of any batches) added up per tick, overall or
    ``by`` some of :data:`DIMENSIONS`; with, per tick, each event count over the minute that
    ends with the tick (``*_last_minute``: its six ticks) and ``failures_per_1000_viewers``
    (playback failures in the last minute per 1,000 concurrent viewers of the tick).

    The last tick or two are still filling: a viewer counts in a tick once an event of theirs
    in it (or after it) has arrived.

    >>> from vsa.kpis.live import live_view
    >>> rows = spark.createDataFrame(
    ...     [("2026-01-01 00:00:00", "akamai", "DE", 4, 1, 2, 0, 0, 1),
    ...      ("2026-01-01 00:00:00", "akamai", "DE", 2, 0, 1, 1, 0, 1),
    ...      ("2026-01-01 00:00:10", "fastly", "FR", 5, 0, 0, 0, 1, 0)],
    ...     "tick string, cdn string, country string, concurrent_viewers int,"
    ...     " stalled_viewers int, start_attempts int, start_failures int,"
    ...     " exits_before_start int, playback_failures int",
    ... ).withColumn("tick", F.to_timestamp("tick"))
    >>> live_view(rows).select(
    ...     "tick", "concurrent_viewers", "start_attempts_last_minute", "failures_per_1000_viewers"
    ... ).show()
    +-------------------+------------------+--------------------------+-------------------------+
    |               tick|concurrent_viewers|start_attempts_last_minute|failures_per_1000_viewers|
    +-------------------+------------------+--------------------------+-------------------------+
    |2026-01-01 00:00:00|                 6|                         3|                    333.3|
    |2026-01-01 00:00:10|                 5|                         3|                    400.0|
    +-------------------+------------------+--------------------------+-------------------------+
    <BLANKLINE>
    """
    unknown = set(by) - set(DIMENSIONS)
    if unknown:
        raise ValueError(f"live_view groups by {', '.join(DIMENSIONS)}, not {sorted(unknown)}")
    ticks = live.groupBy("tick", *by).agg(*[F.sum(c).alias(c) for c in COUNTS])
    seconds = F.col("tick").cast("long")
    minute = (
        # A few rows a tick: one partition overall is no cost (and says so, not Spark's warning).
        Window.partitionBy(*(by or [F.lit(0)]))
        .orderBy(seconds)
        .rangeBetween(-(60 - TICK_SECONDS), Window.currentRow)
    )
    return (
        ticks.withColumns({f"{c}_last_minute": F.sum(c).over(minute) for c in EVENT_COUNTS})
        .withColumn(
            "failures_per_1000_viewers",
            F.when(
                F.col("concurrent_viewers") > 0,
                F.round(
                    1000 * F.col("playback_failures_last_minute") / F.col("concurrent_viewers"), 1
                ),
            ),
        )
        .orderBy(*by, "tick")
    )
