"""The job's shape: one query reads each source once, and commits every table per micro-batch.

Pinned here: every Kafka source of the job gets ``kafka_options``; the invariant the KPI tables
rest on (all of a minute's slices come out in the one micro-batch whose watermark passes the
minute); a rate-limited backlog whose partitions drift apart in event time loses nothing; and a
checkpoint of the old layout is refused with what to do.
"""

from __future__ import annotations

import json
from collections import defaultdict
from pathlib import Path
from urllib.parse import urlparse

import pyarrow.parquet as pq
import pytest

from conftest import flush
from vsa import generate, pipeline
from vsa.config import VsaConfig
from vsa.kafka import produce
from vsa.sinks import read_table

T0 = 1_764_000_000_000  # 2025-11-24 16:00:00 UTC


def test_every_kafka_source_of_the_job_gets_the_kafka_options(spark, kafka):
    topic = "player-events-options"
    kafka.create_topic(topic, partitions=2)
    config = VsaConfig(
        kafka_bootstrap_servers=kafka.bootstrap_servers,
        player_events_topic=topic,
        cdn_logs_topic="cdn-logs-options",
        kafka_options={"client.id": "vsa-options-test"},
    )
    plan = pipeline.job(spark, config)._jdf.queryExecution().logical().toString()
    # Two player partitions, their idle ticks (each asks the broker for its partition's end)
    # and the CDN topics: five sources, each with the option.
    assert plan.count("kafka.client.id=vsa-options-test") == 5
    assert "SubscribePattern" in plan or "subscribePattern" in plan


def offset_log(checkpoint: Path) -> dict[int, dict]:
    """Batch id → (watermark, {(topic, partition): end offset}) from a query's offset log."""
    batches = {}
    for file in (checkpoint / "offsets").iterdir():
        if not file.name.isdigit():
            continue
        lines = file.read_text().splitlines()
        ends = {}
        for source in lines[2:]:
            if source == "-":  # a source with no offset yet (the idle CDN topic)
                continue
            offset = json.loads(source)
            if not isinstance(offset, dict):  # a partition's idle ticks: the last tick's time
                continue
            for topic, partitions in offset.items():
                ends.update({(topic, int(p)): o for p, o in partitions.items()})
        batches[int(file.name)] = {
            "watermark": json.loads(lines[1])["batchWatermarkMs"],
            "ends": ends,
        }
    return batches


def committed_files(table: Path) -> dict[int, list[str]]:
    """Batch id → the files a table's ``_spark_metadata`` log committed in it."""
    log = table / "_spark_metadata"
    files = {}
    for entry in log.iterdir():
        if not entry.name.isdigit():
            continue
        rows = [json.loads(line) for line in entry.read_text().splitlines()[1:]]
        files[int(entry.name)] = [urlparse(r["path"]).path for r in rows]
    return files


def test_a_minute_s_slices_all_come_out_in_the_batch_whose_watermark_passes_it(
    spark, kafka, tmp_path
):
    topic = "player-events-invariant"
    kafka.create_topic(topic, partitions=2)
    config = VsaConfig(
        kafka_bootstrap_servers=kafka.bootstrap_servers,
        player_events_topic=topic,
        output_root=str(tmp_path / "out"),
        max_offsets_per_trigger=150,
    )
    records = list(
        generate.generate(generate.Traffic(sessions=40, seed=31, start_ms=T0, span_s=420))
    )
    records.sort(key=lambda r: json.loads(r[1])["ts"])  # as players send them: in time order
    produce(spark, kafka.bootstrap_servers, topic, records)
    flush(spark, config, records)
    # Compaction would merge the batches' entries of the log; this test reads them apart.
    spark.conf.set("spark.sql.streaming.fileSink.log.compactInterval", "1000")
    try:
        pipeline.run_until_caught_up(spark, config)
    finally:
        spark.conf.unset("spark.sql.streaming.fileSink.log.compactInterval")

    watermarks = {
        b: v["watermark"]
        for b, v in offset_log(Path(config.checkpoint_path(pipeline.QUERY))).items()
    }
    minutes_by_batch: dict[int, set] = {}
    batches_by_minute = defaultdict(set)
    for batch, files in committed_files(Path(config.table_path("view_slices"))).items():
        minutes = set()
        for file in files:
            minutes |= {m.timestamp() * 1000 for m in pq.read_table(file)["minute"].to_pylist()}
        minutes_by_batch[batch] = minutes
        for minute in minutes:
            batches_by_minute[minute].add(batch)
    assert len([b for b, m in minutes_by_batch.items() if m]) >= 3  # several batches emitted
    for minute, batches in batches_by_minute.items():
        assert len(batches) == 1, (minute, batches)
        (batch,) = batches
        end = minute + 60_000
        assert watermarks.get(batch - 1, 0) < end <= watermarks[batch], (minute, batch)
    # And so each minute's KPI row is written once, from that batch's slices alone.
    kpis = read_table(spark, config, "kpi_minute")
    assert kpis.count() == kpis.select("window_start").distinct().count() == len(batches_by_minute)


def heartbeats(partition: int, times_ms: list[int]) -> list[str]:
    return [
        json.dumps(
            {
                "event_id": f"p{partition}-{n}",
                "event_type": "heartbeat",
                "ts": ts,
                "session_id": f"p{partition}-s{n % 7}",
            }
        )
        for n, ts in enumerate(times_ms)
    ]


def test_a_rate_limited_backlog_of_skewed_partitions_makes_no_event_late(spark, kafka, tmp_path):
    topic = "player-events-skewed"
    kafka.create_topic(topic, partitions=2)
    # Partition 0: one event every 2 s for 10 minutes. Partition 1: as many events, but 90 %
    # of them in the first minute, so the same number of offsets covers far less event time.
    even = [T0 + 2000 * n for n in range(300)]
    front = [T0 + 200 * n for n in range(270)] + [T0 + 60_000 + 18_000 * n for n in range(30)]
    sent = {0: heartbeats(0, even), 1: heartbeats(1, front)}
    times = {0: even, 1: front}
    config = VsaConfig(
        kafka_bootstrap_servers=kafka.bootstrap_servers,
        player_events_topic=topic,
        output_root=str(tmp_path / "out"),
        max_offsets_per_trigger=60,
    )
    for partition, events in sent.items():
        produce(
            spark, kafka.bootstrap_servers, topic, [(None, e) for e in events], partition=partition
        )

    result = pipeline.run_until_caught_up(spark, config)

    # The reader did drift: in some batch one partition was read minutes of event time ahead
    # of the other, far beyond the 120 s watermark delay.
    batches = offset_log(Path(config.checkpoint_path(pipeline.QUERY)))
    drift = max(
        abs(times[0][v["ends"][(topic, 0)] - 1] - times[1][v["ends"][(topic, 1)] - 1])
        for v in batches.values()
        if all(0 < v["ends"].get((topic, p), 0) < 300 for p in (0, 1))
    )
    assert drift > 4 * config.watermark_seconds * 1000
    # Yet nothing was late: the watermark followed the slower partition.
    assert result.late_events == 0
    assert result.rows_written["dead_letter"] == 0
    assert not list(Path(config.table_path("dead_letter")).rglob("*.parquet"))
    assert read_table(spark, config, "player_events").count() == 600


def test_a_checkpoint_of_the_per_table_layout_is_refused_with_what_to_do(spark, kafka, tmp_path):
    config = VsaConfig(
        kafka_bootstrap_servers=kafka.bootstrap_servers,
        player_events_topic="player-events-upgrade",
        output_root=str(tmp_path / "out"),
    )
    (Path(config.checkpoint_path("_sessions")) / "offsets").mkdir(parents=True)
    with pytest.raises(RuntimeError, match="earlier vsa, one streaming query per table"):
        pipeline.start(spark, config)


def test_tables_read_by_pyarrow_hold_exactly_the_committed_rows(spark, streamed):
    """Every Parquet reader, not only Spark's, sees the committed rows: no table holds a file
    its log does not list."""
    for table in ("player_events", "view_slices", "views", "kpi_minute", "dead_letter"):
        path = Path(streamed.config.table_path(table))
        listed = {f for files in committed_files(path).values() for f in files}
        on_disk = {str(p) for p in path.rglob("*.parquet")}
        assert on_disk == listed, table
        if listed:  # a table whose batches held no row has no file Spark can read a schema of
            rows = read_table(spark, streamed.config, table).count()
            assert pq.read_table(path).num_rows == rows > 0, table


def test_a_file_uri_root_holds_every_table_and_the_checkpoint(spark, kafka, tmp_path):
    topic = "player-events-uri"
    kafka.create_topic(topic, partitions=2)
    config = VsaConfig(
        kafka_bootstrap_servers=kafka.bootstrap_servers,
        player_events_topic=topic,
        output_root=f"file://{tmp_path}/out/",
    )
    records = list(generate.generate(generate.Traffic(sessions=10, seed=41, start_ms=T0)))
    produce(spark, kafka.bootstrap_servers, topic, records)
    flush(spark, config, records)

    result = pipeline.run_until_caught_up(spark, config)

    assert (tmp_path / "out" / "_checkpoints" / pipeline.QUERY / "offsets").is_dir()
    for table in ("player_events", "view_slices", "views", "kpi_minute"):
        assert (tmp_path / "out" / table / "_spark_metadata").is_dir(), table
        rows = spark.read.parquet(config.table_path(table)).count()
        assert rows == result.rows_written[table] > 0, table


def test_the_catalog_lists_each_table_after_the_tables_it_reads_back():
    from vsa.tables import TABLES

    order = [t.name for t in TABLES]
    for table in TABLES:
        assert all(order.index(first) < order.index(table.name) for first in table.after), table
