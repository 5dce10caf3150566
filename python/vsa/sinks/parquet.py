"""Append-mode Parquet tables, partitioned by UTC date and hour, each with its own checkpoint.

Spark's file sink commits each micro-batch's files in its ``_spark_metadata`` log together with
the checkpoint, so a restarted query neither loses nor repeats a batch; readers that go through
Spark see committed files only.
"""

from __future__ import annotations

from pathlib import Path

from pyspark.sql import Column, DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql.streaming import StreamingQuery
from pyspark.sql.types import IntegerType, StringType, StructField, StructType

from vsa.config import VsaConfig

TABLES = (
    "player_events",
    "dead_letter",
    "view_slices",
    "views",
    "kpi_minute",
    "kpi_by_geo",
    "kpi_by_device",
    "kpi_by_player",
    "kpi_by_content",
    "kpi_by_cdn",
    "kpi_hour",
    "kpi_day",
)
# Written and read by the pipeline only (vsa.pipeline.SESSIONS).
INTERNAL_TABLES = ("_sessions",)
PARTITION_COLUMNS = ("date", "hour")


def with_partitions(df: DataFrame, time_column: str) -> DataFrame:
    """Adds ``date`` (yyyy-MM-dd) and ``hour`` (0-23) of ``time_column`` in UTC."""
    utc: Column = F.to_utc_timestamp(time_column, F.current_timezone())
    return df.withColumns({"date": F.date_format(utc, "yyyy-MM-dd"), "hour": F.hour(utc)})


def write_table_stream(
    df: DataFrame,
    config: VsaConfig,
    table: str,
    time_column: str,
    trigger: dict[str, object],
    metrics: list[Column] | None = None,
) -> StreamingQuery:
    """Starts the append-mode query that writes ``df`` as ``table``.

    ``trigger`` holds the keyword of ``DataStreamWriter.trigger``, e.g.
    ``{"availableNow": True}`` or ``{"processingTime": "10 seconds"}``. ``metrics`` are more
    aggregates to observe per micro-batch, beside the row count.
    """
    _check(table)
    # The file sink reports no row count, so each query observes its own (see rows_written).
    observed = df.observe(table, F.count(F.lit(1)).alias("rows"), *(metrics or []))
    return (
        with_partitions(observed, time_column)
        .writeStream.format("parquet")
        .queryName(table)
        .outputMode("append")
        .partitionBy(*PARTITION_COLUMNS)
        .option("path", config.table_path(table))
        .option("checkpointLocation", config.checkpoint_path(table))
        .trigger(**trigger)
        .start()
    )


def write_table_batch(
    df: DataFrame, config: VsaConfig, table: str, time_column: str, replace: bool = False
) -> int:
    """Writes ``df`` as ``table`` in one batch job and returns the number of rows written.
    The table must not exist yet, unless ``replace``: then the partitions (date, hour) that
    ``df`` has are replaced and the others kept."""
    _check(table)
    df = with_partitions(df, time_column).cache()
    rows = df.count()
    (
        df.write.mode("overwrite" if replace else "errorifexists")
        .option("partitionOverwriteMode", "dynamic")
        .partitionBy(*PARTITION_COLUMNS)
        .parquet(config.table_path(table))
    )
    df.unpersist()
    return rows


def read_table_stream(
    spark: SparkSession, config: VsaConfig, table: str, schema: StructType
) -> DataFrame:
    """``table`` as a streaming source. A file sink's table is read through its commit log, so
    the reader sees each committed batch once."""
    path = Path(config.table_path(table))
    path.mkdir(parents=True, exist_ok=True)
    full = StructType(
        [*schema.fields, StructField("date", StringType()), StructField("hour", IntegerType())]
    )
    return spark.readStream.schema(full).parquet(str(path))


def rows_written(query: StreamingQuery) -> int:
    """Rows the query wrote in the progress reports it still holds (its recent batches)."""
    observed = (p.observedMetrics.get(query.name) for p in query.recentProgress)
    return sum(row["rows"] for row in observed if row is not None)


def _check(table: str) -> None:
    if table not in TABLES + INTERNAL_TABLES:
        raise ValueError(f"unknown table {table!r}; tables are {', '.join(TABLES)}")


def read_table(spark: SparkSession, config: VsaConfig, table: str) -> DataFrame:
    """Reads ``table`` (committed files only)."""
    return spark.read.parquet(config.table_path(table))
