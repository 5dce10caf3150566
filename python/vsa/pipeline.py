"""Wires the stages: sources → normalize → enrich → sessions → tables, streaming or batch.

The streaming job is **one query**: each source is read once (the player topic one stream per
partition, so the watermark follows the slowest partition; every CDN topic in one stream).
Player records go through the sessionizer, which passes each record itself (the valid event,
or its dead letter) through beside the slices and views; so do the CDN lines, whose requests
with a CMCD ``sid`` it also attributes to the views they served. One
``foreachBatch`` writer (:class:`BatchWriter`) then commits every table of
:data:`vsa.tables.TABLES` for that micro-batch, exactly once per table. ``vsa batch`` calls the
same writer over files, so stream and batch cannot drift.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql.streaming import StreamingQuery
from pyspark.sql.types import StructType
from pyspark.sql.utils import AnalysisException

from vsa.checks import QUERY, require_ready
from vsa.config import VsaConfig
from vsa.enrich import mask_addresses, with_geo, with_user_agent
from vsa.functions import viewer_key
from vsa.kpis import cdn_qos, rollup
from vsa.normalize import clock_offset_ms, event_time, parse_player_events, receipt_time
from vsa.normalize.cdn import DOCUMENT_FORMATS, parse_cdn_logs, with_cmcd
from vsa.session import use_viewer_secret
from vsa.sessions import sessionize, view_slices, views
from vsa.sinks import (
    PARTITION_COLUMNS,
    TablesBusy,
    TableSink,
    TableWrites,
    dead_letter,
    hold_writer_lock,
    read_hours,
    read_table,
    with_partitions,
)
from vsa.sources import (
    empty_raw,
    read_cdn_files,
    read_kafka_stream,
    read_partition_streams,
    read_text_files,
)
from vsa.tables import (
    BY_NAME,
    CDN_LOGS,
    PLAYER_EVENTS,
    ROLLUPS,
    SOURCES,
    TABLES,
    Batch,
    Table,
    tables_of,
)

KAFKA_COORDINATES = ("kafka_topic", "kafka_partition", "kafka_offset")


def player_records(raw: DataFrame, config: VsaConfig) -> DataFrame:
    """Raw player records → the sessionizer's input, one row per record: the event's columns,
    ``clock_offset`` (what the record says of its device's clock, see
    :func:`vsa.normalize.player_events.clock_offset_ms`), and ``passthrough`` holding
    ``player_event`` (the ``player_events`` row of a valid event) or ``dead_letter`` (why the
    record is not one; its ``session_id`` is then null), or neither (a CMCD report the model has
    no use for)."""
    watermarked = ["event_time"] if "event_time" in raw.columns else []
    received = receipt_time(F.col("raw"), F.col("kafka_timestamp"))
    offset = clock_offset_ms(F.col("event.ts"), received, config.clock_offset_bound_seconds)
    parsed = parse_player_events(raw).select(
        "event.*",
        "raw",
        *KAFKA_COORDINATES,
        "reason",
        "detail",
        "ignored",
        *watermarked,
        offset.alias("clock_offset"),
    )
    events = mask_addresses(with_geo(with_user_agent(parsed)), config, skip=("raw", "detail"))
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
    requests = mask_addresses(enriched, config, skip=("line", "detail"))
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
    (``slice``, ``closed_view``, ``rejected``, ``attributes``) and the records passed through it
    (``player_event``, ``dead_letter``) of ``player_raw``, and the CDN lines of ``cdn``
    (:func:`cdn_records`: ``cdn_request``, ``dead_letter``). With player records, the CDN lines
    go through the sessionizer too, which attributes the requests with a CMCD ``sid`` to the
    views they served (docs/cdn.md). :func:`split` parts it by table."""
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
        "attributes",
        *[F.col(f"passthrough.{kind}").alias(kind) for kind in passed],
    )


# The structs of transform's rows, one per kind of row a table is built from.
KINDS = ("player_event", "dead_letter", "rejected", "slice", "closed_view", "cdn_request")


def split(
    out: DataFrame,
    config: VsaConfig,
    closed: Callable[[str, int], DataFrame | None],
    present: set[str] | None = None,
    sources: tuple[str, ...] = SOURCES,
) -> Batch:
    """:func:`transform`'s rows as the stage outputs the tables' builders read. ``present``:
    the :data:`KINDS` the batch has rows of (default: every kind ``out`` has a column of); a
    frame of none of them is None, and its tables commit the batch empty, without a job.
    ``sources``: the job's sources."""
    kinds = {k for k in KINDS if k in out.columns}
    present = kinds if present is None else present & kinds
    letters = None
    if present & {"dead_letter", "rejected"}:
        letters = out.where(F.col("dead_letter").isNotNull()).select("dead_letter")
        if "rejected" in kinds:
            late_or_duplicate = _rows(out, "rejected").select(
                dead_letter(
                    "player_events", F.col("reason"), F.col("detail"), F.col("raw"), config
                ).alias("dead_letter")
            )
            letters = letters.unionByName(late_or_duplicate)
        letters = letters.select("dead_letter.*")
    slices = view_slices(out) if "slice" in present else None
    return Batch(
        config=config,
        player_events=_rows(out, "player_event") if "player_event" in present else None,
        dead_letters=letters,
        view_slices=slices,
        views=views(slices) if slices is not None and "closed_view" in present else None,
        cdn_requests=_rows(out, "cdn_request") if "cdn_request" in present else None,
        closed=closed,
        sources=sources,
    )


def cdn_tables(raw: DataFrame, config: VsaConfig, fmt: str | None = None) -> dict[str, DataFrame]:
    """The CDN tables of raw CDN log records, as a batch run writes them: ``cdn_requests``,
    ``cdn_qos_minute`` (every window final) and the ``dead_letter`` rows."""
    batch = split(
        cdn_records(raw, config, fmt), config, lambda table, seconds: None, sources=(CDN_LOGS,)
    )
    return {
        "cdn_requests": batch.cdn_requests,
        "cdn_qos_minute": cdn_qos(batch.cdn_requests, config),
        "dead_letter": batch.dead_letters,
    }


def _rows(out: DataFrame, column: str) -> DataFrame:
    """The rows of ``out`` that hold struct ``column``, as that struct's columns."""
    return out.where(F.col(column).isNotNull()).select(f"{column}.*")


@dataclass
class RunResult:
    """What a run did: rows written per table, player events that arrived behind the watermark
    (dead-lettered as ``late``), the query (None for a batch run)."""

    rows_written: dict[str, int]
    late_events: int = 0
    query: StreamingQuery | None = None


@dataclass
class BatchWriter:
    """The job's one ``foreachBatch`` function: commits every table of a micro-batch, each
    through its own :class:`vsa.sinks.TableSink`, skipping the tables that committed the
    batch already (a replay after a crash).

    Windows (minutes of ``cdn_qos_minute``, hours and days of the rollups) close in the batch
    whose watermark passes their end; the watermarks come from the query's offset log, so a
    replayed batch closes the very windows of its first attempt.
    """

    spark: SparkSession
    config: VsaConfig
    sources: tuple[str, ...]
    checkpoint: str | None = None
    on_batch: Callable[[int, dict[str, int], int], None] | None = None
    rows_written: dict[str, int] = field(default_factory=dict)
    late_events: int = 0

    def __post_init__(self) -> None:
        self.tables = tables_of(self.sources)
        self.sinks = {
            t.name: TableSink(self.spark, self.config, t.name, t.time_column) for t in self.tables
        }

    def __call__(self, out: DataFrame, batch_id: int) -> None:
        checkpoints = self.spark._jvm.vsa.spark.streaming.Checkpoint  # type: ignore[union-attr]
        jspark = self.spark._jsparkSession  # type: ignore[attr-defined]
        since = checkpoints.watermarkMs(jspark, self.checkpoint, batch_id - 1)
        until = checkpoints.watermarkMs(jspark, self.checkpoint, batch_id)
        self.write(out, batch_id, since, until)

    def write(self, out: DataFrame, batch_id: int, since: int | None, until: int | None) -> None:
        """Writes ``out`` (:func:`transform`'s rows) as batch ``batch_id`` of every table; the
        windows that close are those whose end is in ``(since, until]`` (epoch ms; None: no
        bound, as in a batch run, where every window is final)."""
        pending = [t for t in self.tables if not self.sinks[t.name].committed(batch_id)]
        if not pending:
            return
        out = out.persist()
        # One pass over the batch (which also fills the cache): which kinds of rows it holds,
        # its late events, its newest CDN request. A table with nothing to add commits the
        # batch empty, without a Spark job.
        kinds = [k for k in KINDS if k in out.columns]
        late = (
            F.count(F.when(F.col("rejected.reason") == "late", 1))
            if "rejected" in kinds
            else F.lit(0)
        )
        newest = (
            F.max(F.unix_millis("cdn_request.timestamp"))
            if "cdn_request" in kinds
            else F.lit(None).cast("long")
        )
        counts = out.agg(
            *[F.count(k).alias(k) for k in kinds], late.alias("late"), newest.alias("newest")
        ).first()
        present = {k for k in kinds if counts[k]}
        if PLAYER_EVENTS not in self.sources and until is not None:
            # CDN logs only: no stateful operator asks Spark for a batch when the watermark
            # moves, so windows close on the watermark this batch's requests imply (the one
            # Spark gives the next batch), and the previous batch closed up to this one's.
            since = until
            if counts["newest"] is not None:
                until = max(until, counts["newest"] - self.config.watermark_seconds * 1000)
        # One Spark job writes the tables, or one more each time a table reads back another
        # that is still to write (in catalog order, the one read comes first).
        writes = TableWrites(self.spark, batch_id)
        closed = functools.partial(self._closed, writes, since, until)
        batch = split(out, self.config, closed, present, self.sources)
        for t in pending:
            writes.add(self.sinks[t.name], t.build(batch))
        writes.flush()
        written = {t.name: writes.written[t.name] for t in pending}
        batch.release()
        out.unpersist()
        for name, rows in written.items():
            self.rows_written[name] = self.rows_written.get(name, 0) + rows
        self.late_events += counts["late"]
        if self.on_batch:
            self.on_batch(batch_id, written, counts["late"])

    def _closed(
        self, writes: TableWrites, since: int | None, until: int | None, table: str, seconds: int
    ) -> DataFrame | None:
        # The windows whose end is in (since, until]: from the one holding `since` to the
        # last that ends by `until`.
        period = seconds * 1000
        first = 0 if since is None else since // period * period
        end = None if until is None else until // period * period
        if end is not None and end <= first:
            return None
        writes.before_reading(table)
        start_at = datetime.fromtimestamp(first / 1000, UTC)
        end_at = (
            datetime(9999, 1, 1, tzinfo=UTC)
            if end is None
            else datetime.fromtimestamp(end / 1000, UTC)
        )
        rows = read_hours(self.spark, self.config, table, start_at, end_at)
        if rows is None:
            return None
        time = F.col(BY_NAME[table].time_column)
        rows = rows.where(time >= F.timestamp_millis(F.lit(first))).drop(*PARTITION_COLUMNS)
        return rows if end is None else rows.where(time < F.timestamp_millis(F.lit(end)))


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
            _watermarked(
                records.withColumn(
                    "event_time", event_time(F.col("raw"), F.col("kafka_timestamp"), bound)
                ),
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
    existing = _existing_tables(spark, config, tables_of(sources))
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
    write would take a batch id the job still has to write itself (see :func:`_rollup_batch`).
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
        batch_id = _rollup_batch(name, sink.last_committed + 1, spec.seconds, job)
        writes.append((sink, batch_id, rolled))
    for sink, batch_id, rolled in writes:
        written[sink.table] = sink.write(batch_id, rolled)
        rolled.unpersist()
    return RunResult(rows_written=written)


@dataclass(frozen=True)
class JobCheckpoint:
    """Where the streaming job's checkpoint stands: its last committed micro-batch, the
    watermark (epoch ms) that batch ran with, and the one its next batch runs with."""

    location: str
    last_committed: int
    watermark: int
    next_watermark: int

    @classmethod
    def read(cls, spark: SparkSession, location: str) -> JobCheckpoint | None:
        """The checkpoint at ``location``; None when there is none. :class:`TablesBusy` when
        its last planned batch is not committed: the job runs, or stopped mid-batch and will
        replay that batch."""
        checkpoints = spark._jvm.vsa.spark.streaming.Checkpoint  # type: ignore[union-attr]
        jspark = spark._jsparkSession  # type: ignore[attr-defined]
        planned = checkpoints.lastPlanned(jspark, location)
        if planned < 0:
            return None
        committed = checkpoints.lastCommitted(jspark, location)
        if committed < planned:
            raise TablesBusy(
                f"the streaming job's checkpoint {location} has batch {planned} planned and not "
                "committed: the job runs, or stopped mid-batch; stop it, or let it finish "
                "(vsa run --available-now), then vsa rollup"
            )
        return cls(
            location,
            committed,
            checkpoints.watermarkMs(jspark, location, committed),
            checkpoints.nextWatermarkMs(jspark, location, committed),
        )


def _rollup_batch(table: str, batch_id: int, seconds: int, job: JobCheckpoint | None) -> int:
    """``batch_id`` (the table's next) if ``vsa rollup`` may commit it in ``table``. The job
    skips a batch id a table has committed, so taking one the job has still to write is safe
    only when that batch closes no period of the table: the job's next batch closes the
    periods that end between its watermark and the last batch's (as :class:`BatchWriter`)."""
    if job is None or batch_id <= job.last_committed:
        return batch_id
    period = seconds * 1000
    closes = job.next_watermark // period > job.watermark // period
    if batch_id == job.last_committed + 1 and not closes:
        return batch_id
    raise TablesBusy(
        f"{table}: vsa rollup would commit batch {batch_id}, which the streaming job "
        f"({job.location}) has still to write to {table} itself: run the job until it has "
        "(vsa run --available-now), then vsa rollup"
    )


def table_schemas(spark: SparkSession, config: VsaConfig) -> dict[str, StructType]:
    """Every table's columns as the job writes them, ``date`` and ``hour`` included: planned
    over no records, nothing run."""
    raw = empty_raw(spark)
    fmt = config.cdn_log_format
    out = transform(raw, config, cdn_records(raw, config, fmt))
    planned: dict[str, DataFrame] = {}

    def closed(table: str, seconds: int) -> DataFrame | None:
        return planned.get(table)

    batch = split(out, config, closed)
    schemas = {}
    for table in TABLES:
        df = table.build(batch)
        planned[table.name] = df
        schemas[table.name] = with_partitions(df, table.time_column).schema
    batch.release()
    return schemas


def tables_reference(schemas: dict[str, StructType]) -> str:
    """The Markdown reference of :func:`table_schemas` (docs/tables.md holds it verbatim)."""
    lines = []
    for name, schema in schemas.items():
        lines += [
            f"### `{name}`",
            "",
            f"Partitioned by `date`, `hour` of `{BY_NAME[name].time_column}` (UTC).",
            "",
            "| column | type |",
            "| --- | --- |",
            *(f"| `{f.name}` | `{f.dataType.simpleString()}` |" for f in schema.fields),
            "",
        ]
    return "\n".join(lines)


def _existing_tables(
    spark: SparkSession, config: VsaConfig, tables: tuple[Table, ...]
) -> list[str]:
    """The names of ``tables`` that have a folder under ``output_root``."""
    jvm = spark._jvm  # type: ignore[attr-defined]
    hadoop = spark._jsc.hadoopConfiguration()  # type: ignore[attr-defined]
    paths = {t.name: jvm.org.apache.hadoop.fs.Path(config.table_path(t.name)) for t in tables}
    return [name for name, path in paths.items() if path.getFileSystem(hadoop).exists(path)]
