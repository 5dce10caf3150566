"""The simulator's notion of a valid record is the pipeline's: vsa.normalize agrees with
vsa.simulate.truth.parse on every simulated record (a Spark test, kept apart from the plain
Python ones of test_simulate.py)."""

from __future__ import annotations

from pyspark.sql import functions as F

from vsa.normalize.player_events import parse_player_events
from vsa.simulate import Faults, Spec, simulate
from vsa.simulate.truth import parse


def test_normalize_accepts_exactly_the_valid_records(spark):
    sim = simulate(
        Spec(sessions=60, seed=8, start_ms=1_764_000_000_000, faults=Faults(malformed=0.1))
    )
    rows = [(offset, value) for offset, (_, value) in enumerate(sim.records)]
    raw = (
        spark.createDataFrame(rows, "kafka_offset long, raw string")
        .withColumn("kafka_topic", F.lit("sim"))
        .withColumn("kafka_partition", F.lit(0))
    )
    parsed = parse_player_events(raw).cache()
    rejected = {r.kafka_offset for r in parsed.where("reason IS NOT NULL").collect()}
    expected = {offset for offset, value in rows if parse(value) is None}
    assert sim.summary["malformed"] > 20
    assert rejected == expected
    # and reads the same instant from every ts, epoch ms or ISO-8601 text
    read = {
        r.kafka_offset: r.ms
        for r in parsed.where("reason IS NULL")
        .select("kafka_offset", F.unix_millis("event.ts").alias("ms"))
        .collect()
    }
    truth = {offset: parse(value) for offset, value in rows}
    assert read == {offset: event["ts"] for offset, event in truth.items() if event}
    assert any('"ts":"' in value for _, value in rows)
