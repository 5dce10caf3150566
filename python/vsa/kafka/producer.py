"""Writes records to a Kafka topic through Spark's own Kafka sink (no extra client library)."""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping, Sequence

from pyspark.sql import SparkSession
from pyspark.sql import functions as F
from pyspark.sql.types import StringType, StructField, StructType

from vsa.session import configure_spark

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


def send(
    bootstrap_servers: str,
    topic: str,
    records: Sequence[tuple[str | None, str]],
    rate: float | None = None,
    options: Mapping[str, str] | None = None,
) -> int:
    """Sends ``records`` in order from a local Spark session of its own (the command-line
    producers, ``vsa generate`` and ``vsa simulate``, have no other): in one write, or about
    ``rate`` records per second, one write a second. Returns how many were sent."""
    spark = configure_spark(
        SparkSession.builder.master("local[1]")
        .appName("vsa-send")
        .config("spark.ui.enabled", "false")
    ).getOrCreate()
    if not rate:
        return produce(spark, bootstrap_servers, topic, records, options)
    sent = 0
    batch = max(1, int(rate))
    for i in range(0, len(records), batch):
        began = time.monotonic()
        sent += produce(spark, bootstrap_servers, topic, records[i : i + batch], options)
        time.sleep(max(0.0, 1.0 - (time.monotonic() - began)))
    return sent
