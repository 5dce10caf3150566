"""Wires the stages: source → normalize → enrich → sessions → tables, streaming or batch.

The same :func:`transform` serves both: ``vsa run`` feeds it from Kafka, ``vsa batch`` from
JSON-lines files, and both write the same tables.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql.streaming import StreamingQuery
from pyspark.sql.types import StructType

from vsa.cdn import CDN_TIME_COLUMNS, cdn_tables, read_cdn_files, read_cdn_stream
from vsa.config import VsaConfig
from vsa.enrich import mask_client_ip, mask_ips, mask_ips_in_text, with_geo, with_user_agent
from vsa.functions import viewer_key
from vsa.kpis import DIMENSION_TABLES, minute_kpis, rollup
from vsa.kpis.cdn_qos import cdn_qos as cdn_qos_of
from vsa.normalize import parse_player_events, player_event_dead_letters, valid_player_events
from vsa.sessions import rejected_events, sessionize, view_slices, views
from vsa.sinks import (
    read_table,
    read_table_stream,
    rows_written,
    with_partitions,
    write_table_batch,
    write_table_stream,
)
from vsa.sources import empty_raw, read_kafka_stream, read_text_files

# The sessionizer's output (slices, closed views, rejected events) as the one streaming query
# that keeps sessions writes it; view_slices, views, the KPI tables and the sessionizer's dead
# letters are all read from its committed files. Internal: not one of the tables of tables.md.
SESSIONS = "_sessions"

# Each table's event-time column, which gives its date/hour partitions.
TIME_COLUMNS = {
    "player_events": "ts",
    "dead_letter": "received_at",
    SESSIONS: "written_at",
    "view_slices": "minute",
    "views": "view_start",
    **{table: "window_start" for table in (*DIMENSION_TABLES, "kpi_hour", "kpi_day")},
    **CDN_TIME_COLUMNS,
}


@dataclass
class Stages:
    """The three outputs of the raw records: the valid events (``player_events``), the records
    parsing rejected (``dead_letter`` rows) and the sessionizer's output."""

    player_events: DataFrame
    parse_rejects: DataFrame
    sessions: DataFrame


def transform(raw: DataFrame, config: VsaConfig) -> Stages:
    """Raw records (the columns of :mod:`vsa.sources`) → normalize → enrich → sessionize."""
    parsed = parse_player_events(raw)
    events = mask_client_ip(with_geo(with_user_agent(valid_player_events(parsed))), config)
    if config.viewer_secret:
        events = events.withColumn("viewer_id", viewer_key("viewer_id", config.viewer_secret))
    sessions = sessionize(events, config)
    # Raw records reach the sessionizer only for the dead letters it writes: masked there.
    sessions = sessions.withColumn(
        "rejected",
        F.when(
            F.col("rejected").isNotNull(),
            F.col("rejected").withField("raw", mask_ips(F.col("rejected.raw"), config)),
        ),
    )
    return Stages(
        player_events=events.drop("raw"),
        parse_rejects=mask_ips_in_text(player_event_dead_letters(parsed), config),
        sessions=sessions.withColumn(
            "written_at", F.coalesce(F.timestamp_millis("slice.minute"), F.current_timestamp())
        ),
    )


def from_sessions(sessions: DataFrame, config: VsaConfig) -> dict[str, DataFrame]:
    """The tables computed from the sessionizer's output: ``view_slices``, ``views``, the minute
    KPI tables."""
    slices = view_slices(sessions)
    return {
        "view_slices": slices,
        "views": views(slices),
        **{t: minute_kpis(slices, config, dims) for t, dims in DIMENSION_TABLES.items()},
    }


@dataclass
class RunResult:
    """What a run did: rows written per table, player events that arrived behind the watermark
    (dead-lettered as ``late``), the queries."""

    rows_written: dict[str, int]
    late_events: int = 0
    queries: list[StreamingQuery] = field(default_factory=list)


def start(
    spark: SparkSession, config: VsaConfig, trigger: dict[str, object] | None = None
) -> list[StreamingQuery]:
    """Starts every streaming query of the job; each table has its own query and checkpoint.
    The tables derived from the sessionizer read its committed files, a trigger behind."""
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
        rows_written={q.name: rows_written(q) for q in queries if q.name != SESSIONS},
        late_events=sum(late_events(q) for q in queries),
        queries=queries,
    )


def run_batch(spark: SparkSession, config: VsaConfig, events_path: str) -> RunResult:
    """``vsa batch``: the same tables from JSON-lines files (a file or a directory)."""
    stages = transform(read_text_files(spark, events_path), config)
    sessions = stages.sessions.cache()
    tables = {
        "player_events": stages.player_events,
        "dead_letter": stages.parse_rejects.unionByName(rejected_events(sessions)),
        **from_sessions(sessions, config),
    }
    written = {
        name: write_table_batch(df, config, name, TIME_COLUMNS[name]) for name, df in tables.items()
    }
    sessions.unpersist()
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
    stages = transform(read_kafka_stream(spark, config, config.player_events_topic), config)
    late = F.sum(F.when(F.col("rejected.reason") == "late", 1).otherwise(0)).alias("late")
    queries = [
        write_table_stream(stages.player_events, config, "player_events", "ts", trigger),
        write_table_stream(
            stages.sessions, config, SESSIONS, TIME_COLUMNS[SESSIONS], trigger, metrics=[late]
        ),
    ]
    if config.cdn_formats:
        # One Kafka source for every CDN topic; its dead letters go with the derived queries'.
        cdn = cdn_tables(read_cdn_stream(spark, config), config)
        queries += [
            write_table_stream(df, config, name, TIME_COLUMNS[name], trigger)
            for name, df in cdn.items()
            if name != "dead_letter"
        ]
    return queries


def _start_derived(
    spark: SparkSession, config: VsaConfig, trigger: dict[str, object] | None
) -> list[StreamingQuery]:
    trigger = trigger or {"processingTime": config.trigger_interval}
    # The sessionizer's output schema, planned (not run) over an empty batch input.
    schema = transform(empty_raw(spark), config).sessions.schema
    sessions = read_table_stream(spark, config, SESSIONS, schema)
    # One query writes dead_letter (a table has one writer): the parse rejects (from Kafka),
    # the sessionizer's (from _sessions) and the CDN logs' (from their topics).
    parse_rejects = transform(
        read_kafka_stream(spark, config, config.player_events_topic), config
    ).parse_rejects
    letters = parse_rejects.unionByName(rejected_events(sessions))
    if config.cdn_formats:
        letters = letters.unionByName(
            cdn_tables(read_cdn_stream(spark, config), config)["dead_letter"]
        )
    tables = {"dead_letter": letters, **from_sessions(sessions, config)}
    return [
        write_table_stream(df, config, name, TIME_COLUMNS[name], trigger)
        for name, df in tables.items()
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


def table_schemas(spark: SparkSession, config: VsaConfig) -> dict[str, StructType]:
    """Every table's columns as the job writes them, ``date`` and ``hour`` included: planned
    over no records, nothing run."""
    raw = empty_raw(spark)
    stages = transform(raw, config)
    derived = from_sessions(stages.sessions, config)
    cdn = cdn_tables(raw, config, config.cdn_log_format)
    tables = {
        "player_events": stages.player_events,
        "dead_letter": stages.parse_rejects,
        **derived,
        **{f"kpi_{p}": rollup(derived["kpi_minute"], p, ()) for p in ("hour", "day")},
        "cdn_requests": cdn["cdn_requests"],
        "cdn_qos_minute": cdn["cdn_qos_minute"],
    }
    return {name: with_partitions(df, TIME_COLUMNS[name]).schema for name, df in tables.items()}


def tables_reference(schemas: dict[str, StructType]) -> str:
    """The Markdown reference of :func:`table_schemas` (docs/tables.md holds it verbatim)."""
    lines = []
    for name, schema in schemas.items():
        lines += [
            f"### `{name}`",
            "",
            f"Partitioned by `date`, `hour` of `{TIME_COLUMNS[name]}` (UTC).",
            "",
            "| column | type |",
            "| --- | --- |",
            *(f"| `{f.name}` | `{f.dataType.simpleString()}` |" for f in schema.fields),
            "",
        ]
    return "\n".join(lines)


def late_events(query: StreamingQuery) -> int:
    """Player events the sessionizer's query dead-lettered as ``late``, in the progress reports
    it still holds (0 for the other queries)."""
    observed = (p.observedMetrics.get(query.name) for p in query.recentProgress)
    return sum(row["late"] or 0 for row in observed if row is not None and "late" in row)
