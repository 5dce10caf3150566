"""CDN logs through the pipeline: raw records → ``cdn_requests``, ``cdn_qos_minute`` and
``dead_letter`` rows (source ``cdn_logs``), streaming from Kafka or in batch from files.

Stages as for player events: :mod:`vsa.normalize.cdn_logs` parses, CMCD is read by the jar's
``vsa_parse_cmcd``, :mod:`vsa.enrich` adds country and device (from the full address, before
privacy truncates it), :mod:`vsa.kpis.cdn_qos` aggregates.
"""

from __future__ import annotations

import re

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from vsa.config import VsaConfig
from vsa.enrich import mask_client_ip, mask_ips_in_text, with_geo, with_user_agent
from vsa.kpis.cdn_qos import cdn_qos
from vsa.normalize.cdn import (
    cdn_log_dead_letters,
    field_names,
    parse_cdn_logs,
    valid_cdn_requests,
    with_cmcd,
)

CDN_TIME_COLUMNS = {"cdn_requests": "timestamp", "cdn_qos_minute": "window_start"}


def cdn_requests(parsed: DataFrame, config: VsaConfig) -> DataFrame:
    """The ``cdn_requests`` table from :func:`vsa.normalize.cdn_logs.parse_cdn_logs`' output."""
    enriched = with_geo(with_user_agent(with_cmcd(valid_cdn_requests(parsed))))
    return mask_client_ip(enriched, config)


def cdn_dead_letters(parsed: DataFrame, config: VsaConfig) -> DataFrame:
    """``dead_letter`` rows: the lines that could not be parsed (their own reason), and the
    requests whose CMCD is malformed (``malformed_cmcd``; the request itself is kept in
    ``cdn_requests`` without CMCD)."""
    bad_lines = cdn_log_dead_letters(parsed)
    good = parsed.where(F.col("reason").isNull())
    cmcd = with_cmcd(
        good.select("line", "kafka_topic", "kafka_partition", "kafka_offset", "request.*")
    )
    bad_cmcd = cmcd.where(F.col("cmcd_error").isNotNull()).select(
        F.lit("cdn_logs").alias("source"),
        F.lit("malformed_cmcd").alias("reason"),
        F.concat(F.lit("CMCD: "), F.col("cmcd_error")).alias("detail"),
        F.col("line").alias("raw"),
        "kafka_topic",
        "kafka_partition",
        "kafka_offset",
        F.current_timestamp().alias("received_at"),
    )
    return mask_ips_in_text(bad_lines.unionByName(bad_cmcd), config)


def cdn_tables(raw: DataFrame, config: VsaConfig, fmt: str | None = None) -> dict[str, DataFrame]:
    """Raw CDN log records → ``cdn_requests``, ``cdn_qos_minute`` and ``dead_letter``.
    ``fmt``: the format of every record (files); default: by Kafka topic, from the config."""
    formats = None if fmt is None else {None: fmt}
    parsed = parse_cdn_logs(raw, config, formats)
    requests = cdn_requests(parsed, config)
    return {
        "cdn_requests": requests,
        "cdn_qos_minute": cdn_qos(requests, config),
        "dead_letter": cdn_dead_letters(parsed, config),
    }


def read_cdn_stream(spark: SparkSession, config: VsaConfig) -> DataFrame:
    """Every CDN topic of ``config`` as one stream of raw records (the columns of
    :mod:`vsa.sources`). Subscribed by pattern, so a topic that does not exist yet (no CDN
    configured) gives no records instead of failing the query, and is read once it appears."""
    pattern = "|".join(f"^{re.escape(topic)}$" for topic in config.cdn_formats)
    reader = (
        spark.readStream.format("kafka")
        .option("kafka.bootstrap.servers", config.kafka_bootstrap_servers)
        .option("subscribePattern", pattern)
        .option("startingOffsets", config.starting_offsets)
    )
    if config.max_offsets_per_trigger:
        reader = reader.option("maxOffsetsPerTrigger", str(config.max_offsets_per_trigger))
    return reader.load().select(
        F.col("value").cast("string").alias("raw"),
        F.col("topic").alias("kafka_topic"),
        F.col("partition").alias("kafka_partition"),
        F.col("offset").alias("kafka_offset"),
        F.col("timestamp").alias("kafka_timestamp"),
    )


def read_cdn_files(spark: SparkSession, path: str, headers: bool = True) -> DataFrame:
    """Log files (plain or compressed, a file or a directory) as raw records, one per line.
    With ``headers`` (CloudFront standard logs), ``file_fields`` holds the names of each
    file's own ``#Fields:`` line, if any: finding them costs one more pass over the files."""
    lines = spark.read.text(path).where(F.trim("value") != "")
    no_kafka = [
        F.lit(None).cast("string").alias("kafka_topic"),
        F.lit(None).cast("int").alias("kafka_partition"),
        F.lit(None).cast("long").alias("kafka_offset"),
        F.lit(None).cast("timestamp").alias("kafka_timestamp"),
    ]
    if not headers:
        return lines.select(F.col("value").alias("raw"), *no_kafka)
    with_file = lines.select("value", F.col("_metadata.file_path").alias("_file"))
    fields = (
        with_file.where(F.col("value").startswith("#Fields:"))
        .groupBy("_file")
        .agg(field_names(F.first("value")).alias("file_fields"))
    )
    return with_file.join(F.broadcast(fields), "_file", "left").select(
        F.col("value").alias("raw"), *no_kafka, "file_fields"
    )
