"""Throughput of the streaming job against the I/O floor, in one run, on one data set.

    .venv/bin/python bench/pipeline.py --sessions 20000

Simulated traffic goes into the local broker once; then each case reads the whole topic with
`availableNow` into fresh tables and checkpoints, in its own Spark process:
- io: Kafka → raw text → Parquet (nothing at all);
- floor: Kafka → parse → Parquet (the issues' I/O floor: JSON read and validated, valid events
  written, nothing else);
- full: the whole job, one query writing every table (player_events, dead_letter, view_slices,
  views, the KPI tables and their rollups);
- union: the same job with the other design the one-query issue weighed: the sessionizer takes
  the valid events only, and the rows of player_events and dead_letter come from a second
  branch over the same records, unioned in the same query (so Kafka is read and the records
  parsed and enriched twice), instead of passing through the sessionizer;
- cdn: the whole job over the player topic and a CDN topic (the simulated sessions' requests,
  Fastly JSON lines, CMCD `sid` on about 70 % of the sessions'), CDN lines unioned after the
  sessionizer: no attribution (the design before issue 15);
- fusion: the same job and topics with CDN fusion, as it ships: every CDN line through the
  sessionizer, the requests with a `sid` attributed to their views;
each on local[2]; `cdn` and `fusion` count the player records and CDN lines both. Each
process first runs its case once over a small warm-up topic (other sessions, its own tables),
so the timed run measures a warm JVM (generated code compiled), as a long-running job is.
Also printed: the sessionizer's state size per open session (Spark's
state-store memory over its rows), and the driver's time per micro-batch: Spark's progress
``durationMs`` outside ``addBatch`` (offsets, planning, the offset and commit logs), the serial
work that does not shrink when executors are added.
"""

from __future__ import annotations

import argparse
import functools
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

CASES = (
    ("io", "local[2]"),
    ("floor", "local[2]"),
    ("full", "local[2]"),
    ("union", "local[2]"),
    ("cdn", "local[2]"),
    ("fusion", "local[2]"),
)
WARMUP_TOPIC = "bench-warmup"
CDN_TOPIC = "bench-cdn"
CDN_FORMAT = "fastly"
JOB_CASES = ("full", "union", "cdn", "fusion")


def child(args: argparse.Namespace) -> None:
    from pyspark.sql import functions as F

    from vsa import pipeline
    from vsa.config import VsaConfig
    from vsa.normalize import parse_player_events
    from vsa.pipeline import KAFKA_COORDINATES
    from vsa.sinks import with_partitions
    from vsa.sources import read_kafka_stream
    from vsa.spark_session import build_session

    def run(topic: str, out: str) -> object:
        config = VsaConfig(
            kafka_bootstrap_servers=args.bootstrap,
            player_events_topic=topic,
            cdn_logs_topic=f"{topic}-cdn" if args.case in ("cdn", "fusion") else None,
            cdn_log_format=CDN_FORMAT,
            output_root=out,
            max_offsets_per_trigger=args.batch,
        )
        if args.case in JOB_CASES:
            return pipeline.run_until_caught_up(spark, config).query
        raw = read_kafka_stream(
            spark, config, subscribe_pattern=topic, max_offsets_per_trigger=args.batch
        )
        if args.case == "io":
            df = raw.withColumn("ts", F.current_timestamp())
        else:
            parsed = parse_player_events(raw)
            valid = F.col("reason").isNull() & ~F.col("ignored")
            df = parsed.where(valid).select("event.*", *KAFKA_COORDINATES)
        query = (
            with_partitions(df, "ts")
            .writeStream.format("parquet")
            .partitionBy("date", "hour")
            .option("path", config.table_path("player_events"))
            .option("checkpointLocation", config.checkpoint_path("player_events"))
            .trigger(availableNow=True)
            .start()
        )
        query.awaitTermination()
        return query

    # Wall time of each table's write and of the whole per-batch writer, summed over the batches.
    timings: dict[str, float] = {}
    if args.case in JOB_CASES:
        timings = _time_writes()
        if args.profile:
            _profile_writer(Path(f"{args.out}.prof"))
    if args.case == "union":
        pipeline.transform = _transform_by_union
    if args.case == "cdn":
        pipeline.transform = functools.partial(_transform_without_fusion, pipeline.transform)
    spark_conf = dict(c.split("=", 1) for c in args.conf)
    spark = build_session(
        VsaConfig(spark_conf=spark_conf), app_name=f"bench-{args.case}", master=args.master
    )
    run(WARMUP_TOPIC, f"{args.out}-warmup")
    timings.clear()
    began = time.perf_counter()
    query = run(args.topic, args.out)
    seconds = time.perf_counter() - began
    progress = query.recentProgress
    state = [
        op.memoryUsedBytes / op.numRowsTotal
        for p in progress
        for op in p.stateOperators
        if op.numRowsTotal
    ]
    # Where the time went, summed over the batches (Spark's durationMs).
    phases: dict[str, int] = {}
    for p in progress:
        for phase, ms in p.durationMs.items():
            phases[phase] = phases.get(phase, 0) + ms
    driver = [
        p.durationMs.get("triggerExecution", 0) - p.durationMs.get("addBatch", 0) for p in progress
    ]
    print(
        json.dumps(
            {
                "seconds": seconds,
                "state_bytes_per_session": max(state, default=None),
                "batches": len(progress),
                "phases_ms": phases,
                "driver_ms_per_batch": sum(driver) / len(driver) if driver else None,
                "writer_s": timings,
            }
        )
    )


def _transform_by_union(player_raw, config, cdn=None):  # noqa: ANN001, ANN202
    """The "union" case's :func:`vsa.pipeline.transform` (player records only)."""
    from pyspark.sql import functions as F

    from vsa.pipeline import player_records
    from vsa.sessions import sessionize

    events = player_records(player_raw, config).where(F.col("session_id").isNotNull())
    sessions = sessionize(events.drop("passthrough"), config).select(
        "slice", "closed_view", "rejected", "attributes"
    )
    rows = player_records(player_raw, config).select(
        F.col("passthrough.player_event").alias("player_event"),
        F.col("passthrough.dead_letter").alias("dead_letter"),
    )
    return sessions.unionByName(rows, allowMissingColumns=True)


def _transform_without_fusion(transform, player_raw, config, cdn=None):  # noqa: ANN001, ANN202
    """The "cdn" case's :func:`vsa.pipeline.transform`: CDN lines unioned after the
    sessionizer, which sees the player records only."""
    out = transform(player_raw, config)
    return out if cdn is None else out.unionByName(cdn.drop("event_time"), allowMissingColumns=True)


def _profile_writer(stats: Path) -> None:
    """Runs the per-batch writer under cProfile (it runs on py4j's callback thread, so the
    profiler is switched on there, for each batch) and saves the timed run's figures to
    ``stats``, replacing the warm-up's at each batch."""
    import cProfile

    from vsa.sinks import BatchWriter

    profile = cProfile.Profile()
    batch_call = BatchWriter.__call__

    def profiled(self, transformed, batch_id):  # noqa: ANN001, ANN202
        if batch_id == 0:  # each query starts at batch 0: the timed run starts afresh
            profile.clear()
        profile.enable()
        try:
            return batch_call(self, transformed, batch_id)
        finally:
            profile.disable()
            profile.dump_stats(stats)

    BatchWriter.__call__ = profiled


def _time_writes() -> dict[str, float]:
    """Wraps the writer and its table writes (each Spark job writing tables, and each empty
    commit) to sum their wall time (seconds); the writer's time less its writes' is the pass
    that fills the batch's cache and builds the tables' plans."""
    from vsa.sinks import BatchWriter, TableSink, TableWrites

    timings: dict[str, float] = {}

    def timed(name_of, method):  # noqa: ANN001, ANN202
        def wrapper(self, *args):  # noqa: ANN001, ANN202
            began = time.perf_counter()
            try:
                return method(self, *args)
            finally:
                name = name_of(self)
                timings[name] = timings.get(name, 0.0) + time.perf_counter() - began

        return wrapper

    TableSink.write = timed(lambda sink: sink.table, TableSink.write)
    TableWrites.flush = timed(lambda writes: "(table writes)", TableWrites.flush)
    BatchWriter.write = timed(lambda writer: "(writer)", BatchWriter.write)
    return timings


def main(cases: tuple[tuple[str, str], ...] = CASES, doc: str | None = __doc__) -> None:
    parser = argparse.ArgumentParser(description=doc)
    parser.add_argument("--sessions", type=int, default=20000)
    parser.add_argument("--batch", type=int, default=50_000, help="maxOffsetsPerTrigger")
    parser.add_argument(
        "--warmup-sessions", type=int, default=1000, help="sessions of the warm-up topic"
    )
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--case")
    parser.add_argument("--master")
    parser.add_argument("--bootstrap")
    parser.add_argument("--topic", default="bench-events")
    parser.add_argument("--out")
    parser.add_argument("--verbose", action="store_true", help="batches and time by phase")
    parser.add_argument(
        "--profile",
        type=int,
        default=0,
        metavar="N",
        help="cProfile the job's per-batch writer; print its N slowest calls (cumulative)",
    )
    parser.add_argument(
        "--conf", action="append", default=[], help="KEY=VALUE Spark setting for every case"
    )
    parser.add_argument("--cases", nargs="*", help="case:master pairs, e.g. full:local[2]")
    args = parser.parse_args()
    if args.child:
        child(args)
        return

    from vsa.config import VsaConfig
    from vsa.kafka import LocalKafka, produce
    from vsa.kafka.broker import free_port
    from vsa.simulate import Spec, simulate
    from vsa.simulate.cdn import log_lines
    from vsa.spark_session import build_session

    # The traffic first: a simulator's failure then leaves no broker behind.
    sim = simulate(Spec(sessions=args.sessions, seed=4, start_ms=1_764_000_000_000, span_s=3600))
    warmup = simulate(
        Spec(sessions=args.warmup_sessions, seed=5, start_ms=1_764_000_000_000, span_s=600)
    )
    if args.cases:
        cases = tuple(tuple(c.split(":", 1)) for c in args.cases)
    work = Path(tempfile.mkdtemp(prefix="vsa-bench-"))
    broker = LocalKafka(work / "kafka", port=free_port())
    rates = {}
    try:
        servers = broker.start()
        broker.create_topic(args.topic, partitions=2)
        broker.create_topic(WARMUP_TOPIC, partitions=2)
        spark = build_session(VsaConfig(), app_name="bench-producer", master="local[2]")
        try:
            produce(spark, servers, args.topic, sim.records)
            produce(spark, servers, WARMUP_TOPIC, warmup.records)
            lines = 0
            if any(case in ("cdn", "fusion") for case, _ in cases):
                for topic, run in ((args.topic, sim), (WARMUP_TOPIC, warmup)):
                    cdn_lines = log_lines(run.records, CDN_FORMAT)
                    broker.create_topic(f"{topic}-cdn", partitions=1)
                    produce(spark, servers, f"{topic}-cdn", [(None, line) for line in cdn_lines])
                    lines = lines or len(cdn_lines)
        finally:
            spark.stop()
        records = len(sim.records)
        print(
            f"{records} records ({args.sessions} sessions, {len(sim.views)} views)"
            f"{f' and {lines} CDN lines' if lines else ''} in Kafka"
        )
        for case, master in cases:
            out = subprocess.run(
                [
                    sys.executable,
                    __file__,
                    "--child",
                    "--case",
                    case,
                    "--master",
                    master,
                    "--bootstrap",
                    servers,
                    "--topic",
                    args.topic,
                    "--batch",
                    str(args.batch),
                    *(f"--conf={c}" for c in args.conf),
                    *(["--profile", str(args.profile)] if args.profile else []),
                    "--out",
                    str(work / f"{case}-{master[6]}"),
                ],
                capture_output=True,
                text=True,
            )
            if out.returncode:
                sys.exit(f"case {case} on {master} failed:\n{out.stderr[-3000:]}")
            result = json.loads(out.stdout.strip().splitlines()[-1])
            total = records + lines if case in ("cdn", "fusion") else records
            rates[(case, master)] = total / result["seconds"]
            state = result["state_bytes_per_session"]
            per_1000 = f"{state * 1000 / 2**20:,.1f} MiB" if state else ""
            extra = f"  state {per_1000} per 1,000 open sessions" if state else ""
            if args.verbose:
                print(f"  {result['batches']} batches, ms by phase: {result['phases_ms']}")
                if result["writer_s"]:
                    times = sorted(result["writer_s"].items(), key=lambda kv: -kv[1])
                    print("  writer s: " + ", ".join(f"{n} {s:.1f}" for n, s in times))
            stats = work / f"{case}-{master[6]}.prof"
            if args.profile and stats.exists():
                import pstats

                pstats.Stats(str(stats)).sort_stats("cumulative").print_stats(args.profile)
            driver = result["driver_ms_per_batch"]
            print(
                f"{case:6s} {master}: {result['seconds']:6.1f} s  "
                f"{rates[(case, master)]:9,.0f} records/s  {result['batches']} batches, "
                f"driver {driver:,.0f} ms per batch{extra}"
            )
    finally:
        broker.stop()
    if ("cdn", "local[2]") in rates and ("fusion", "local[2]") in rates:
        fused = rates[("fusion", "local[2]")] / rates[("cdn", "local[2]")]
        print(f"fusion / cdn: {fused:.2f}x (target >= 0.7x)")
    # Ratios to `io` (issue 25's targets) and to the floor, for the cases that ran.
    for base in ("io", "floor"):
        if (base, "local[2]") not in rates:
            continue
        for case in ("floor", "full", "union"):
            if case != base and (case, "local[2]") in rates:
                ratio = rates[(case, "local[2]")] / rates[(base, "local[2]")]
                print(f"{case} / {base}: {ratio:.2f}x")


if __name__ == "__main__":
    main()
