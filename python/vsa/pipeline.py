"""Wires the stages: Kafka → normalize → enrich → Parquet tables."""

from __future__ import annotations

from dataclasses import dataclass

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql.streaming import StreamingQuery

from vsa.config import VsaConfig
from vsa.enrich import mask_client_ip, mask_ips_in_text, with_user_agent
from vsa.normalize import parse_player_events, player_event_dead_letters, valid_player_events
from vsa.sinks import rows_written, write_table_stream
from vsa.sources import read_kafka_stream


def player_events(parsed: DataFrame, config: VsaConfig) -> DataFrame:
    """The ``player_events`` table from :func:`vsa.normalize.parse_player_events`' output."""
    return mask_client_ip(with_user_agent(valid_player_events(parsed)), config)


def dead_letters(parsed: DataFrame, config: VsaConfig) -> DataFrame:
    """The ``dead_letter`` rows from :func:`vsa.normalize.parse_player_events`' output."""
    return mask_ips_in_text(player_event_dead_letters(parsed), config)


@dataclass
class RunResult:
    """What a run of the streaming job did, per table."""

    rows_written: dict[str, int]
    queries: list[StreamingQuery]


def start(
    spark: SparkSession, config: VsaConfig, trigger: dict[str, object] | None = None
) -> list[StreamingQuery]:
    """Starts every streaming query of the job; each table has its own query and checkpoint."""
    trigger = trigger or {"processingTime": config.trigger_interval}
    parsed = parse_player_events(read_kafka_stream(spark, config, config.player_events_topic))
    return [
        write_table_stream(player_events(parsed, config), config, "player_events", "ts", trigger),
        write_table_stream(
            dead_letters(parsed, config), config, "dead_letter", "received_at", trigger
        ),
    ]


def run_until_caught_up(spark: SparkSession, config: VsaConfig) -> RunResult:
    """Processes everything in the topics now (``availableNow``) and stops."""
    queries = start(spark, config, {"availableNow": True})
    for query in queries:
        query.awaitTermination()
    return RunResult(rows_written={q.name: rows_written(q) for q in queries}, queries=queries)
