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
    # Blank lines are left to the CDN parser (vsa_log_lines), which drops them without a copy.
    lines = spark.read.text(path)
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
        .agg(F.first("value").alias("header"))
        .collect()
    )
    layouts = {row.header for row in fields}
    # (Each file with a header is an input file: as many of them as input files is all of them.)
    if len(layouts) == 1 and len(fields) == len(lines.inputFiles()):
        # Every file has the same #Fields line (the usual case): one constant list, which the
        # parser maps to positions once, instead of a join that copies it into every row.
        file_fields = field_names(F.lit(layouts.pop()))
        return lines.select(
            F.col("value").alias("raw"), *_no_kafka(), file_fields.alias("file_fields")
        )
    by_file = spark.createDataFrame(fields, "_file string, header string")
    by_file = by_file.select("_file", field_names(F.col("header")).alias("file_fields"))
    return with_file.join(F.broadcast(by_file), "_file", "left").select(
        F.col("value").alias("raw"), *_no_kafka(), "file_fields"
    )


def empty_raw(spark: SparkSession) -> DataFrame:
    """No records, with the raw columns: for planning a pipeline's schema."""
    return spark.createDataFrame([], RAW_SCHEMA)
