"""The ``dead_letter`` row (tables.md), built in one place for every source and reason."""

from __future__ import annotations

from pyspark.sql import Column
from pyspark.sql import functions as F

from vsa.config import VsaConfig
from vsa.enrich import mask_ips


def dead_letter(
    source: str, reason: Column, detail: Column, raw: Column, config: VsaConfig
) -> Column:
    """A ``dead_letter`` row as a struct: ``source`` (player_events, cdn_logs), ``reason``,
    ``detail``, ``raw`` (IP addresses in it masked when privacy is on), the Kafka coordinates
    of the row it is built on (``kafka_topic``, ``kafka_partition``, ``kafka_offset``) and
    ``received_at``."""
    return F.struct(
        F.lit(source).alias("source"),
        reason.alias("reason"),
        detail.alias("detail"),
        mask_ips(raw, config).alias("raw"),
        F.col("kafka_topic"),
        F.col("kafka_partition"),
        F.col("kafka_offset"),
        F.current_timestamp().alias("received_at"),
    )
