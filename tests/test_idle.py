"""An idle partition must not freeze the job (issue 22, section 3): a two-partition player
topic written on one partition only. Without the idleness rule the silent partition holds the
watermark at 0 and no view ever closes; with it, the partition ticks once silent for
`idle_timeout_seconds` and the views come out."""

from __future__ import annotations

import json
import time

from vsa import pipeline
from vsa.config import VsaConfig
from vsa.kafka import produce
from vsa.sinks import read_table


def one_partition_of_traffic(spark, kafka, topic: str) -> int:
    """A short view five minutes ago and one event now, all on partition 0, each record's Kafka
    timestamp its true receipt time; returns the records' count."""
    now = int(time.time() * 1000)
    start = now - 300_000
    kinds = ["playback_request", "playback_start", "heartbeat", "heartbeat", "playback_finish"]
    events = [
        {"event_id": f"e{n}", "event_type": kind, "ts": start + n * 10_000, "session_id": "s1",
         "video_id": "v1"}
        for n, kind in enumerate(kinds)
    ] + [{"event_id": "now", "event_type": "heartbeat", "ts": now, "session_id": "s2"}]  # fmt: skip
    produce(
        spark,
        kafka.bootstrap_servers,
        topic,
        [(e["session_id"], json.dumps(e)) for e in events],
        partition=0,
        timestamps=[e["ts"] for e in events],
    )
    return len(events)


def views_after(spark, config: VsaConfig, records: int, seconds: float) -> int:
    """The job on a processing-time trigger: the views it has written once it has written
    every record to ``player_events`` and then ran for up to ``seconds`` more (it stops as soon
    as a view is out). Not ``processAllAvailable``: a partition that ticks always has more."""
    query = pipeline.start(spark, config, {"processingTime": "1 second"})
    writer = query.writer  # type: ignore[attr-defined]
    try:
        deadline = time.monotonic() + 120
        while writer.rows_written.get("player_events", 0) < records:
            assert time.monotonic() < deadline, "the job did not read the records"
            assert query.isActive, query.exception()
            time.sleep(0.5)
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline and not writer.rows_written.get("views", 0):
            time.sleep(1)
        return writer.rows_written.get("views", 0)
    finally:
        query.stop()


def test_a_silent_partition_stops_holding_the_watermark(spark, kafka, tmp_path):
    topic = "player-events-one-partition-written"
    kafka.create_topic(topic, partitions=2)
    records = one_partition_of_traffic(spark, kafka, topic)

    def config(name: str, idle: int) -> VsaConfig:
        return VsaConfig(
            kafka_bootstrap_servers=kafka.bootstrap_servers,
            player_events_topic=topic,
            cdn_logs_topic=None,
            output_root=str(tmp_path / name),
            idle_timeout_seconds=idle,
        )

    # Without the rule, partition 1 holds the watermark at 0: nothing closes, however long.
    assert views_after(spark, config("frozen", 0), records, seconds=8) == 0
    # With it, partition 1 ticks once silent for 3 s, and the view of partition 0 comes out.
    closed = config("idle", 3)
    assert views_after(spark, closed, records, seconds=90) == 1
    (view,) = read_table(spark, closed, "views").collect()
    assert (view.session_id, view.end_reason) == ("s1", "finish")
