"""Freshness, with simulated live traffic flowing into the local broker in real time.

    .venv/bin/python bench/freshness.py --minutes 10
    .venv/bin/python bench/freshness.py --minutes 5 --table live

`kpi_minute` (the default): for each minute, the delay from its end to the moment its row is
readable in Parquet. Knobs that trade freshness for lateness tolerance (VsaConfig):
`watermark_seconds` (how late an event may be; each second added delays every minute by a
second) and `trigger_interval` (a minute closes in the first micro-batch whose watermark passes
it: the one after the data that moved the watermark). Target: p95 <= watermark + 2 x trigger +
15 s.

`live`: for each start attempt (a `playback_request`), the delay from its event time to the
moment the `live` table counts it (its tick's `start_attempts`, added up over the batches'
rows, reaches the attempt's rank among the tick's attempts in event-time order). Default
trigger 5 s. Target: p95 <= 20 s.
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
from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from vsa import pipeline
from vsa.config import VsaConfig
from vsa.kafka import LocalKafka, produce
from vsa.kafka.broker import free_port
from vsa.simulate import Faults, Spec, simulate
from vsa.simulate.truth import Rules, classify, closed_views, parse
from vsa.spark_session import build_session

TICK_MS = 10_000


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
    parser.add_argument("--table", choices=("kpi_minute", "live"), default="kpi_minute")
    parser.add_argument(
        "--trigger", default=None, help="default: 10 seconds (kpi_minute), 5 seconds (live)"
    )
    args = parser.parse_args()
    trigger = args.trigger or ("5 seconds" if args.table == "live" else "10 seconds")

    workdir = Path(tempfile.mkdtemp(prefix="vsa-freshness-"))
    broker = LocalKafka(workdir / "kafka", port=free_port())
    servers = broker.start()
    config = VsaConfig(
        kafka_bootstrap_servers=servers,
        output_root=str(workdir / "out"),
        trigger_interval=trigger,
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
    deadline = time.time() + args.minutes * 60
    if args.table == "live":
        counted = watch_live(spark, config, deadline)
    else:
        published = watch_minutes(spark, config, deadline)
    stop.set()
    # The batches after the first minute (the first ones compile the job's code).
    durations = sorted(
        p["durationMs"]["triggerExecution"] / 1000
        for p in query.recentProgress
        if datetime.fromisoformat(p["timestamp"].replace("Z", "+00:00")).timestamp() * 1000
        > start_ms + 60_000
    )
    query.stop()
    broker.stop()
    if durations:
        print(
            f"micro-batches after the first minute: {len(durations)}, "
            f"{statistics.median(durations):.1f} s median, p95 {p95(durations):.1f} s, "
            f"max {durations[-1]:.1f} s"
        )
    if args.table == "live":
        report_live(records, counted, start_ms, deadline, trigger)
    else:
        report_minutes(published, start_ms, config)


def p95(ordered: list[float]) -> float:
    """The 95th percentile of ``ordered`` (sorted, not empty): its nearest-rank value."""
    return ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]


def polled(spark, config: VsaConfig, table: str, deadline: float, every: float, query):
    """(wall clock, rows) of ``query`` over ``table``, every ``every`` seconds until
    ``deadline``, from the table's first commit on."""
    path = Path(config.table_path(table))
    while time.time() < deadline:
        time.sleep(every)
        if not (path / "_spark_metadata").exists():
            continue
        now = time.time()
        try:
            rows = query(spark.read.parquet(str(path))).collect()
        except AnalysisException:  # the sink committed no file yet
            continue
        yield now, rows


def watch_minutes(spark, config: VsaConfig, deadline: float) -> dict[datetime, float]:
    """When each minute's `kpi_minute` row was first readable (wall clock)."""
    seen: dict[datetime, float] = {}
    windows = polled(
        spark, config, "kpi_minute", deadline, 2, lambda df: df.select("window_end").distinct()
    )
    for now, rows in windows:
        for row in rows:
            seen.setdefault(row.window_end, now)
    return seen


def report_minutes(seen: dict[datetime, float], start_ms: int, config: VsaConfig) -> None:
    delays = sorted(
        seen[end] - end.replace(tzinfo=UTC).timestamp()
        for end in seen
        if end.replace(tzinfo=UTC).timestamp() * 1000 > start_ms + 60_000  # a full minute
    )
    if not delays:
        print("no complete minute was published; run longer")
        return
    print(
        f"minutes published: {len(delays)}  (watermark {config.watermark_seconds} s, "
        f"trigger {config.trigger_interval})"
    )
    print(
        f"delay from minute end to kpi_minute row: p50 {statistics.median(delays):.0f} s, "
        f"p95 {p95(delays):.0f} s, max {max(delays):.0f} s"
    )
    trigger_s = int(config.trigger_interval.split()[0])
    target = config.watermark_seconds + 2 * trigger_s + 15
    print(f"target p95 <= watermark + 2 x trigger + 15 s = {target} s")


def watch_live(spark, config: VsaConfig, deadline: float) -> dict[int, list[tuple[float, int]]]:
    """Per tick (epoch ms): (wall clock, start attempts the `live` table counts) each time the
    count grew, polled every second."""
    counted: dict[int, list[tuple[float, int]]] = {}

    def attempts_per_tick(live: DataFrame) -> DataFrame:
        return live.groupBy(F.unix_millis("tick").alias("tick")).agg(
            F.sum("start_attempts").alias("n")
        )

    for now, rows in polled(spark, config, "live", deadline, 1, attempts_per_tick):
        for row in rows:
            history = counted.setdefault(row.tick, [])
            if not history or row.n > history[-1][1]:
                history.append((now, row.n))
    return counted


def report_live(
    records, counted: dict[int, list[tuple[float, int]]], start_ms: int, deadline: float, trigger
) -> None:
    # The views the truth opens (the live table's start attempts), by tick, in event-time
    # order; the first minute warms the JVM up, the last 30 s may not have come yet.
    accepted = classify([v for _, v in records], watermark_ms=10**15).accepted
    attempts: dict[int, list[int]] = {}
    for view in closed_views(accepted, Rules()):
        ts = view.view_start
        attempts.setdefault(ts - ts % TICK_MS, []).append(ts)
    delays, unseen = [], 0
    for tick, times in attempts.items():
        history = counted.get(tick, [])
        for rank, ts in enumerate(sorted(times), start=1):
            if not start_ms + 60_000 <= ts <= (deadline - 30) * 1000:
                continue
            when = next((at for at, n in history if n >= rank), None)
            if when is None:
                unseen += 1
            else:
                delays.append(when - ts / 1000)
    if not delays:
        print("no start attempt was counted; run longer")
        return
    delays.sort()
    print(f"start attempts counted: {len(delays)} of {len(delays) + unseen}  (trigger {trigger})")
    print(
        f"delay from event time to live row: p50 {statistics.median(delays):.1f} s, "
        f"p95 {p95(delays):.1f} s, max {max(delays):.1f} s"
    )
    print("target p95 <= 20 s")


if __name__ == "__main__":
    main()
