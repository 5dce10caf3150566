"""Where should the sessionizer run? The jar's (Scala, flatMapGroupsWithState) against the same
rules in Python on Spark's Python workers, side by side on one data set, local[2].

The Python side runs the simulator's plain-Python implementation of docs/views.md
(`vsa.simulate.truth.compute`) per session with `groupBy(...).applyInPandas`: the least a
Python sessionizer costs (a streaming one, `applyInPandasWithState`, adds state
serialization on top).

    .venv/bin/python bench/sessionizer.py --sessions 4000
"""

from __future__ import annotations

import argparse
import time

import pandas as pd
from pyspark.sql import functions as F

from vsa.config import VsaConfig
from vsa.normalize import parse_player_events
from vsa.pipeline import KAFKA_COORDINATES
from vsa.sessions import sessionize
from vsa.simulate import Faults, Spec, simulate
from vsa.simulate.truth import Rules, compute, parse
from vsa.sources import RAW_SCHEMA
from vsa.spark_session import build_session

SLICE_SCHEMA = (
    "view_id string, minute long, watch_time_ms long, playing_time_ms long, "
    "stall_time_ms long, stall_count int"
)


def python_sessionizer(rules: Rules):
    def run(events: pd.DataFrame) -> pd.DataFrame:
        rows = [e for e in map(parse, events["raw"]) if e is not None]
        slices = compute(rows, rules).slices
        columns = [c.split()[0] for c in SLICE_SCHEMA.split(", ")]
        return pd.DataFrame([{c: s[c] for c in columns} for s in slices], columns=columns)

    return run


def timed(label: str, action) -> float:
    began = time.perf_counter()
    rows = action()
    seconds = time.perf_counter() - began
    print(f"{label:38s} {seconds:7.1f} s  ({rows} slices)")
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sessions", type=int, default=4000)
    args = parser.parse_args()
    sim = simulate(
        Spec(
            sessions=args.sessions,
            seed=3,
            start_ms=1_764_000_000_000,
            span_s=3600,
            faults=Faults(duplicate=0, out_of_order=0, late=0, malformed=0),
        )
    )
    config = VsaConfig(spark_conf={"spark.sql.shuffle.partitions": "4"})
    spark = build_session(config, master="local[2]")
    raw = spark.createDataFrame(
        [(v, "t", 0, i, None) for i, (_, v) in enumerate(sim.records)],
        RAW_SCHEMA,
    ).cache()
    parsed = parse_player_events(raw)
    valid = F.col("reason").isNull() & ~F.col("ignored")
    events = parsed.where(valid).select("event.*", "raw", *KAFKA_COORDINATES).cache()
    print(f"{events.count()} events, {args.sessions} sessions, {len(sim.slices)} slices (truth)")
    rules = sim.spec.rules

    def scala() -> int:
        return sessionize(events, config).count()

    def python() -> int:
        with_session = raw.select(F.get_json_object("raw", "$.session_id").alias("s"), "raw")
        return (
            with_session.where("s IS NOT NULL")
            .groupBy("s")
            .applyInPandas(python_sessionizer(rules), SLICE_SCHEMA)
            .count()
        )

    scala(), python()  # warm up both (JIT, Python workers)
    jvm = timed("jar (flatMapGroupsWithState)", scala)
    py = timed("Python (applyInPandas, same rules)", python)
    print(f"Python / jar: {py / jvm:.1f}x the time")


if __name__ == "__main__":
    main()
