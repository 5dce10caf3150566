"""Append-mode Parquet tables, partitioned by UTC date and hour, each committed exactly once
per micro-batch.

Every table is written through the jar's ``vsa.spark.streaming.TableWriter``, with the commit
protocol of Spark's own file sink under the micro-batch's id; a batch's tables are written at
once, a Spark job each side by side (:class:`TableWrites`), then committed one by one by the
driver:

- each batch's files are committed in the table's ``_spark_metadata`` log (Spark's file sink
  log), so ``spark.read.parquet(path)`` sees whole committed batches only;
- a batch id that a table committed already is skipped, so on replay after a crash the tables
  that committed the batch skip it and the others write it;
- files no batch committed (a crash mid-batch) are deleted before the first batch a writer
  writes, so readers that list the folder (pyarrow, DuckDB, pandas, Trino) see the committed
  rows only.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from pyspark.sql import Column, DataFrame, SparkSession
from pyspark.sql import functions as F

from vsa import jvm
from vsa.config import VsaConfig

PARTITION_COLUMNS = ("date", "hour")


def with_partitions(df: DataFrame, time_column: str) -> DataFrame:
    """Adds ``date`` (yyyy-MM-dd) and ``hour`` (0-23) of ``time_column`` in UTC."""
    utc: Column = F.to_utc_timestamp(time_column, F.current_timezone())
    return df.withColumns({"date": F.date_format(utc, "yyyy-MM-dd"), "hour": F.hour(utc)})


class TableSink:
    """One table's writer: ``write(batch_id, df)`` commits ``df`` as that batch, once;
    ``writer`` is its handle in the jar, which :class:`TableWrites` writes many tables with."""

    def __init__(self, spark: SparkSession, config: VsaConfig, table: str, time_column: str):
        self.table = table
        self.time_column = time_column
        self.location = config.table_path(table)
        self.writer = jvm.TableWriter(spark, self.location, PARTITION_COLUMNS)

    @property
    def last_committed(self) -> int:
        """The last batch id the table committed, -1 if none."""
        return self.writer.last_committed()

    def write(self, batch_id: int, df: DataFrame | None) -> int:
        """Writes ``df`` as batch ``batch_id`` unless committed already; the rows written.
        None commits the batch with no rows, without a Spark job (every batch id must be in
        a table's log, empty or not)."""
        if df is None:
            self.writer.commit_empty(batch_id)
            return 0
        partitioned = with_partitions(df, self.time_column)
        return self.writer.write(batch_id, partitioned)


@dataclass
class TableWrites:
    """One batch's table writes, at once as far as the tables allow: ``add`` collects each
    table's rows, and all collected tables are written side by side when ``flush`` is called, or
    when a table's rows must be read back (``before_reading``) by a table built after it.
    ``written``: the rows written to each table."""

    spark: SparkSession
    batch_id: int
    written: dict[str, int] = field(default_factory=dict)
    _pending: dict[str, tuple[TableSink, DataFrame]] = field(default_factory=dict)

    def add(self, sink: TableSink, df: DataFrame | None, partitioned: bool = False) -> None:
        """Writes ``df`` to ``sink``'s table with the next flush (None: the batch commits empty,
        at once and without a Spark job). ``partitioned``: ``df`` has its partition columns
        already (:func:`with_partitions`)."""
        if df is None:
            self.written[sink.table] = sink.write(self.batch_id, None)
        else:
            rows = df if partitioned else with_partitions(df, sink.time_column)
            self._pending[sink.table] = (sink, rows)

    def before_reading(self, table: str) -> None:
        """Writes the pending tables if ``table`` is one of them, so that it reads whole."""
        if table in self._pending:
            self.flush()

    def flush(self) -> None:
        """Writes every pending table at once, then commits each (see the jar's
        ``TableWriter.writeAll``)."""
        if not self._pending:
            return
        sinks = [sink for sink, _ in self._pending.values()]
        rows = jvm.write_tables(
            self.spark,
            self.batch_id,
            [sink.writer for sink in sinks],
            [df for _, df in self._pending.values()],
        )
        self.written.update({sink.table: int(n) for sink, n in zip(sinks, rows, strict=True)})
        self._pending.clear()


def last_committed(spark: SparkSession, sinks: list[TableSink]) -> list[int]:
    """:attr:`TableSink.last_committed` of each of ``sinks``, in one call to the JVM."""
    return jvm.tables_last_committed(spark, [sink.writer for sink in sinks])


def read_table(spark: SparkSession, config: VsaConfig, table: str) -> DataFrame:
    """Reads ``table`` (committed batches only)."""
    return spark.read.parquet(config.table_path(table))


def read_hours(
    spark: SparkSession, config: VsaConfig, table: str, start: datetime, end: datetime
) -> DataFrame | None:
    """The rows of ``table`` in the UTC hour partitions that overlap ``[start, end)``, read from
    those partitions' folders (not through the table's log, whose size grows with every
    batch); None when there are none. Only the writer of the table may call this: it relies
    on the folder holding committed files only, which the writer guarantees between batches.
    """
    location = config.table_path(table)
    folders = jvm.hour_folders(spark, location, start, end)
    if not folders:
        return None
    return spark.read.option("basePath", location).parquet(*folders)
