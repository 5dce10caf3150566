"""JSON-lines files as raw records, for ``vsa batch``: the same columns as a Kafka topic."""

from __future__ import annotations

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from vsa.sources.kafka import RAW_SCHEMA


def read_text_files(spark: SparkSession, path: str) -> DataFrame:
    """One raw record per line of the file(s) at ``path`` (a file or a directory). The Kafka
    coordinates are null; blank lines are skipped."""
    return (
        spark.read.text(path)
        .where(F.trim("value") != "")
        .select(
            F.col("value").alias("raw"),
            F.lit(None).cast("string").alias("kafka_topic"),
            F.lit(None).cast("int").alias("kafka_partition"),
            F.lit(None).cast("long").alias("kafka_offset"),
            F.lit(None).cast("timestamp").alias("kafka_timestamp"),
        )
    )


def empty_raw(spark: SparkSession) -> DataFrame:
    """No records, with the raw columns: for planning a pipeline's schema."""
    return spark.createDataFrame([], RAW_SCHEMA)
