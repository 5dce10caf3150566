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
from vsa.sinks.parquet import (
    PARTITION_COLUMNS,
    TableSink,
    TableWrites,
    last_committed,
    read_hours,
    with_partitions,
)
from vsa.tables import BY_NAME, PLAYER_EVENTS, SOURCES, Batch, Table, tables_of

# The structs of transform's rows, one per kind of row a table is built from.
KINDS = ("player_event", "dead_letter", "rejected", "slice", "closed_view", "live", "cdn_request")


def split(
    transformed: DataFrame,
    config: VsaConfig,
    closed_windows: Callable[[str, int], DataFrame | None],
    sources: tuple[str, ...] = SOURCES,
    keep: Callable[[DataFrame], DataFrame] = DataFrame.persist,
) -> Batch:
    """:func:`vsa.pipeline.transform`'s rows as the stage outputs the tables' builders read.
    A frame of a kind of :data:`KINDS` that ``transformed`` has no column of is None, and its
    tables commit the batch empty, without a job. ``sources``: the job's sources; ``keep``:
    see :attr:`Batch.keep`."""
    present = {k for k in KINDS if k in transformed.columns}
    letters = None
    if present & {"dead_letter", "rejected"}:
        letters = transformed.where(F.col("dead_letter").isNotNull()).select("dead_letter")
        if "rejected" in present:
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
        live=_rows_of(transformed, "live") if "live" in present else None,
        cdn_requests=_rows_of(transformed, "cdn_request") if "cdn_request" in present else None,
        closed_windows=closed_windows,
        sources=sources,
        keep=keep,
    )


# Rows a table's write task takes at most: a batch's tables are written side by side, so a small
# batch keeps both cores busy with one task per table.
ROWS_PER_WRITE_TASK = 200_000


class _ReadsClosedWindows(Exception):
    """A table's builder asked for closed windows while its plan was built once: its plan
    depends on the batch's watermark, so it is built for each batch instead."""


def _no_closed_windows(table: str, seconds: int) -> DataFrame | None:
    raise _ReadsClosedWindows(table)


def _counts(rows: DataFrame, kinds: tuple[str, ...]) -> DataFrame:
    """One row of :func:`vsa.pipeline.transform`'s ``rows``, which hold ``kinds`` (of
    :data:`KINDS`): how many of each kind (by its name), its ``late`` events, and its
    ``newest`` CDN request (epoch ms)."""
    late = (
        F.count(F.when(F.col("rejected.reason") == "late", 1)) if "rejected" in kinds else F.lit(0)
    )
    newest = (
        F.max(F.unix_millis("cdn_request.timestamp"))
        if "cdn_request" in kinds
        else F.lit(None).cast("long")
    )
    return rows.agg(
        *[F.count(k).alias(k) for k in kinds], late.alias("late"), newest.alias("newest")
    )


@dataclass(frozen=True)
class TablePlans:
    """The plans of a job's tables, built once over a slot for a batch's rows (the jar's
    ``BatchSlot``) and filled with each batch's rows in the JVM, one call a table: built in
    Python for each batch, they cost thousands of py4j calls, over a second a batch
    (docs/performance.md). A table whose builder reads closed windows depends on the batch's
    watermark: it is built for each batch, from the stage outputs filled alike.

    ``kinds``: the :data:`KINDS` the rows they were built for hold;
    ``counts``: :func:`_counts`; ``stages``: the stage outputs over the slot; ``rows``: the
    rows of each table built once, partition columns included (None: never any);
    ``shared``: the parts of several tables' plans a batch persists once (the KPI tables' one
    aggregation)."""

    kinds: tuple[str, ...]
    counts: DataFrame
    stages: Batch
    rows: dict[str, DataFrame | None]
    shared: tuple[DataFrame, ...]

    @classmethod
    def build(
        cls,
        transformed: DataFrame,
        config: VsaConfig,
        tables: tuple[Table, ...],
        sources: tuple[str, ...],
    ) -> TablePlans:
        """The plans of ``tables`` for rows like ``transformed``'s."""
        slot = jvm.batch_slot(transformed)
        shared: list[DataFrame] = []

        def keep(frame: DataFrame) -> DataFrame:
            shared.append(frame)
            return frame

        stages = split(slot, config, _no_closed_windows, sources=sources, keep=keep)
        rows: dict[str, DataFrame | None] = {}
        for t in tables:
            try:
                built = t.build(stages)
            except _ReadsClosedWindows:
                continue
            rows[t.name] = None if built is None else with_partitions(built, t.time_column)
        kinds = tuple(k for k in KINDS if k in transformed.columns)
        return cls(kinds, _counts(slot, kinds), stages, rows, tuple(shared))

    @staticmethod
    def fill(template: DataFrame, rows: DataFrame) -> DataFrame:
        """``template`` (one of the plans) over ``rows``."""
        return jvm.fill_batch_slot(template, rows)

    def filled_stages(
        self, rows: DataFrame, closed_windows: Callable[[str, int], DataFrame | None]
    ) -> Batch:
        """The stage outputs of ``rows``, for the tables built for each batch."""
        s = self.stages
        frames = {
            name: None if frame is None else self.fill(frame, rows)
            for name, frame in (
                ("player_events", s.player_events),
                ("dead_letters", s.dead_letters),
                ("view_slices", s.view_slices),
                ("views", s.views),
                ("live", s.live),
                ("cdn_requests", s.cdn_requests),
            )
        }
        return Batch(config=s.config, closed_windows=closed_windows, sources=s.sources, **frames)


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
    _plans: TablePlans | None = field(default=None, repr=False)

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
        sinks = [self.sinks[t.name] for t in self.tables]
        done = last_committed(self.spark, sinks)
        pending = [t for t, last in zip(self.tables, done, strict=True) if last < batch_id]
        if not pending:
            return
        transformed = transformed.persist()
        plans = self._plans_for(transformed)
        # One pass over the batch (which also fills the cache): how many rows of each kind, its
        # late events, its newest CDN request.
        counts = plans.fill(plans.counts, transformed).first()
        if PLAYER_EVENTS not in self.sources and until is not None:
            # CDN logs only: no stateful operator asks Spark for a batch when the watermark
            # moves, so windows close on the watermark this batch's requests imply (the one
            # Spark gives the next batch), and the previous batch closed up to this one's.
            since = until
            if counts["newest"] is not None:
                until = max(until, counts["newest"] - self.config.watermark_seconds * 1000)
        # As few partitions as the largest kind of row needs: a table of a small batch is one
        # task and one file an hour, not one per shuffle partition.
        rows = max((counts[k] for k in plans.kinds), default=0)
        data = transformed.coalesce(max(1, -(-rows // ROWS_PER_WRITE_TASK)))
        shared = [plans.fill(frame, data).persist() for frame in plans.shared]
        # The tables are written at once, or in one more round each time a table reads back
        # another that is still to write (in catalog order, the one read comes first).
        writes = TableWrites(self.spark, batch_id)
        closed_windows = functools.partial(self._closed_windows, writes, since, until)
        stages = None
        for t in pending:
            sink = self.sinks[t.name]
            if t.name in plans.rows:
                template = plans.rows[t.name]
                writes.add(sink, None if template is None else plans.fill(template, data), True)
            else:
                if stages is None:
                    stages = plans.filled_stages(data, closed_windows)
                writes.add(sink, t.build(stages))
        writes.flush()
        written = {t.name: writes.written[t.name] for t in pending}
        if stages is not None:
            stages.release()
        for frame in shared:
            frame.unpersist()
        transformed.unpersist()
        for name, rows in written.items():
            self.rows_written[name] = self.rows_written.get(name, 0) + rows
        self.late_events += counts["late"]
        if self.on_batch:
            self.on_batch(batch_id, written, counts["late"])

    def _plans_for(self, transformed: DataFrame) -> TablePlans:
        """The tables' plans for rows like ``transformed``'s: built at the first batch. A
        query's rows keep their columns (the jar refuses to fill a plan with rows that do not
        fit it), so they are not compared each batch: that costs a schema's trip from the JVM."""
        if self._plans is None:
            self._plans = TablePlans.build(transformed, self.config, self.tables, self.sources)
        return self._plans

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
