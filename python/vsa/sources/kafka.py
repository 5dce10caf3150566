"""Kafka topics as DataFrames of raw records with their Kafka coordinates."""

from __future__ import annotations

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from vsa.config import VsaConfig

# Every stage downstream sees these columns, whatever the source.
RAW_SCHEMA = (
    "raw string, kafka_topic string, kafka_partition int, kafka_offset long, "
    "kafka_timestamp timestamp"
)


def read_kafka_stream(spark: SparkSession, config: VsaConfig, topic: str) -> DataFrame:
    """A streaming DataFrame of ``topic``'s records: ``raw`` (the value as UTF-8 text) and
    ``kafka_topic``, ``kafka_partition``, ``kafka_offset``, ``kafka_timestamp``.
    ``config.kafka_options`` (security, tuning) reach the Kafka client as ``kafka.*``."""
    reader = (
        spark.readStream.format("kafka")
        .option("kafka.bootstrap.servers", config.kafka_bootstrap_servers)
        .option("subscribe", topic)
        .option("startingOffsets", config.starting_offsets)
    )
    for name, value in config.kafka_options.items():
        reader = reader.option(f"kafka.{name}", value)
    if config.max_offsets_per_trigger:
        reader = reader.option("maxOffsetsPerTrigger", str(config.max_offsets_per_trigger))
    return reader.load().select(
        F.col("value").cast("string").alias("raw"),
        F.col("topic").alias("kafka_topic"),
        F.col("partition").alias("kafka_partition"),
        F.col("offset").alias("kafka_offset"),
        F.col("timestamp").alias("kafka_timestamp"),
    )
