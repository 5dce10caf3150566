"""Wires the stages: sources → normalize → enrich → sessions → tables, streaming or batch.

The streaming job is **one query**: each source is read once (the player topic one stream per
partition, so the watermark follows the slowest partition; every CDN topic in one stream).
Player records go through the sessionizer, which passes each record itself (the valid event,
or its dead letter) through beside the slices and views; so do the CDN lines, whose requests
with a CMCD ``sid`` it also attributes to the views they served. One
``foreachBatch`` writer (:class:`vsa.sinks.BatchWriter`) then commits every table of
:data:`vsa.tables.TABLES` for that micro-batch, exactly once per table. ``vsa batch`` calls the
same writer over files, so stream and batch cannot drift.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql.streaming import StreamingQuery
from pyspark.sql.utils import AnalysisException

from vsa.checks import QUERY, require_ready
from vsa.config import VsaConfig
from vsa.enrich import apply_ip_privacy, with_geo, with_user_agent
from vsa.functions import viewer_key
from vsa.kpis import rollup
from vsa.normalize import dead_letter, parse_player_events, with_parse
from vsa.normalize.cdn import DOCUMENT_FORMATS, parse_cdn_logs, with_cmcd
from vsa.sessions import sessionize
from vsa.sinks import (
    BatchWriter,
    JobCheckpoint,
    RunResult,
    TablesBusy,
    TableSink,
    existing_tables,
    hold_writer_lock,
    read_table,
    rollup_batch,
)
from vsa.sources import (
    read_cdn_files,
    read_kafka_stream,
    read_partition_streams,
    read_text_files,
)
from vsa.spark_session import use_viewer_secret
from vsa.tables import BY_NAME, CDN_LOGS, PLAYER_EVENTS, ROLLUPS, tables_of

KAFKA_COORDINATES = ("kafka_topic", "kafka_partition", "kafka_offset")


def player_records(raw: DataFrame, config: VsaConfig) -> DataFrame:
    """Raw player records (parsed already or not: :func:`vsa.normalize.with_parse`) → the
    sessionizer's input, one row per record: the event's columns, ``clock_offset`` (what the
    record says of its device's clock), and ``passthrough`` holding ``player_event`` (the
    ``player_events`` row of a valid event) or ``dead_letter`` (why the record is not one; its
    ``session_id`` is then null), or neither (a CMCD report the model has no use for)."""
    watermarked = ["event_time"] if "event_time" in raw.columns else []
    parsed = parse_player_events(raw, config.clock_offset_bound_seconds).select(
        "event.*",
        "raw",
        *KAFKA_COORDINATES,
        "reason",
        "detail",
        "ignored",
        *watermarked,
        "clock_offset",
    )
    events = apply_ip_privacy(with_geo(with_user_agent(parsed)), config, skip=("raw", "detail"))
    if config.viewer_secret:
        use_viewer_secret(raw.sparkSession, config)
        events = events.withColumn("viewer_id", viewer_key("viewer_id"))
    # A CMCD report of no use to the model (ignored) is neither: the sessionizer drops a row
    # with no session and nothing to pass through.
    valid = F.col("reason").isNull() & ~F.col("ignored")
    internal = ("raw", "reason", "detail", "ignored", "clock_offset", *watermarked)
    row = [c for c in events.columns if c not in internal]
    letter = dead_letter("player_events", F.col("reason"), F.col("detail"), F.col("raw"), config)
    return events.withColumns(
        {
            "passthrough": F.struct(
                F.when(valid, F.struct(*row)).alias("player_event"),
                F.when(F.col("reason").isNotNull(), letter).alias("dead_letter"),
            ),
            "session_id": F.when(valid, F.col("session_id")),
        }
    )


def cdn_records(raw: DataFrame, config: VsaConfig, fmt: str | None = None) -> DataFrame:
    """Raw CDN log records → one row per log line: ``cdn_request`` (the ``cdn_requests`` row,
    null for a line that cannot be read) and ``dead_letter`` (the line's, or the request's
    malformed CMCD: the request itself is kept without it). ``fmt``: the format of every
    record (files); default: by Kafka topic, from the config."""
    parsed = parse_cdn_logs(raw, config, None if fmt is None else {None: fmt})
    lines = parsed.select("request.*", *KAFKA_COORDINATES, "line", "reason", "detail")
    enriched = with_geo(with_user_agent(with_cmcd(lines)))
    requests = apply_ip_privacy(enriched, config, skip=("line", "detail"))
    valid = F.col("reason").isNull()
    row = [c for c in requests.columns if c not in ("line", "reason", "detail")]
    bad_cmcd = valid & F.col("cmcd_error").isNotNull()
    reason = F.when(bad_cmcd, F.lit("malformed_cmcd")).otherwise(F.col("reason"))
    detail = F.when(bad_cmcd, F.concat(F.lit("CMCD: "), "cmcd_error")).otherwise(F.col("detail"))
    letter = dead_letter("cdn_logs", reason, detail, F.col("line"), config)
    return requests.select(
        F.when(valid, F.struct(*row)).alias("cdn_request"),
        F.when(~valid | bad_cmcd, letter).alias("dead_letter"),
        F.col("timestamp").alias("event_time"),
    )


def transform(
    player_raw: DataFrame | None, config: VsaConfig, cdn: DataFrame | None = None
) -> DataFrame:
    """Everything a micro-batch writes, as rows of one DataFrame: the sessionizer's output
    (``slice``, ``closed_view``, ``rejected``, ``live``, ``attributes``) and the records
    passed through it (``player_event``, ``dead_letter``) of ``player_raw``, and the CDN lines
    of ``cdn``
    (:func:`cdn_records`: ``cdn_request``, ``dead_letter``). With player records, the CDN lines
    go through the sessionizer too, which attributes the requests with a CMCD ``sid`` to the
    views they served (docs/cdn.md). :func:`vsa.sinks.split` parts it by table."""
    if player_raw is None:
        if cdn is None:
            raise ValueError("transform needs player records, CDN records or both")
        return cdn.drop("event_time")
    records = player_records(player_raw, config)
    passed = ["player_event", "dead_letter"]
    requests = None
    if cdn is not None:
        # One passthrough type for both kinds of rows: each fills its own fields.
        request_type = cdn.schema["cdn_request"].dataType
        event_type = records.schema["passthrough"].dataType["player_event"].dataType
        records = records.withColumn(
            "passthrough",
            F.struct("passthrough.*", F.lit(None).cast(request_type).alias("cdn_request")),
        )
        requests = cdn.select(
            F.col("cdn_request").alias("request"),
            "event_time",
            F.struct(
                F.lit(None).cast(event_type).alias("player_event"),
                "dead_letter",
                "cdn_request",
            ).alias("passthrough"),
        )
        passed.append("cdn_request")
    sessions = sessionize(records, config, requests)
    return sessions.select(
        "slice",
        "closed_view",
        "rejected",
        "live",
        "attributes",
        *[F.col(f"passthrough.{kind}").alias(kind) for kind in passed],
    )


def job(spark: SparkSession, config: VsaConfig) -> DataFrame:
    """The streaming job's one query, unstarted: :func:`transform` over every source, each
    read once. The player topic is one stream per partition, each with its watermark, so the
    job's watermark follows the slowest partition (Spark takes the minimum); it follows the
    records' receipt times, not the device clocks (docs/views.md, "Device clocks"). CDN topics are
    one stream, without a watermark of their own when there are player events: an idle CDN
    topic would hold the job's watermark at 0 (Spark counts an input without data as 0), so
    their windows close on the player partitions' watermark."""
    watermark = f"{config.watermark_seconds} seconds"
    player = None
    if config.player_events_topic:
        bound = config.clock_offset_bound_seconds
        partitions = [
            # Parsed before the watermark, which follows the parse's event_time: one pass.
            _watermarked(
                with_parse(records, bound).withColumn("event_time", F.col("parsed.event_time")),
                ticks,
                watermark,
            )
            for records, ticks in read_partition_streams(spark, config, config.player_events_topic)
        ]
        player = functools.reduce(DataFrame.union, partitions)
    cdn = None
    if config.cdn_formats:
        pattern = "|".join(f"^{re.escape(topic)}$" for topic in config.cdn_formats)
        cdn_raw = read_kafka_stream(
            spark,
            config,
            subscribe_pattern=pattern,
            max_offsets_per_trigger=config.max_offsets_per_trigger,
        )
        cdn = cdn_records(cdn_raw, config)
        if player is None:
            cdn = cdn.withWatermark("event_time", watermark)
    return transform(player, config, cdn)


def _watermarked(records: DataFrame, ticks: DataFrame | None, delay: str) -> DataFrame:
    """``records`` with their watermark on ``event_time``, moved by the partition's idle
    ``ticks`` too (their column ``idle_tick`` is true); the ticks go once the watermark has seen
    them. The filter names ``event_time``: Spark pushes a predicate that does not below the
    watermark, where the ticks would go unseen."""
    if ticks is None:
        return records.withWatermark("event_time", delay)
    both = records.withColumn("idle_tick", F.lit(False)).unionByName(
        ticks, allowMissingColumns=True
    )
    marked = both.withWatermark("event_time", delay)
    return marked.where(~F.col("idle_tick") | F.col("event_time").isNull()).drop("idle_tick")


def start(
    spark: SparkSession,
    config: VsaConfig,
    trigger: dict[str, object] | None = None,
    on_batch: Callable[[int, dict[str, int], int], None] | None = None,
) -> StreamingQuery:
    """Starts the job's one streaming query (:func:`job`). ``trigger`` holds the keyword of
    ``DataStreamWriter.trigger`` (default: ``processingTime`` of ``config.trigger_interval``);
    ``on_batch(batch_id, rows_written, late_events)`` is called after each micro-batch."""
    require_ready(spark, config)
    hold_writer_lock(config)
    checkpoint = config.checkpoint_path(QUERY)
    sources = (PLAYER_EVENTS,) * bool(config.player_events_topic) + (CDN_LOGS,) * bool(
        config.cdn_formats
    )
    writer = BatchWriter(spark, config, sources, checkpoint, on_batch)
    query = (
        job(spark, config)
        .writeStream.queryName(QUERY)
        .foreachBatch(writer)
        .option("checkpointLocation", checkpoint)
        .trigger(**(trigger or {"processingTime": config.trigger_interval}))
        .start()
    )
    query.writer = writer  # type: ignore[attr-defined]
    return query


def run_until_caught_up(
    spark: SparkSession,
    config: VsaConfig,
    on_batch: Callable[[int, dict[str, int], int], None] | None = None,
) -> RunResult:
    """Processes everything in the topics now (``availableNow``) and stops."""
    query = start(spark, config, {"availableNow": True}, on_batch)
    query.awaitTermination()
    writer: BatchWriter = query.writer  # type: ignore[attr-defined]
    return RunResult(dict(writer.rows_written), writer.late_events, query)


def run_batch(
    spark: SparkSession,
    config: VsaConfig,
    events_path: str | None = None,
    cdn_path: str | None = None,
    cdn_format: str | None = None,
) -> RunResult:
    """``vsa batch``: every table from JSON-lines player events (a file or a directory) and/or
    CDN log files in ``cdn_format`` (default ``config.cdn_log_format``), through the very
    writer of the streaming job, as its batch 0. The tables must not exist yet."""
    sources = (PLAYER_EVENTS,) * bool(events_path) + (CDN_LOGS,) * bool(cdn_path)
    if not sources:
        raise ValueError("vsa batch needs player events, CDN logs, or both")
    hold_writer_lock(config)
    existing = existing_tables(spark, config, tables_of(sources))
    if existing:
        raise FileExistsError(
            f"tables exist already under {config.output_root}: {', '.join(existing)}; "
            "vsa batch writes new tables (choose another output_root)"
        )
    player = read_text_files(spark, events_path) if events_path else None
    cdn = None
    if cdn_path:
        fmt = cdn_format or config.cdn_log_format
        lines = read_cdn_files(
            spark, cdn_path, headers=fmt == "cloudfront", documents=fmt in DOCUMENT_FORMATS
        )
        cdn = cdn_records(lines, config, fmt)
    writer = BatchWriter(spark, config, sources)
    writer.write(transform(player, config, cdn), 0, None, None)
    return RunResult(dict(writer.rows_written), writer.late_events)


def run_rollup(spark: SparkSession, config: VsaConfig) -> RunResult:
    """``vsa rollup``: every rollup table of :data:`vsa.tables.ROLLUPS` (``kpi_hour``,
    ``kpi_day``, and those of ``kpi_by_pop``) from its minute table, for the final periods it
    does not hold yet (a backfill; the streaming job writes them itself).

    A period is final once the job's watermark has passed its end: the watermark of the last
    micro-batch its checkpoint committed (with no checkpoint, as for the tables of ``vsa
    batch``, every period is). A period written before it is final would stay partial: the job
    skips a period its table holds. A table has one writer: refused (:class:`TablesBusy`) while
    another process holds the output root's writer lock or the job runs in this one, and when a
    write would take a batch id the job still has to write itself (see
    :func:`vsa.sinks.rollup_batch`).
    """
    hold_writer_lock(config)
    if any(query.name == QUERY for query in spark.streams.active):
        raise TablesBusy("the streaming job runs in this process: stop it before vsa rollup")
    job = JobCheckpoint.read(spark, config.checkpoint_path(QUERY))
    written: dict[str, int] = {}
    writes = []  # every refusal comes before the first write
    for name, spec in ROLLUPS.items():
        try:
            minutes = read_table(spark, config, spec.minutes).drop("date", "hour")
        except AnalysisException:  # no minute table, or no row in it
            continue
        rolled = rollup(minutes, spec.period, spec.dimensions)
        if job is not None:
            rolled = rolled.where(F.col("window_end") <= F.timestamp_millis(F.lit(job.watermark)))
        try:
            done = read_table(spark, config, name).select("window_start")
            rolled = rolled.join(done, "window_start", "left_anti")
        except AnalysisException:  # no table yet, or no row in it
            pass
        rolled = rolled.persist()
        if rolled.isEmpty():  # nothing to add commits nothing: a batch id is the job's to take
            written[name] = 0
            rolled.unpersist()
            continue
        sink = TableSink(spark, config, name, BY_NAME[name].time_column)
        batch_id = rollup_batch(name, sink.last_committed + 1, spec.seconds, job)
        writes.append((sink, batch_id, rolled))
    for sink, batch_id, rolled in writes:
        written[sink.table] = sink.write(batch_id, rolled)
        rolled.unpersist()
    return RunResult(rows_written=written)
