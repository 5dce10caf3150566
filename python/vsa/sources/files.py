"""Files as raw records, for ``vsa batch``: the same columns as a Kafka topic."""

from __future__ import annotations

from pyspark.sql import Column, DataFrame, SparkSession
from pyspark.sql import functions as F

from vsa.normalize.cdn import field_names
from vsa.sources.kafka import RAW_SCHEMA


def _no_kafka() -> list[Column]:
    return [
        F.lit(None).cast("string").alias("kafka_topic"),
        F.lit(None).cast("int").alias("kafka_partition"),
        F.lit(None).cast("long").alias("kafka_offset"),
        F.lit(None).cast("timestamp").alias("kafka_timestamp"),
    ]


def read_text_files(spark: SparkSession, path: str) -> DataFrame:
    """One raw record per line of the file(s) at ``path`` (a file or a directory). The Kafka
    coordinates are null; blank lines are skipped."""
    lines = spark.read.text(path).where(F.trim("value") != "")
    return lines.select(F.col("value").alias("raw"), *_no_kafka())


def read_cdn_files(
    spark: SparkSession, path: str, headers: bool = True, documents: bool = False
) -> DataFrame:
    """Log files (plain or compressed, a file or a directory) as raw records, one per line.

    With ``headers`` (CloudFront standard logs), ``file_fields`` holds the names of each
    file's own ``#Fields:`` line (space- or TAB-separated), if any. With ``documents`` (the JSON
    formats), a file that is one pretty-printed JSON document (an RTLD envelope, a JSON array:
    a line that is a lone ``{`` or starts with ``[``) is one record, whole. Either costs one more
    pass over the files, to find them."""
    lines = spark.read.text(path).where(F.trim("value") != "")
    if not headers and not documents:
        return lines.select(F.col("value").alias("raw"), *_no_kafka())
    with_file = lines.select("value", F.col("_metadata.file_path").alias("_file"))
    if documents:
        whole = with_file.where(F.col("value").rlike(r"^\s*(\[|\{\s*$)")).select("_file").distinct()
        paths = [row._file for row in whole.collect()]
        line_records = with_file.where(~F.col("_file").isin(paths)).select(
            F.col("value").alias("raw"), *_no_kafka()
        )
        if not paths:
            return line_records
        files = spark.read.text(paths, wholetext=True)
        whole_files = files.select(F.col("value").alias("raw"), *_no_kafka())
        return line_records.unionByName(whole_files)
    fields = (
        with_file.where(F.col("value").startswith("#Fields:"))
        .groupBy("_file")
        .agg(field_names(F.first("value")).alias("file_fields"))
    )
    return with_file.join(F.broadcast(fields), "_file", "left").select(
        F.col("value").alias("raw"), *_no_kafka(), "file_fields"
    )


def empty_raw(spark: SparkSession) -> DataFrame:
    """No records, with the raw columns: for planning a pipeline's schema."""
    return spark.createDataFrame([], RAW_SCHEMA)
