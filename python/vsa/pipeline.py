"""Wires the stages: source → normalize → enrich → sessions → tables, streaming or batch.

The same :func:`transform` serves both: ``vsa run`` feeds it from Kafka, ``vsa batch`` from
JSON-lines files, and both write the same tables.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql.streaming import StreamingQuery

from vsa.config import VsaConfig
from vsa.enrich import mask_client_ip, mask_ips_in_text, with_user_agent
from vsa.normalize import parse_player_events, player_event_dead_letters, valid_player_events
from vsa.sessions import sessionize, view_slices, views
from vsa.sinks import (
    read_table_stream,
    rows_written,
    write_table_batch,
    write_table_stream,
)
from vsa.sources import empty_raw, read_kafka_stream, read_text_files

# Each table's event-time column, which gives its date/hour partitions.
TIME_COLUMNS = {
    "player_events": "ts",
    "dead_letter": "received_at",
    "view_slices": "minute",
    "views": "view_start",
}


def player_events(parsed: DataFrame, config: VsaConfig) -> DataFrame:
    """The ``player_events`` table from :func:`vsa.normalize.parse_player_events`' output."""
    return mask_client_ip(with_user_agent(valid_player_events(parsed)), config)


def dead_letters(parsed: DataFrame, config: VsaConfig) -> DataFrame:
    """The ``dead_letter`` rows from :func:`vsa.normalize.parse_player_events`' output."""
    return mask_ips_in_text(player_event_dead_letters(parsed), config)


def transform(raw: DataFrame, config: VsaConfig) -> dict[str, DataFrame]:
    """Raw records (the columns of :mod:`vsa.sources`) → every table but ``views``, which
    derives from ``view_slices`` (:func:`vsa.sessions.views`)."""
    parsed = parse_player_events(raw)
    events = player_events(parsed, config)
    return {
        "player_events": events,
        "dead_letter": dead_letters(parsed, config),
        "view_slices": view_slices(sessionize(events, config)),
    }


@dataclass
class RunResult:
    """What a run did: rows written per table, events dropped as late, the queries."""

    rows_written: dict[str, int]
    late_events: int = 0
    queries: list[StreamingQuery] = field(default_factory=list)


def start(
    spark: SparkSession, config: VsaConfig, trigger: dict[str, object] | None = None
) -> list[StreamingQuery]:
    """Starts every streaming query of the job; each table has its own query and checkpoint.
    ``views`` reads the committed ``view_slices`` files, so it lags them by a trigger."""
    return _start_from_kafka(spark, config, trigger) + [_start_views(spark, config, trigger)]


def run_until_caught_up(spark: SparkSession, config: VsaConfig) -> RunResult:
    """Processes everything in the topics now (``availableNow``) and stops."""
    trigger = {"availableNow": True}
    queries = _start_from_kafka(spark, config, trigger)
    for query in queries:
        query.awaitTermination()
    views_query = _start_views(spark, config, trigger)
    views_query.awaitTermination()
    queries.append(views_query)
    return RunResult(
        rows_written={q.name: rows_written(q) for q in queries},
        late_events=sum(_late_events(q) for q in queries),
        queries=queries,
    )


def run_batch(spark: SparkSession, config: VsaConfig, events_path: str) -> RunResult:
    """``vsa batch``: the same tables from JSON-lines files (a file or a directory)."""
    tables = transform(read_text_files(spark, events_path), config)
    slices = tables["view_slices"].cache()
    tables = {**tables, "view_slices": slices, "views": views(slices)}
    written = {
        name: write_table_batch(df, config, name, TIME_COLUMNS[name]) for name, df in tables.items()
    }
    slices.unpersist()
    return RunResult(rows_written=written)


def _start_from_kafka(
    spark: SparkSession, config: VsaConfig, trigger: dict[str, object] | None
) -> list[StreamingQuery]:
    trigger = trigger or {"processingTime": config.trigger_interval}
    raw = read_kafka_stream(spark, config, config.player_events_topic)
    return [
        write_table_stream(df, config, name, TIME_COLUMNS[name], trigger)
        for name, df in transform(raw, config).items()
    ]


def _start_views(
    spark: SparkSession, config: VsaConfig, trigger: dict[str, object] | None
) -> StreamingQuery:
    trigger = trigger or {"processingTime": config.trigger_interval}
    # The slices' schema, planned (not run) over an empty batch input.
    batch_schema = transform(empty_raw(spark), config)["view_slices"].schema
    slices = read_table_stream(spark, config, "view_slices", batch_schema)
    return write_table_stream(views(slices), config, "views", TIME_COLUMNS["views"], trigger)


def _late_events(query: StreamingQuery) -> int:
    """Rows the query's stateful operators dropped as later than the watermark."""
    return sum(
        op.numRowsDroppedByWatermark for p in query.recentProgress for op in p.stateOperators
    )
