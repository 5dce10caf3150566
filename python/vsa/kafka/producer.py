"""Writes records to a Kafka topic with Kafka's own producer, through the Spark session's JVM
(the Kafka client Spark's Kafka source uses; no extra client library)."""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping, Sequence

from pyspark.sql import SparkSession

from vsa import jvm
from vsa.spark_session import configure_spark


def produce(
    spark: SparkSession,
    bootstrap_servers: str,
    topic: str,
    records: Iterable[tuple[str | None, str]],
    options: Mapping[str, str] | None = None,
    partition: int | None = None,
    timestamps: Sequence[int] | None = None,
) -> int:
    """Sends ``(key, value)`` text records to ``topic``; returns how many were sent.

    Records are written in the given order by one producer, and records with the same key land
    in the same partition, so a player session's events keep their order. ``options`` are
    Kafka client settings (e.g. ``VsaConfig.kafka_options``: security). ``partition``: write
    every record to that partition instead. ``timestamps``: each record's Kafka timestamp
    (CreateTime, epoch ms), as a collector stamps what it receives; default: the time of
    sending.
    """
    rows = list(records)
    if not rows:
        return 0
    if timestamps is not None and len(timestamps) != len(rows):
        raise ValueError(f"{len(timestamps)} timestamps for {len(rows)} records")
    return jvm.kafka_send(
        spark,
        bootstrap_servers,
        options or {},
        topic,
        [key for key, _ in rows],
        [value for _, value in rows],
        [-1 if partition is None else partition] * len(rows),
        [int(t) for t in timestamps] if timestamps is not None else [-1] * len(rows),
    )


def send(
    bootstrap_servers: str,
    topic: str,
    records: Sequence[tuple[str | None, str]],
    rate: float | None = None,
    options: Mapping[str, str] | None = None,
    timestamps: Sequence[int] | None = None,
) -> int:
    """Sends ``records`` in order from a local Spark session of its own (the command-line
    producers, ``vsa generate`` and ``vsa simulate``, have no other): in one write, or about
    ``rate`` records per second, one write a second; ``timestamps`` as :func:`produce` takes
    them. Returns how many were sent."""
    spark = configure_spark(
        SparkSession.builder.master("local[1]")
        .appName("vsa-send")
        .config("spark.ui.enabled", "false")
    ).getOrCreate()
    if not rate:
        return produce(spark, bootstrap_servers, topic, records, options, timestamps=timestamps)
    sent = 0
    batch = max(1, int(rate))
    for i in range(0, len(records), batch):
        began = time.monotonic()
        part = None if timestamps is None else timestamps[i : i + batch]
        sent += produce(
            spark, bootstrap_servers, topic, records[i : i + batch], options, timestamps=part
        )
        time.sleep(max(0.0, 1.0 - (time.monotonic() - began)))
    return sent
