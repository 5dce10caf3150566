"""Freshness: for each minute, the delay from its end to the moment its `kpi_minute` row is
readable in Parquet, with simulated live traffic flowing into the local broker.

    .venv/bin/python bench/freshness.py --minutes 10

Knobs that trade freshness for lateness tolerance (VsaConfig): `watermark_seconds` (how late
an event may be; each second added delays every minute by a second) and `trigger_interval`
(a minute closes in the first micro-batch whose watermark passes it: the one after the data
that moved the watermark). Target: p95 <= watermark + 2 x trigger + 15 s.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

from pyspark.errors import AnalysisException

from vsa import pipeline
from vsa.config import VsaConfig
from vsa.kafka import LocalKafka, produce
from vsa.kafka.broker import free_port
from vsa.simulate import Faults, Spec, simulate
from vsa.simulate.truth import parse
from vsa.spark_session import build_session


def send_live(spark, servers: str, topic: str, records, stop: threading.Event) -> None:
    """Sends each record once the wall clock reaches its event time."""
    timed = [(parse(v)["ts"] if parse(v) else 0, k, v) for k, v in records]
    i = 0
    while i < len(timed) and not stop.is_set():
        now = time.time() * 1000
        batch = []
        while i < len(timed) and timed[i][0] <= now:
            batch.append((timed[i][1], timed[i][2]))
            i += 1
        if batch:
            produce(spark, servers, topic, batch)
        time.sleep(1.0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--minutes", type=int, default=10, help="how long to run")
    parser.add_argument("--sessions", type=int, default=600)
    parser.add_argument("--trigger", default="10 seconds")
    args = parser.parse_args()

    workdir = Path(tempfile.mkdtemp(prefix="vsa-freshness-"))
    broker = LocalKafka(workdir / "kafka", port=free_port())
    servers = broker.start()
    config = VsaConfig(
        kafka_bootstrap_servers=servers,
        output_root=str(workdir / "out"),
        trigger_interval=args.trigger,
        starting_offsets="earliest",
    )
    spark = build_session(config, app_name="vsa-freshness")
    start_ms = int(time.time() * 1000)
    sim = simulate(
        Spec(
            sessions=args.sessions,
            seed=9,
            start_ms=start_ms,
            span_s=args.minutes * 60,
            faults=Faults(late=0, malformed=0.001),
        )
    )
    records = sorted(sim.records, key=lambda r: parse(r[1])["ts"] if parse(r[1]) else 0)
    broker.create_topic(config.player_events_topic, partitions=2)
    stop = threading.Event()
    sender = threading.Thread(
        target=send_live,
        daemon=True,
        args=(spark, servers, config.player_events_topic, records, stop),
    )
    sender.start()
    query = pipeline.start(spark, config)
    seen: dict[datetime, float] = {}
    deadline = time.time() + args.minutes * 60
    path = Path(config.table_path("kpi_minute"))
    while time.time() < deadline:
        time.sleep(2)
        if not (path / "_spark_metadata").exists():
            continue
        now = time.time()
        try:
            rows = spark.read.parquet(str(path)).select("window_end").distinct().collect()
        except AnalysisException:  # the sink committed no file yet
            continue
        for row in rows:
            seen.setdefault(row.window_end, now)
    stop.set()
    query.stop()
    broker.stop()
    delays = sorted(
        seen[end] - end.replace(tzinfo=UTC).timestamp()
        for end in seen
        if end.replace(tzinfo=UTC).timestamp() * 1000 > start_ms + 60_000  # a full minute
    )
    if not delays:
        print("no complete minute was published; run longer")
        return
    p95 = delays[min(len(delays) - 1, round(0.95 * (len(delays) - 1)))]
    print(
        f"minutes published: {len(delays)}  (watermark {config.watermark_seconds} s, "
        f"trigger {config.trigger_interval})"
    )
    print(
        f"delay from minute end to kpi_minute row: p50 {statistics.median(delays):.0f} s, "
        f"p95 {p95:.0f} s, max {max(delays):.0f} s"
    )
    trigger_s = int(config.trigger_interval.split()[0])
    target = config.watermark_seconds + 2 * trigger_s + 15
    print(f"target p95 <= watermark + 2 x trigger + 15 s = {target} s")


if __name__ == "__main__":
    main()
