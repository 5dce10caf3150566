"""Wires the stages: source → normalize → enrich → sessions → tables, streaming or batch.

The same :func:`transform` serves both: ``vsa run`` feeds it from Kafka, ``vsa batch`` from
JSON-lines files, and both write the same tables.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql.streaming import StreamingQuery

from vsa.cdn import CDN_TIME_COLUMNS, cdn_tables, read_cdn_files, read_cdn_stream
from vsa.config import VsaConfig
from vsa.enrich import mask_client_ip, mask_ips_in_text, with_geo, with_user_agent
from vsa.kpis import DIMENSION_TABLES, minute_kpis, rollup
from vsa.kpis.cdn_qos import cdn_qos as cdn_qos_of
from vsa.normalize import parse_player_events, player_event_dead_letters, valid_player_events
from vsa.sessions import sessionize, view_slices, views
from vsa.sinks import (
    read_table,
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
    **{table: "window_start" for table in (*DIMENSION_TABLES, "kpi_hour", "kpi_day")},
    **CDN_TIME_COLUMNS,
}


def player_events(parsed: DataFrame, config: VsaConfig) -> DataFrame:
    """The ``player_events`` table from :func:`vsa.normalize.parse_player_events`' output."""
    enriched = with_geo(with_user_agent(valid_player_events(parsed)))
    return mask_client_ip(enriched, config)


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
    """What a run did: rows written per table, player events dropped as later than the
    watermark (by the sessionizer), the queries."""

    rows_written: dict[str, int]
    late_events: int = 0
    queries: list[StreamingQuery] = field(default_factory=list)


def derived_from_slices(slices: DataFrame, config: VsaConfig) -> dict[str, DataFrame]:
    """The tables computed from ``view_slices``: ``views`` and the minute KPI tables."""
    return {
        "views": views(slices),
        **{t: minute_kpis(slices, config, dims) for t, dims in DIMENSION_TABLES.items()},
    }


def start(
    spark: SparkSession, config: VsaConfig, trigger: dict[str, object] | None = None
) -> list[StreamingQuery]:
    """Starts every streaming query of the job; each table has its own query and checkpoint.
    The tables derived from ``view_slices`` read its committed files, a trigger behind."""
    return _start_from_kafka(spark, config, trigger) + _start_derived(spark, config, trigger)


def run_until_caught_up(spark: SparkSession, config: VsaConfig) -> RunResult:
    """Processes everything in the topics now (``availableNow``) and stops."""
    trigger = {"availableNow": True}
    queries = _start_from_kafka(spark, config, trigger)
    for query in queries:
        query.awaitTermination()
    derived = _start_derived(spark, config, trigger)
    for query in derived:
        query.awaitTermination()
    queries += derived
    return RunResult(
        rows_written={q.name: rows_written(q) for q in queries},
        late_events=sum(_late_events(q) for q in queries if q.name == "view_slices"),
        queries=queries,
    )


def run_batch(spark: SparkSession, config: VsaConfig, events_path: str) -> RunResult:
    """``vsa batch``: the same tables from JSON-lines files (a file or a directory)."""
    tables = transform(read_text_files(spark, events_path), config)
    slices = tables["view_slices"].cache()
    tables = {**tables, "view_slices": slices, **derived_from_slices(slices, config)}
    written = {
        name: write_table_batch(df, config, name, TIME_COLUMNS[name]) for name, df in tables.items()
    }
    slices.unpersist()
    return RunResult(rows_written=written)


def run_cdn_batch(spark: SparkSession, config: VsaConfig, path: str, fmt: str) -> RunResult:
    """``vsa batch --cdn-logs``: ``cdn_requests``, ``cdn_qos_minute`` and ``dead_letter`` from
    log files in format ``fmt`` (a file or a directory; compressed files are read as such)."""
    tables = cdn_tables(read_cdn_files(spark, path, headers=fmt == "cloudfront"), config, fmt)
    requests = tables["cdn_requests"].cache()
    tables = {**tables, "cdn_requests": requests, "cdn_qos_minute": cdn_qos_of(requests, config)}
    written = {
        name: write_table_batch(df, config, name, TIME_COLUMNS[name]) for name, df in tables.items()
    }
    requests.unpersist()
    return RunResult(rows_written=written)


def _start_from_kafka(
    spark: SparkSession, config: VsaConfig, trigger: dict[str, object] | None
) -> list[StreamingQuery]:
    trigger = trigger or {"processingTime": config.trigger_interval}
    raw = read_kafka_stream(spark, config, config.player_events_topic)
    tables = transform(raw, config)
    if config.cdn_formats:
        # One Kafka source for every CDN topic; its dead letters join the player events' in
        # the one dead_letter query (a table has one writer).
        cdn = cdn_tables(read_cdn_stream(spark, config), config)
        tables = {
            **tables,
            **cdn,
            "dead_letter": tables["dead_letter"].unionByName(cdn["dead_letter"]),
        }
    return [
        write_table_stream(df, config, name, TIME_COLUMNS[name], trigger)
        for name, df in tables.items()
    ]


def _start_derived(
    spark: SparkSession, config: VsaConfig, trigger: dict[str, object] | None
) -> list[StreamingQuery]:
    trigger = trigger or {"processingTime": config.trigger_interval}
    # The slices' schema, planned (not run) over an empty batch input.
    batch_schema = transform(empty_raw(spark), config)["view_slices"].schema
    slices = read_table_stream(spark, config, "view_slices", batch_schema)
    return [
        write_table_stream(df, config, name, TIME_COLUMNS[name], trigger)
        for name, df in derived_from_slices(slices, config).items()
    ]


def run_rollup(spark: SparkSession, config: VsaConfig) -> RunResult:
    """``vsa rollup``: ``kpi_hour`` and ``kpi_day`` from ``kpi_minute``, replacing the periods
    it covers (run it after the hour; rerunning is harmless)."""
    minutes = read_table(spark, config, "kpi_minute").drop("date", "hour")
    written = {
        f"kpi_{period}": write_table_batch(
            rollup(minutes, period, ()), config, f"kpi_{period}", "window_start", replace=True
        )
        for period in ("hour", "day")
    }
    return RunResult(rows_written=written)


def _late_events(query: StreamingQuery) -> int:
    """Rows the query's stateful operators dropped as later than the watermark."""
    return sum(
        op.numRowsDroppedByWatermark for p in query.recentProgress for op in p.stateOperators
    )
