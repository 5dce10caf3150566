"""``cdn_qos_minute`` against an independent plain-Python computation (vsa.simulate.cdn) over
CDN logs generated for simulated sessions: in batch from CloudFront standard log files, and
streaming from a Kafka topic of nginx lines (with a malformed line and a malformed CMCD among
them, which go to ``dead_letter`` while the stream carries on)."""

from __future__ import annotations

import json
import math
from dataclasses import replace

import pytest
from pyspark.sql import functions as F

from vsa import pipeline
from vsa.config import VsaConfig
from vsa.functions import geo_lookup
from vsa.kafka import produce
from vsa.simulate import Spec, simulate
from vsa.simulate.cdn import CLOUDFRONT_HEADER, cdn_requests, log_line, qos_truth

START_MS = 1_764_000_000_000
METRICS = [
    "requests",
    "bytes",
    "errors_4xx",
    "errors_5xx",
    "error_pct",
    "cache_hits",
    "cache_misses",
    "cache_hit_ratio",
    "ttfb_p50_ms",
    "ttfb_p95_ms",
    "download_p50_ms",
    "download_p95_ms",
    "throughput_p50_kbps",
    "cmcd_requests",
    "buffer_starvation_rate",
    "cmcd_mtp_p50_kbps",
    "cmcd_bl_p50_ms",
]


@pytest.fixture(scope="module")
def events() -> list[dict]:
    sim = simulate(Spec(sessions=25, viewers=20, span_s=240, seed=5, start_ms=START_MS))
    out = []
    for _, value in sim.records:
        try:
            out.append(json.loads(value))
        except ValueError:
            continue
    return [e for e in out if isinstance(e, dict)]


def countries(spark, requests) -> dict[str, str | None]:
    ips = sorted({r.client_ip for r in requests})
    rows = spark.createDataFrame([(ip,) for ip in ips], "ip string")
    geo = rows.select("ip", geo_lookup("ip").getField("country").alias("c")).collect()
    return {r.ip: r.c for r in geo}


def table_rows(spark, config: VsaConfig) -> dict[tuple, dict]:
    df = spark.read.parquet(config.table_path("cdn_qos_minute"))
    out = {}
    for r in df.collect():
        key = (
            int(r.window_start.timestamp() * 1000),
            r.cdn,
            r.pop,
            r.country,
            r.object_type,
        )
        assert key not in out, key
        out[key] = {m: r[m] for m in METRICS}
    return out


def assert_same(actual: dict[tuple, dict], expected: dict[tuple, dict]) -> None:
    assert set(actual) == set(expected)
    for key, row in expected.items():
        for metric, value in row.items():
            got = actual[key][metric]
            if value is None or got is None:
                assert got == value, (key, metric)
            else:
                assert math.isclose(got, value, rel_tol=1e-9, abs_tol=1e-9), (key, metric, got)


def test_batch_cloudfront_qos_matches_plain_python(spark, events, tmp_path):
    requests = cdn_requests(events, "cloudfront", seed=5)
    assert len(requests) > 200 and any(r.cmcd.get("bs") for r in requests)
    logs = tmp_path / "logs"
    logs.mkdir()
    # Two files, each with its header, as CloudFront delivers them.
    half = len(requests) // 2
    for n, part in enumerate((requests[:half], requests[half:])):
        lines = [CLOUDFRONT_HEADER, *(log_line(r, "cloudfront") for r in part)]
        (logs / f"E2X.2025-11-24-16.{n}").write_text("\n".join(lines) + "\n")
    config = VsaConfig(output_root=str(tmp_path / "out"))
    result = pipeline.run_batch(spark, config, cdn_path=str(logs), cdn_format="cloudfront")
    assert result.rows_written["cdn_requests"] == len(requests)
    assert result.rows_written["dead_letter"] == 0

    # CloudFront standard logs carry whole seconds.
    for r in requests:
        r.ts_ms = r.ts_ms // 1000 * 1000
    where = countries(spark, requests)
    expected = qos_truth(requests, "cloudfront", where.get)
    assert_same(table_rows(spark, config), expected)
    assert any(k[3] not in ("unknown",) for k in expected)  # some countries resolved


def test_streaming_nginx_qos_matches_plain_python(spark, kafka, events, tmp_path):
    topic = "cdn-nginx-qos"
    kafka.create_topic(topic, partitions=1)
    requests = cdn_requests(events, "nginx", seed=6)
    lines = [log_line(r, "nginx") for r in requests]
    lines.insert(5, "this is not an nginx line")
    # A request whose CMCD is malformed: kept without CMCD, and a dead letter.
    bad = replace(requests[7], path=requests[7].path.replace("/live/", "/other/", 1), cmcd={})
    lines.insert(9, log_line(bad, "nginx").replace(" HTTP/1.1", "?CMCD=br%3D%22x HTTP/1.1", 1))
    # One line far ahead moves the watermark past every other request's minute.
    last = max(r.ts_ms for r in requests)
    flush = log_line(replace(requests[0], ts_ms=last + 600_000), "nginx")
    produce(spark, kafka.bootstrap_servers, topic, [(None, line) for line in [*lines, flush]])

    config = VsaConfig(
        kafka_bootstrap_servers=kafka.bootstrap_servers,
        player_events_topic=None,  # CDN logs only: the CDN stream carries the watermark
        cdn_logs_topic=topic,
        cdn_log_format="nginx",
        cdn_pop="edge-1",
        output_root=str(tmp_path / "out"),
    )
    result = pipeline.run_until_caught_up(spark, config)
    assert result.rows_written["cdn_requests"] == len(requests) + 2

    dead = spark.read.parquet(config.table_path("dead_letter")).orderBy("kafka_offset").collect()
    assert [(d.source, d.reason, d.kafka_topic, d.kafka_offset) for d in dead] == [
        ("cdn_logs", "malformed_line", topic, 5),
        ("cdn_logs", "malformed_cmcd", topic, 9),
    ]
    assert "unterminated string" in dead[1].detail

    where = countries(spark, requests)
    expected = qos_truth([*requests, bad], "nginx", where.get)
    actual = table_rows(spark, config)
    flush_window = (last + 600_000) // 60_000 * 60_000
    assert all(k[0] < flush_window for k in actual)  # the flush's own minute is still open
    assert_same(actual, expected)
    requests_table = spark.read.parquet(config.table_path("cdn_requests"))
    assert requests_table.where(F.col("cmcd_error").isNotNull()).count() == 1
