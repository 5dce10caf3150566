"""The job's per-batch writer: one micro-batch (or one ``vsa batch`` run) of
:func:`vsa.pipeline.transform`'s rows into every table of :data:`vsa.tables.TABLES`, each
exactly once, and where the job's checkpoint stands for ``vsa rollup``.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql.streaming import StreamingQuery

from vsa import jvm
from vsa.config import VsaConfig
from vsa.normalize import dead_letter
from vsa.sessions import view_slices, views
from vsa.sinks.lock import TablesBusy
from vsa.sinks.parquet import PARTITION_COLUMNS, TableSink, TableWrites, read_hours
from vsa.tables import BY_NAME, PLAYER_EVENTS, SOURCES, Batch, Table, tables_of

# The structs of transform's rows, one per kind of row a table is built from.
KINDS = ("player_event", "dead_letter", "rejected", "slice", "closed_view", "cdn_request")


def split(
    transformed: DataFrame,
    config: VsaConfig,
    closed_windows: Callable[[str, int], DataFrame | None],
    present: set[str] | None = None,
    sources: tuple[str, ...] = SOURCES,
) -> Batch:
    """:func:`vsa.pipeline.transform`'s rows as the stage outputs the tables' builders read.
    ``present``: the :data:`KINDS` the batch has rows of (default: every kind ``transformed``
    has a column of); a frame of none of them is None, and its tables commit the batch empty,
    without a job. ``sources``: the job's sources."""
    kinds = {k for k in KINDS if k in transformed.columns}
    present = kinds if present is None else present & kinds
    letters = None
    if present & {"dead_letter", "rejected"}:
        letters = transformed.where(F.col("dead_letter").isNotNull()).select("dead_letter")
        if "rejected" in kinds:
            late_or_duplicate = _rows_of(transformed, "rejected").select(
                dead_letter(
                    "player_events", F.col("reason"), F.col("detail"), F.col("raw"), config
                ).alias("dead_letter")
            )
            letters = letters.unionByName(late_or_duplicate)
        letters = letters.select("dead_letter.*")
    slices = view_slices(transformed) if "slice" in present else None
    return Batch(
        config=config,
        player_events=_rows_of(transformed, "player_event") if "player_event" in present else None,
        dead_letters=letters,
        view_slices=slices,
        views=views(slices) if slices is not None and "closed_view" in present else None,
        cdn_requests=_rows_of(transformed, "cdn_request") if "cdn_request" in present else None,
        closed_windows=closed_windows,
        sources=sources,
    )


# Rows a table's write task takes at most: a batch's tables are written side by side in one job,
# so a small batch keeps both cores busy with one task per table.
ROWS_PER_WRITE_TASK = 200_000


def _write_partitions(transformed: DataFrame, rows: int) -> DataFrame:
    """``transformed`` in as few partitions as its largest kind of row (``rows``) needs, at
    most :data:`ROWS_PER_WRITE_TASK` each: a table of a small batch is one task and one file
    per hour, not one per shuffle partition."""
    needed = max(1, -(-rows // ROWS_PER_WRITE_TASK))
    return (
        transformed
        if needed >= transformed.rdd.getNumPartitions()
        else transformed.coalesce(needed)
    )


def _rows_of(transformed: DataFrame, column: str) -> DataFrame:
    """The rows of ``transformed`` that hold struct ``column``, as that struct's columns."""
    return transformed.where(F.col(column).isNotNull()).select(f"{column}.*")


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

    def __call__(self, transformed: DataFrame, batch_id: int) -> None:
        since = jvm.checkpoint_watermark_ms(self.spark, self.checkpoint, batch_id - 1)
        until = jvm.checkpoint_watermark_ms(self.spark, self.checkpoint, batch_id)
        self.write(transformed, batch_id, since, until)

    def write(
        self, transformed: DataFrame, batch_id: int, since: int | None, until: int | None
    ) -> None:
        """Writes ``transformed`` (:func:`vsa.pipeline.transform`'s rows) as batch
        ``batch_id`` of every table; the windows that close are those whose end is in
        ``(since, until]`` (epoch ms; None: no bound, as in a batch run, where every window is
        final)."""
        pending = [t for t in self.tables if not self.sinks[t.name].committed(batch_id)]
        if not pending:
            return
        transformed = transformed.persist()
        # One pass over the batch (which also fills the cache): which kinds of rows it holds,
        # its late events, its newest CDN request. A table with nothing to add commits the
        # batch empty, without a Spark job.
        kinds = [k for k in KINDS if k in transformed.columns]
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
        counts = transformed.agg(
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
        closed_windows = functools.partial(self._closed_windows, writes, since, until)
        rows = max((counts[k] for k in kinds), default=0)
        batch = split(
            _write_partitions(transformed, rows), self.config, closed_windows, present, self.sources
        )
        for t in pending:
            writes.add(self.sinks[t.name], t.build(batch))
        writes.flush()
        written = {t.name: writes.written[t.name] for t in pending}
        batch.release()
        transformed.unpersist()
        for name, rows in written.items():
            self.rows_written[name] = self.rows_written.get(name, 0) + rows
        self.late_events += counts["late"]
        if self.on_batch:
            self.on_batch(batch_id, written, counts["late"])

    def _closed_windows(
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
        planned = jvm.checkpoint_last_planned(spark, location)
        if planned < 0:
            return None
        committed = jvm.checkpoint_last_committed(spark, location)
        if committed < planned:
            raise TablesBusy(
                f"the streaming job's checkpoint {location} has batch {planned} planned and not "
                "committed: the job runs, or stopped mid-batch; stop it, or let it finish "
                "(vsa run --available-now), then vsa rollup"
            )
        return cls(
            location,
            committed,
            jvm.checkpoint_watermark_ms(spark, location, committed),
            jvm.checkpoint_next_watermark_ms(spark, location, committed),
        )


def rollup_batch(table: str, batch_id: int, seconds: int, job: JobCheckpoint | None) -> int:
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


def existing_tables(spark: SparkSession, config: VsaConfig, tables: tuple[Table, ...]) -> list[str]:
    """The names of ``tables`` that have a folder under ``output_root``."""
    return [t.name for t in tables if jvm.exists(spark, config.table_path(t.name))]
