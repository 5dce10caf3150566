"""Player ↔ CDN fusion (docs/cdn.md, "Attribution"): hand-written player events and Edgio
(Edgecast) RTLD lines with CMCD, through ``vsa batch`` and through Kafka and the streaming job.
Every expected figure below is worked out by hand from the rows, never from the job's output."""

from __future__ import annotations

import json
from urllib.parse import quote

import pytest
from pyspark.sql import functions as F

from conftest import flush
from vsa import pipeline
from vsa.config import VsaConfig
from vsa.kafka import produce

T0 = 1_764_000_000_000  # a minute's start
MINUTE = 60_000
IP = "198.51.100.7"  # documentation range: no country


def event(session: str, n: int, kind: str, at: int, **fields: object) -> str:
    return json.dumps(
        {"event_id": f"{session}-{n}", "event_type": kind, "ts": T0 + at, "session_id": session}
        | fields
    )


def line(at: int, pop: str, size: int, status: int, cache: str, ttfb_s: float, total_s: float,
         sid: str | None = None, starved: bool = False) -> str:  # fmt: skip
    cmcd = ([f'sid="{sid}"'] if sid else []) + (["bs"] if starved else [])
    query = f"?CMCD={quote(','.join(sorted(cmcd)), safe='')}" if cmcd else ""
    return json.dumps(
        {
            "timestamp": (T0 + at) / 1000,
            "client_ip": IP,
            "user_agent": "test-player/1.0",
            "host": "video.example.com",
            "path": f"/v/seg-{at}.m4s",
            "query": query,
            "status_code": status,
            "bytes_out": size,
            "total_time": total_s,
            "prewrite_time": ttfb_s,
            "cache_status": cache,
            "pop": pop,
        }
    )


# Session "a" (its CMCD sid is its session_id): views from 1 s to its finish at 90 s.
# Session "b" sends CMCD sid "cm-b" and says so in every event's cmcd_sid; its view ends at 50 s.
EVENTS = [
    event("a", 1, "playback_request", 1_000, video_id="v1"),
    event("a", 2, "playback_start", 2_000, video_id="v1"),
    event("a", 3, "heartbeat", 30_000, video_id="v1"),
    event("a", 4, "heartbeat", 61_000, video_id="v1"),
    event("a", 5, "playback_finish", 90_000, video_id="v1"),
    event("b", 1, "playback_request", 5_000, video_id="v2", cmcd_sid="cm-b"),
    event("b", 2, "playback_start", 6_000, video_id="v2", cmcd_sid="cm-b"),
    event("b", 3, "view_end", 50_000, video_id="v2", cmcd_sid="cm-b"),
]
LINES = [
    # a, minute 0: FRA 1000 B (HIT, ttfb 20, 800 kbps), AMS 3000 B (503 MISS, ttfb 200, 240 kbps)
    line(1_500, "FRA", 1000, 200, "TCP_HIT", 0.02, 0.01, sid="a"),
    line(20_000, "AMS", 3000, 503, "TCP_MISS", 0.2, 0.1, sid="a"),
    # a, minute 1: FRA 500 B (MISS, ttfb 40, 80 kbps, buffer starved)
    line(65_000, "FRA", 500, 200, "TCP_MISS", 0.04, 0.05, sid="a", starved=True),
    # b (sid cm-b), minute 0: AMS 2000 B (HIT, ttfb 30, 800 kbps)
    line(10_000, "AMS", 2000, 200, "TCP_HIT", 0.03, 0.02, sid="cm-b"),
    # Not attributed: b's analytics id is not its key; no sid; after a's finish; a sid no
    # session has.
    line(11_000, "AMS", 100, 200, "TCP_HIT", 0.01, 0.01, sid="b"),
    line(12_000, "AMS", 100, 200, "TCP_HIT", 0.01, 0.01),
    line(95_000, "FRA", 100, 200, "TCP_HIT", 0.01, 0.01, sid="a"),
    line(70_000, "FRA", 100, 200, "TCP_HIT", 0.01, 0.01, sid="nobody"),
]

VIEWS = {
    "a#1": {
        "cdn_requests": 3,
        "cdn_bytes": 4500,
        "cdn_errors": 1,
        "cdn_cache_hit_ratio": 1 / 3,
        "cdn_ttfb_p50_ms": 40.0,  # of 20, 40, 200
        "cdn_ttfb_p95_ms": 200.0,
        "cdn_throughput_p50_kbps": 240.0,  # of 80, 240, 800
        "cdn_starvation_requests": 1,
        "cdn_pops": ["AMS", "FRA"],
        "cdn_primary_pop": "AMS",  # 3000 B against FRA's 1500
    },
    "b#1": {
        "cdn_requests": 1,
        "cdn_bytes": 2000,
        "cdn_errors": 0,
        "cdn_cache_hit_ratio": 1.0,
        "cdn_ttfb_p50_ms": 30.0,
        "cdn_ttfb_p95_ms": 30.0,
        "cdn_throughput_p50_kbps": 800.0,
        "cdn_starvation_requests": 0,
        "cdn_pops": ["AMS"],
        "cdn_primary_pop": "AMS",
    },
}
# (view, minute) → requests, bytes, errors, primary POP
SLICES = {
    ("a#1", 0): (2, 4000, 1, "AMS"),
    ("a#1", 1): (1, 500, 0, "FRA"),
    ("b#1", 0): (1, 2000, 0, "AMS"),
}
# (minute, pop) → views, plays, ended views, requests, error %, cache hit ratio, ttfb p95,
# throughput p50: minute 0 at AMS holds a's and b's first slices, minute 1 at FRA a's last.
POP_MINUTES = {
    (0, "AMS"): (2, 2, 1, 3, 100 / 3, 2 / 3, 200, 800),
    (1, "FRA"): (0, 0, 1, 1, 0.0, 0.0, 40, 80),
}
# minute → attributed % of the minute's requests: 3 of 5, then 1 of 3.
ATTRIBUTED_PCT = {0: 60.0, 1: 100 / 3}


def same(actual: object, expected: object) -> bool:
    """Equal, floats to their last bits' rounding."""
    if isinstance(expected, float):
        return actual == pytest.approx(expected)
    if isinstance(expected, tuple):
        return len(actual) == len(expected) and all(map(same, actual, expected))
    return actual == expected


def minute(at) -> int:
    return int((at.timestamp() * 1000 - T0) // MINUTE)


def assert_tables(spark, config: VsaConfig, hours: bool) -> None:
    views = {
        r.view_id: r.asDict()
        for r in spark.read.parquet(config.table_path("views"))
        .where(F.col("view_id").isin("a#1", "b#1"))
        .collect()
    }
    assert views.keys() == VIEWS.keys()
    for view_id, expected in VIEWS.items():
        for column, value in expected.items():
            assert same(views[view_id][column], value), (view_id, column, views[view_id][column])
    assert views["b#1"]["session_id"] == "b"

    slices = spark.read.parquet(config.table_path("view_slices")).where(F.col("cdn_requests") > 0)
    got = {
        (r.view_id, minute(r.minute)): (
            r.cdn_requests,
            r.cdn_bytes,
            r.cdn_errors,
            r.cdn_primary_pop,
        )
        for r in slices.collect()
    }
    assert got == SLICES
    assert {r.cdn_primary_cdn for r in slices.collect()} == {"edgecast"}

    pops = spark.read.parquet(config.table_path("kpi_by_pop")).collect()
    got = {
        (minute(r.window_start), r.pop): (
            r.views,
            r.plays,
            r.ended_views,
            r.requests,
            r.error_pct,
            r.cache_hit_ratio,
            r.ttfb_p95_ms,
            r.throughput_p50_kbps,
        )
        for r in pops
    }
    assert got.keys() == POP_MINUTES.keys()
    for key, expected in POP_MINUTES.items():
        assert same(got[key], expected), (key, got[key])
    assert {(r.cdn, r.country) for r in pops} == {("edgecast", "unknown")}
    if hours:  # the hour is over (a stream closes it once its watermark passes the hour)
        rolled = spark.read.parquet(config.table_path("kpi_by_pop_hour")).collect()
        assert {(r.pop, r.views, r.requests, r.ttfb_p95_ms) for r in rolled} == {
            ("AMS", 2, 3, 200),
            ("FRA", 0, 1, 40),
        }

    qos = spark.read.parquet(config.table_path("cdn_qos_minute")).collect()
    assert {minute(r.window_start) for r in qos} == ATTRIBUTED_PCT.keys()
    for r in qos:  # the same on every row of the minute and CDN
        assert same(r.cdn_attributed_pct, ATTRIBUTED_PCT[minute(r.window_start)]), r
    requests = spark.read.parquet(config.table_path("cdn_requests"))
    assert requests.count() == len(LINES)


def test_batch_attributes_requests_to_the_views_they_served(spark, tmp_path):
    (tmp_path / "events.jsonl").write_text("\n".join(EVENTS) + "\n")
    (tmp_path / "cdn.log").write_text("\n".join(LINES) + "\n")
    config = VsaConfig(output_root=str(tmp_path / "out"))
    result = pipeline.run_batch(
        spark, config, str(tmp_path / "events.jsonl"), str(tmp_path / "cdn.log"), "edgecast"
    )
    assert result.rows_written["dead_letter"] == 0
    assert_tables(spark, config, hours=True)


def test_stream_attributes_the_same_and_passes_every_line_through_once(spark, kafka, tmp_path):
    player_topic, cdn_topic = "cdn-fusion-events", "cdn-fusion-lines"
    kafka.create_topic(player_topic, partitions=2)
    kafka.create_topic(cdn_topic, partitions=1)
    config = VsaConfig(
        kafka_bootstrap_servers=kafka.bootstrap_servers,
        player_events_topic=player_topic,
        cdn_logs_topic=cdn_topic,
        cdn_log_format="edgecast",
        output_root=str(tmp_path / "out"),
    )
    # The CDN lines go first: a request may reach the job before its session's events.
    produce(spark, kafka.bootstrap_servers, cdn_topic, [(None, x) for x in LINES])
    records = [(None, e) for e in EVENTS]
    produce(spark, kafka.bootstrap_servers, player_topic, records, partition=0)
    flush(spark, config, records)
    result = pipeline.run_until_caught_up(spark, config)
    assert (result.late_events, result.rows_written["dead_letter"]) == (0, 0)
    assert_tables(spark, config, hours=False)

    # A request behind the watermark (a's first minute, long closed): kept in cdn_requests,
    # attributed to nothing, never a dead letter.
    late = line(3_000, "FRA", 700, 200, "TCP_HIT", 0.01, 0.01, sid="a")
    produce(spark, kafka.bootstrap_servers, cdn_topic, [(None, late)])
    again = pipeline.run_until_caught_up(spark, config)
    assert again.rows_written["dead_letter"] == 0
    requests = spark.read.parquet(config.table_path("cdn_requests"))
    assert requests.count() == len(LINES) + 1
    assert requests.where(F.col("bytes") == 700).count() == 1
    slices = spark.read.parquet(config.table_path("view_slices"))
    assert slices.agg(F.sum("cdn_requests")).first()[0] == 4
