"""Views and slices through Kafka and the streaming job, and the same through `vsa batch`."""

from __future__ import annotations

import json

import pytest
from pyspark.sql import DataFrame

from vsa import generate, pipeline
from vsa.config import VsaConfig
from vsa.kafka import produce
from vsa.sinks import read_table

SLICE_SUMS = ("watch_time_ms", "playing_time_ms", "stall_time_ms", "stall_count")


def flush_event(records: list[tuple[str, str]], config: VsaConfig) -> tuple[str, str]:
    """An event far enough ahead to move the watermark past every view's timeout."""
    last = max(json.loads(v)["ts"] for _, v in records)
    ahead = (config.view_timeout_seconds + config.watermark_seconds + 120) * 1000
    event = {
        "event_id": "flush",
        "event_type": "heartbeat",
        "ts": last + ahead,
        "session_id": "__flush__",
    }
    return "__flush__", json.dumps(event)


def rows(df: DataFrame, key: list[str]) -> list[dict]:
    drop = {"date", "hour", "closed_view"}
    return [
        {k: v for k, v in r.asDict().items() if k not in drop}
        for r in df.where("session_id != '__flush__'").orderBy(*key).collect()
    ]


@pytest.fixture(scope="module")
def streamed(spark, kafka, tmp_path_factory):
    out = tmp_path_factory.mktemp("sessions")
    topic = "player-events-sessions"
    config = VsaConfig(
        kafka_bootstrap_servers=kafka.bootstrap_servers,
        player_events_topic=topic,
        output_root=str(out / "stream"),
    )
    records = list(
        generate.generate(
            generate.Traffic(sessions=60, seed=21, start_ms=1764000000000, span_s=300)
        )
    )
    records.append(flush_event(records, config))
    produce(spark, kafka.bootstrap_servers, topic, records)
    (out / "events.jsonl").write_text("\n".join(v for _, v in records) + "\n")
    result = pipeline.run_until_caught_up(spark, config)
    return config, records, result, out


def test_every_session_becomes_a_closed_view(spark, streamed):
    config, records, result, _ = streamed
    sessions = {k for k, _ in records} - {"__flush__"}
    views = read_table(spark, config, "views")
    assert views.count() == len(sessions)
    assert {r.session_id for r in views.collect()} == sessions
    assert result.rows_written["views"] == len(sessions)


def test_slices_sum_to_their_view(spark, streamed):
    config, *_ = streamed
    slices = read_table(spark, config, "view_slices")
    sums = slices.groupBy("view_id").sum(*SLICE_SUMS)
    views = read_table(spark, config, "views")
    joined = views.join(sums, "view_id").collect()
    assert len(joined) == views.count()
    for r in joined:
        for c in SLICE_SUMS:
            assert r[f"sum({c})"] == r[c], (r.view_id, c)
    per_view = slices.groupBy("view_id").agg({"opened": "count"}).count()
    assert per_view == views.count()
    assert slices.where("opened").count() == views.count()
    assert slices.where("ended").count() == views.count()


def test_batch_gives_the_same_tables(spark, streamed):
    config, _, _, out = streamed
    batch_config = VsaConfig(output_root=str(out / "batch"))
    pipeline.run_batch(spark, batch_config, str(out / "events.jsonl"))
    for table, key in (("views", ["view_id"]), ("view_slices", ["view_id", "minute"])):
        streamed_rows = rows(read_table(spark, config, table), key)
        batch_rows = rows(read_table(spark, batch_config, table), key)
        assert len(streamed_rows) > 0
        assert batch_rows == streamed_rows, table
