"""Unique-viewer sketches: accuracy, mergeability, compatibility with Spark's hll_* functions,
and a streaming windowed aggregation in append mode."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta

import pytest
from pyspark.sql import functions as F

from vsa import functions as vf
from vsa.config import VsaConfig
from vsa.kpis import grouped_kpis, kpis_of, rollup
from vsa.pipeline import transform
from vsa.sinks import split
from vsa.sources import empty_raw

RSE_LG_K_12 = 1.04 / 64  # relative standard error of HLL at lgK 12: 1.04 / sqrt(2**12)


def test_a_million_distinct_ids_within_three_standard_errors(spark):
    row = (
        spark.range(1_000_000, numPartitions=4)
        .select(vf.viewer_sketch("id").alias("s"))
        .select(
            vf.sketch_estimate("s").alias("estimate"),
            F.call_function("hll_sketch_estimate", F.col("s")).alias("spark_estimate"),
            vf.sketch_lower_bound("s", 3).alias("low"),
            vf.sketch_upper_bound("s", 3).alias("high"),
        )
        .first()
    )
    print(f"\n1e6 distinct: estimate {row.estimate}, 3 sigma [{row.low:.0f}, {row.high:.0f}]")
    assert abs(row.estimate - 1_000_000) <= 3 * RSE_LG_K_12 * 1_000_000
    assert row.estimate == row.spark_estimate
    assert row.low <= 1_000_000 <= row.high


def test_union_of_sixty_minutes_is_the_hour(spark):
    # 600k events, 60 minutes, 150k distinct viewers that come back in many minutes
    events = spark.range(600_000, numPartitions=4).select(
        (F.col("id") % 60).alias("minute"), ((F.col("id") * 7919) % 150_000).alias("viewer_id")
    )
    per_minute = events.groupBy("minute").agg(vf.viewer_sketch("viewer_id").alias("s"))
    assert per_minute.count() == 60
    union = per_minute.select(vf.sketch_estimate(vf.sketch_union("s"))).first()[0]
    hour = events.select(vf.sketch_estimate(vf.viewer_sketch("viewer_id"))).first()[0]
    assert union == hour
    assert abs(hour - 150_000) <= 3 * RSE_LG_K_12 * 150_000


def test_sketch_union_rejects_mixed_lg_k_unless_allowed(spark):
    sketches = (
        spark.range(1000)
        .select(vf.viewer_sketch("id", 12).alias("s"))
        .unionByName(spark.range(1000).select(vf.viewer_sketch("id", 10).alias("s")))
    )
    allowed = sketches.select(vf.sketch_estimate(vf.sketch_union("s", allow_different_lg_k=True)))
    assert abs(allowed.first()[0] - 1000) < 50
    with pytest.raises(Exception, match="HLL_UNION_DIFFERENT_LG_K"):
        sketches.select(vf.sketch_union("s")).collect()


def test_windowed_sketches_in_a_stream_append_mode(spark, tmp_path):
    """JSON files → 1-minute windows with a watermark → memory sink in append mode."""
    source = tmp_path / "events"
    source.mkdir()
    start = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)
    # minute m has viewers m*10 .. m*10+59: overlapping sets, 60 distinct per minute
    events = [
        {"ts": (start + timedelta(minutes=m, seconds=s)).isoformat(), "viewer_id": f"v{m * 10 + v}"}
        for m in range(5)
        for v in range(60)
        for s in (5, 35)
    ]
    (source / "1.json").write_text("\n".join(json.dumps(e) for e in events))
    # a later event moves the watermark past the five minutes, so append mode emits them
    later = {"ts": (start + timedelta(minutes=30)).isoformat(), "viewer_id": "late"}
    (source / "2.json").write_text(json.dumps(later))

    stream = (
        spark.readStream.schema("ts timestamp, viewer_id string")
        .option("maxFilesPerTrigger", 1)
        .json(str(source))
        .withWatermark("ts", "2 minutes")
        .groupBy(F.window("ts", "1 minute"))
        .agg(vf.viewer_sketch("viewer_id").alias("unique_viewers_sketch"))
    )
    query = (
        stream.writeStream.format("memory")
        .queryName("viewer_sketches")
        .outputMode("append")
        .option("checkpointLocation", str(tmp_path / "checkpoint"))
        .trigger(availableNow=True)
        .start()
    )
    query.awaitTermination()
    out = spark.table("viewer_sketches")
    estimates = sorted(
        (r["window"]["start"].minute, r["n"])
        for r in out.select(
            "window", vf.sketch_estimate("unique_viewers_sketch").alias("n")
        ).collect()
    )
    assert estimates == [(m, 60) for m in range(5)]
    hour = out.select(vf.sketch_estimate(vf.sketch_union("unique_viewers_sketch"))).first()[0]
    assert hour == 100  # v0 .. v99


@pytest.mark.parametrize(
    ("table", "functions"),
    [
        ("kpi_minute", {"vsa_viewer_sketch", "vsa_sketch_estimate"}),
        ("kpi_hour", {"vsa_sketch_union", "vsa_sketch_estimate"}),
    ],
)
def test_the_kpi_tables_sketch_with_the_functions_vsa_offers(spark, capsys, table, functions):
    """One way to a sketch: the KPI tables and their rollups build, merge and estimate their
    unique-viewer sketches with the catalog's functions (whose bytes the tests above pin to
    Spark's), never with Spark's ``hll_*`` directly, so the two cannot drift apart."""
    config = VsaConfig()
    batch = split(transform(empty_raw(spark), config), config, lambda name, seconds: None)
    minutes = kpis_of(grouped_kpis(batch.view_slices, config, {"kpis": ()}), "kpis", ())
    planned = minutes if table == "kpi_minute" else rollup(minutes, "hour", ())
    # Every aggregate spelled out: past maxToStringFields (25) a plan prints "... N more fields".
    limit = spark.conf.get("spark.sql.debug.maxToStringFields")
    spark.conf.set("spark.sql.debug.maxToStringFields", "1000")
    try:
        planned.explain(extended=True)
    finally:
        spark.conf.set("spark.sql.debug.maxToStringFields", limit)
    analyzed = capsys.readouterr().out.split("== Optimized Logical Plan ==")[0]
    assert {name for name in functions if f"{name}(" not in analyzed} == set()
    assert re.findall(r"hll_\w+", analyzed) == []
