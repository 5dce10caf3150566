"""Kafka topics as DataFrames of raw records with their Kafka coordinates.

Every topic the job reads goes through :func:`read_kafka_stream`, so every reader gets
``config.kafka_options`` (security, tuning) alike.
"""

from __future__ import annotations

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from vsa import jvm
from vsa.config import VsaConfig

# Every stage downstream sees these columns, whatever the source.
RAW_SCHEMA = (
    "raw string, kafka_topic string, kafka_partition int, kafka_offset long, "
    "kafka_timestamp timestamp"
)
# How long the driver waits for the broker to describe a topic before it gives up.
DESCRIBE_TIMEOUT_MS = 30_000


def read_kafka_stream(
    spark: SparkSession,
    config: VsaConfig,
    *,
    subscribe_pattern: str | None = None,
    assign: tuple[str, int] | None = None,
    max_offsets_per_trigger: int | None = None,
) -> DataFrame:
    """A streaming DataFrame of raw records: ``raw`` (the value as UTF-8 text) and
    ``kafka_topic``, ``kafka_partition``, ``kafka_offset``, ``kafka_timestamp``.

    Reads the topics matching ``subscribe_pattern``, or the one partition ``assign`` (topic,
    partition). ``config.kafka_options`` reach the Kafka client as ``kafka.*``.
    """
    if (subscribe_pattern is None) == (assign is None):
        raise ValueError("read_kafka_stream needs subscribe_pattern or assign (one of them)")
    reader = (
        spark.readStream.format("kafka")
        .option("kafka.bootstrap.servers", config.kafka_bootstrap_servers)
        .option("startingOffsets", config.starting_offsets)
    )
    if assign is not None:
        topic, partition = assign
        reader = reader.option("assign", f'{{"{topic}": [{partition}]}}')
    else:
        reader = reader.option("subscribePattern", subscribe_pattern)
    for name, value in config.kafka_options.items():
        reader = reader.option(f"kafka.{name}", value)
    if max_offsets_per_trigger:
        reader = reader.option("maxOffsetsPerTrigger", str(max_offsets_per_trigger))
    return reader.load().select(
        F.col("value").cast("string").alias("raw"),
        F.col("topic").alias("kafka_topic"),
        F.col("partition").alias("kafka_partition"),
        F.col("offset").alias("kafka_offset"),
        F.col("timestamp").alias("kafka_timestamp"),
    )


def read_partition_streams(
    spark: SparkSession, config: VsaConfig, topic: str
) -> list[tuple[DataFrame, DataFrame | None]]:
    """One stream per partition of ``topic``, so that a watermark set on each follows the
    slowest partition once they are unioned (Spark's default ``multipleWatermarkPolicy`` takes
    the minimum), as Flink's per-partition watermarks do; each with its idle ticks
    (:func:`idle_ticks`, None when ``config.idle_timeout_seconds`` is 0), to union before the
    watermark. ``config.max_offsets_per_trigger`` is shared among them. The partitions are
    those the topic has when the job starts."""
    partitions = topic_partitions(spark, config, topic)
    limit = config.max_offsets_per_trigger
    share = -(-limit // len(partitions)) if limit else None
    return [
        (
            read_kafka_stream(spark, config, assign=(topic, p), max_offsets_per_trigger=share),
            idle_ticks(spark, config, topic, p) if config.idle_timeout_seconds else None,
        )
        for p in partitions
    ]


def idle_ticks(spark: SparkSession, config: VsaConfig, topic: str, partition: int) -> DataFrame:
    """The idle ticks of one partition (the jar's ``vsa.spark.streaming.IdleTicks``): a row
    ``event_time`` = now - ``idle_timeout_seconds`` whenever the partition has been silent
    that long with nothing left unread, so that it stops holding the job's watermark."""
    reader = (
        spark.readStream.format("vsa.spark.streaming.IdleTicks")
        .option("kafka.bootstrap.servers", config.kafka_bootstrap_servers)
        .option("topic", topic)
        .option("partition", str(partition))
        .option("idleTimeoutMs", str(config.idle_timeout_seconds * 1000))
    )
    for name, value in config.kafka_options.items():
        reader = reader.option(f"kafka.{name}", value)
    return reader.load()


def topic_partitions(spark: SparkSession, config: VsaConfig, topic: str) -> list[int]:
    """The partition numbers of ``topic``; a topic that does not exist is a ``ValueError``."""
    try:
        return jvm.topic_partitions(
            spark, config.kafka_bootstrap_servers, config.kafka_options, topic, DESCRIBE_TIMEOUT_MS
        )
    except Exception as error:  # py4j wraps the JVM's exception
        if "does not exist" in str(error):
            raise ValueError(
                f"Kafka topic {topic!r} does not exist at {config.kafka_bootstrap_servers}: "
                "create it, or set player_events_topic"
            ) from None
        raise
