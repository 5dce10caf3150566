"""Writes records to a Kafka topic through Spark's own Kafka sink (no extra client library)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from pyspark.sql import SparkSession
from pyspark.sql import functions as F
from pyspark.sql.types import StringType, StructField, StructType

_SCHEMA = StructType([StructField("key", StringType()), StructField("value", StringType())])


def produce(
    spark: SparkSession,
    bootstrap_servers: str,
    topic: str,
    records: Iterable[tuple[str | None, str]],
    options: Mapping[str, str] | None = None,
    partition: int | None = None,
) -> int:
    """Sends ``(key, value)`` text records to ``topic``; returns how many were sent.

    Records are written in the given order by one task (several tasks would interleave the
    list's slices), and records with the same key land in the same partition, so a player
    session's events keep their order. ``options`` are Kafka client settings (e.g.
    ``VsaConfig.kafka_options``: security), sent as ``kafka.<name>``. ``partition``: write
    every record to that partition instead.
    """
    rows = list(records)
    if not rows:
        return 0
    df = spark.createDataFrame(rows, _SCHEMA)
    if partition is not None:
        df = df.withColumn("partition", F.lit(partition))
    writer = (
        df.coalesce(1)
        .write.format("kafka")
        .option("kafka.bootstrap.servers", bootstrap_servers)
        .option("topic", topic)
        # A topic created by this write may answer NOT_LEADER until its leader is elected; the
        # idempotent producer's retries can then fail on sequence numbers. Plain retries with
        # one request in flight keep the order without that.
        .option("kafka.enable.idempotence", "false")
        .option("kafka.acks", "all")
        .option("kafka.max.in.flight.requests.per.connection", "1")
    )
    for name, value in (options or {}).items():
        writer = writer.option(f"kafka.{name}", value)
    writer.save()
    return len(rows)
