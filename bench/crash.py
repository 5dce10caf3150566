"""Crash safety, measured: the streaming job killed with SIGKILL again and again, then compared
with `vsa batch` over the same events.

    .venv/bin/python bench/crash.py --kills 10
    .venv/bin/python bench/crash.py --sessions 600 --batch 300 --restarts 3   # restart times

A fixed simulated data set (valid sessions and malformed records) goes into the local broker,
on two partitions. `vsa run` (the driver and its JVM) then runs with small micro-batches and is
killed with SIGKILL at random moments, during batches and during commits, and restarted from
its checkpoint each time; a last `vsa run --available-now` finishes the topic. Every table is
then compared with `vsa batch` over the same events, on everything the stream has finalized:
rows lost, duplicated and differing per table, Spark's reader and pyarrow's alike (pyarrow
reads every file in a table's folder, committed or not). tests/test_crash.py runs a smaller
version (3 kills).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import urlparse

import pyarrow.parquet as pq
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql.utils import AnalysisException

from vsa import generate, pipeline
from vsa.config import VsaConfig
from vsa.kafka import produce
from vsa.kpis.live import COUNTS as LIVE_COUNTS
from vsa.kpis.live import DIMENSIONS as LIVE_DIMENSIONS
from vsa.sinks import read_table
from vsa.tables import KPI_TABLES

# How each table's rows are told apart, in the stream's tables and the batch's.
KEYS = {
    "player_events": ("event_id",),
    "view_slices": ("view_id", "minute"),
    "views": ("view_id",),
    **{t: ("window_start", *dims) for t, dims in KPI_TABLES.items()},
    "kpi_hour": ("window_start",),
    "kpi_day": ("window_start",),
    "live": ("tick", *LIVE_DIMENSIONS),
}
# Columns that differ between two correct runs: when a row was written, and the sketches'
# bytes (their estimates are compared).
VOLATILE = {
    "date",
    "hour",
    "received_at",
    "kafka_topic",
    "kafka_partition",
    "kafka_offset",
    "closed_view",
    "unique_viewers_sketch",
    "startup_time_sketch",
}
MALFORMED = ("{not json", '{"event_type": "heartbeat"}', "[1, 2]")
PARTITIONS = 2


@dataclass
class Counts:
    """What a table of the stream has against the batch's."""

    rows: int
    lost: int
    duplicated: int
    differing: int
    unlisted_files: int


def dataset(sessions: int, seed: int) -> list[str]:
    """The events, in time order (as players send them), with malformed records among them."""
    traffic = generate.Traffic(sessions=sessions, seed=seed, start_ms=1_764_000_000_000, span_s=600)
    events = sorted((v for _, v in generate.generate(traffic)), key=lambda v: json.loads(v)["ts"])
    for n, bad in enumerate(MALFORMED):
        events.insert((n + 1) * len(events) // (len(MALFORMED) + 1), bad)
    return events


def flush_events(events: list[str], config: VsaConfig) -> list[str]:
    """One event per partition far enough ahead to close every view and minute."""
    last = max(json.loads(v)["ts"] for v in events if v.startswith('{"event_id'))
    ahead = last + (config.view_timeout_seconds + config.watermark_seconds + 180) * 1000
    return [
        json.dumps(
            {
                "event_id": f"flush-{p}",
                "event_type": "heartbeat",
                "ts": ahead,
                "session_id": f"__flush__{p}",
            }
        )
        for p in range(PARTITIONS)
    ]


def send(spark: SparkSession, config: VsaConfig, events: list[str]) -> list[str]:
    """Produces ``events`` (keyed by session) and the flush events; returns all sent."""
    keyed = []
    for value in events:
        try:
            key = json.loads(value).get("session_id")
        except (ValueError, AttributeError):
            key = None
        keyed.append((key, value))
    produce(spark, config.kafka_bootstrap_servers, config.player_events_topic, keyed)
    flushes = flush_events(events, config)
    for partition, value in enumerate(flushes):
        produce(
            spark,
            config.kafka_bootstrap_servers,
            config.player_events_topic,
            [(None, value)],
            partition=partition,
        )
    return events + flushes


def write_config(path: Path, config: VsaConfig, trigger: str, batch: int) -> Path:
    """The job's TOML file: ``config``'s Kafka, tables and GeoIP databases (the batch it is
    compared with must locate viewers with the same ones), small micro-batches."""
    geoip = "".join(
        f'{key} = "{value}"\n'
        for key, value in (
            ("geoip_city_db", config.geoip_city_db),
            ("geoip_asn_db", config.geoip_asn_db),
        )
        if value
    )
    path.write_text(
        f'kafka_bootstrap_servers = "{config.kafka_bootstrap_servers}"\n'
        f'player_events_topic = "{config.player_events_topic}"\n'
        f'output_root = "{config.output_root}"\n'
        f'trigger_interval = "{trigger}"\n'
        f"max_offsets_per_trigger = {batch}\n"
        'cdn_logs_topic = ""\n'
        f"{geoip}"
        '[spark_conf]\n"spark.sql.shuffle.partitions" = 2\n'
    )
    return path


def vsa(args: list[str], **kwargs: object) -> subprocess.Popen:
    """``python -m vsa ARGS`` in a process group of its own (so its JVM dies with it)."""
    return subprocess.Popen(  # type: ignore[call-overload]
        [sys.executable, "-m", "vsa", *args],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
        **kwargs,
    )


def kill_and_restart(
    config_file: Path, kills: int, rng: random.Random, window: tuple[float, float]
) -> list[float]:
    """Runs the job and SIGKILLs it (driver and JVM) ``kills`` times, each after a random
    number of seconds in ``window``; then runs it to the end of the topic. Returns the moments
    of the kills."""
    moments = []
    for _ in range(kills):
        job = vsa(["run", "--config", str(config_file)])
        moment = rng.uniform(*window)
        time.sleep(moment)
        if job.poll() is not None:
            raise RuntimeError(f"the job stopped by itself: {job.stderr.read()[-3000:]}")
        os.killpg(job.pid, signal.SIGKILL)
        job.wait()
        moments.append(moment)
    last = vsa(["run", "--available-now", "--config", str(config_file)])
    _, err = last.communicate(timeout=1800)
    if last.returncode:
        raise RuntimeError(f"the last run failed: {err[-3000:]}")
    return moments


def restart_times(config_file: Path, commits: Path, starts: int) -> list[float]:
    """Starts the job ``starts`` times, each on the checkpoint the last one left: the seconds
    from the process's start to the query's next committed batch (every table written); each
    run is SIGKILLed (driver and JVM) a few seconds after that commit."""
    times = []
    for _ in range(starts):
        done = len(list(commits.glob("[0-9]*"))) if commits.exists() else 0
        began = time.perf_counter()
        job = vsa(["run", "--config", str(config_file)])
        while not commits.exists() or len(list(commits.glob("[0-9]*"))) <= done:
            if job.poll() is not None:
                raise RuntimeError(f"the job stopped by itself: {job.stderr.read()[-3000:]}")
            time.sleep(0.2)
        times.append(time.perf_counter() - began)
        time.sleep(3)
        os.killpg(job.pid, signal.SIGKILL)
        job.wait()
    return times


def rows(df: DataFrame) -> list[dict]:
    keep = [c for c in df.columns if c not in VOLATILE]
    return [r.asDict() for r in df.select(*keep).collect()]


def final_watermark(stream: VsaConfig) -> datetime:
    """The watermark of the stream's last micro-batch, from its offset log: what it finalized."""
    offsets = Path(stream.checkpoint_path(pipeline.QUERY)) / "offsets"
    last = max((f for f in offsets.iterdir() if f.name.isdigit()), key=lambda f: int(f.name))
    ms = json.loads(last.read_text().splitlines()[1])["batchWatermarkMs"]
    return datetime.fromtimestamp(ms / 1000, UTC).replace(tzinfo=None)


def finalized(table: str, row: dict, watermark: datetime) -> bool:
    """Whether the stream has written ``row`` of ``table`` for good by ``watermark``: the
    batch (whose watermark is past everything) also closes the flush sessions' views and the
    windows the stream's last watermark has not passed."""
    if str(row.get("session_id", "")).startswith("__flush__"):
        return False
    if "minute" in row and table == "view_slices":
        return row["minute"] + timedelta(minutes=1) <= watermark
    if "window_end" in row:
        return row["window_end"] <= watermark
    return True


def compare(spark: SparkSession, stream: VsaConfig, batch: VsaConfig) -> dict[str, Counts]:
    """Each table of ``stream`` against ``batch``'s, on the rows the stream finalized."""
    watermark = final_watermark(stream)
    counts = {}
    for table in (*KEYS, "dead_letter"):
        path = Path(stream.table_path(table))
        if not path.exists():
            continue
        expected = read_table(spark, batch, table)
        try:
            got = read_table(spark, stream, table)
        except AnalysisException:  # every batch committed, none with a row (no hour closed)
            got = spark.createDataFrame([], expected.schema)
        listed = got.inputFiles()
        unlisted = len(
            {str(p) for p in path.rglob("*.parquet")} - {urlparse(f).path for f in listed}
        )
        on_disk = pq.read_table(path).num_rows if listed else 0
        if on_disk != got.count():
            unlisted = max(unlisted, 1)
        if table == "dead_letter":
            # No key but the record itself: compare (reason, raw) as multisets.
            mine = Counter((r["reason"], r["raw"]) for r in rows(got))
            theirs = Counter((r["reason"], r["raw"]) for r in rows(expected))
            lost = sum((theirs - mine).values())
            extra = sum((mine - theirs).values())
            counts[table] = Counts(sum(mine.values()), lost, extra, 0, unlisted)
            continue
        key = KEYS[table]
        if table == "live":
            # Provisional parts, each batch its own rows: compared as their sums per tick (a
            # batch written twice shows as differing sums).
            got, expected = (
                df.groupBy(*key).agg(*[F.sum(c).alias(c) for c in LIVE_COUNTS])
                for df in (got, expected)
            )
        mine_rows = rows(got)
        mine: dict[tuple, list[dict]] = {}
        for r in mine_rows:
            mine.setdefault(tuple(r[k] for k in key), []).append(r)
        theirs = {tuple(r[k] for k in key): r for r in rows(expected)}
        final = {k for k, r in theirs.items() if finalized(table, r, watermark)}
        lost = len(final - set(mine))
        duplicated = sum(len(v) - 1 for v in mine.values())
        differing = sum(1 for k in final & set(mine) if mine[k][0] != theirs[k])
        counts[table] = Counts(len(mine_rows), lost, duplicated, differing, unlisted)
    return counts


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--kills", type=int, default=10)
    parser.add_argument("--sessions", type=int, default=2000)
    parser.add_argument("--batch", type=int, default=2000, help="max_offsets_per_trigger")
    parser.add_argument("--trigger", default="2 seconds")
    parser.add_argument("--seed", type=int, default=17)
    parser.add_argument(
        "--restarts",
        type=int,
        default=0,
        help="only time a first start and this many restarts to their first committed batch",
    )
    args = parser.parse_args()

    from vsa.kafka import LocalKafka
    from vsa.kafka.broker import free_port
    from vsa.spark_session import build_session

    work = Path(tempfile.mkdtemp(prefix="vsa-crash-"))
    broker = LocalKafka(work / "kafka", port=free_port())
    servers = broker.start()
    try:
        topic = "crash-events"
        broker.create_topic(topic, partitions=PARTITIONS)
        stream = VsaConfig(
            kafka_bootstrap_servers=servers,
            player_events_topic=topic,
            output_root=str(work / "stream"),
        )
        spark = build_session(
            VsaConfig(spark_conf={"spark.sql.shuffle.partitions": "2"}), master="local[2]"
        )
        events = send(spark, stream, dataset(args.sessions, args.seed))
        print(f"{len(events):,} records ({args.sessions:,} sessions) in Kafka")
        config_file = write_config(work / "vsa.toml", stream, args.trigger, args.batch)
        if args.restarts:
            commits = Path(stream.checkpoint_path(pipeline.QUERY)) / "commits"
            first, *again = restart_times(config_file, commits, args.restarts + 1)
            print(
                f"first start {first:.1f} s, restarts {', '.join(f'{t:.1f}' for t in again)} s "
                "to the first committed batch"
            )
            return
        began = time.perf_counter()
        moments = kill_and_restart(config_file, args.kills, random.Random(args.seed), (8.0, 30.0))
        print(
            f"{len(moments)} kills at {', '.join(f'{m:.1f}' for m in moments)} s after each start; "
            f"{time.perf_counter() - began:.0f} s in all"
        )
        (work / "events.jsonl").write_text("\n".join(events) + "\n")
        batch = VsaConfig(output_root=str(work / "batch"))
        pipeline.run_batch(spark, batch, str(work / "events.jsonl"))
        print(
            f"{'table':15s} {'rows':>8s} {'lost':>5s} {'dup':>5s} {'diff':>5s} "
            f"{'unlisted files':>15s}"
        )
        for table, c in compare(spark, stream, batch).items():
            print(
                f"{table:15s} {c.rows:8,} {c.lost:5} {c.duplicated:5} {c.differing:5} "
                f"{c.unlisted_files:15}"
            )
    finally:
        broker.stop()


if __name__ == "__main__":
    main()
