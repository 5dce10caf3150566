"""The ``vsa`` command: ``vsa demo``, ``vsa run``, ``vsa generate``, ``vsa kafka``."""

from __future__ import annotations

import argparse
import logging
import sys
import time
from pathlib import Path

from vsa import generate
from vsa.config import VsaConfig

DEFAULT_KAFKA_DIR = Path(".vsa/local-kafka")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="vsa", description="Video streaming analytics on Spark")
    commands = parser.add_subparsers(dest="command", required=True)

    demo = commands.add_parser("demo", help="local broker + generated traffic + the stream")
    demo.add_argument("--workdir", type=Path, default=Path(".vsa/demo"))
    demo.add_argument("--sessions", type=int, default=300)
    demo.add_argument("--port", type=int, default=None, help="broker port (default: a free one)")

    run = commands.add_parser("run", help="the streaming job: Kafka → tables")
    run.add_argument("--bootstrap", default="127.0.0.1:9092")
    run.add_argument("--topic", default="player-events")
    run.add_argument("--out", type=Path, required=True, help="output root of the tables")
    run.add_argument(
        "--available-now", action="store_true", help="process what the topics hold now, then stop"
    )

    batch = commands.add_parser("batch", help="the same tables from JSON-lines files")
    batch.add_argument("--events", help="a JSON-lines file or a directory of them")
    batch.add_argument("--cdn-logs", help="CDN log files (a file or a directory), not --events")
    batch.add_argument("--format", default="cloudfront", help="the CDN log format (docs/cdn.md)")
    batch.add_argument("--out", type=Path, required=True, help="output root of the tables")

    roll = commands.add_parser("rollup", help="kpi_hour and kpi_day from kpi_minute")
    roll.add_argument("--out", type=Path, required=True, help="output root of the tables")

    gen = commands.add_parser("generate", help="send generated player events to Kafka")
    generate.add_arguments(gen)

    commands.add_parser(
        "simulate",
        help="simulated traffic with its ground truth (python -m vsa.simulate)",
        add_help=False,
    )

    kafka = commands.add_parser("kafka", help="a local single-node Kafka (KRaft) on loopback")
    kafka.add_argument("action", choices=("start", "stop", "status"))
    kafka.add_argument("--data-dir", type=Path, default=DEFAULT_KAFKA_DIR)
    kafka.add_argument("--port", type=int, default=9092)

    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["simulate"]:
        from vsa.simulate.__main__ import main as simulate_main

        return simulate_main(argv[1:])
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    if args.command == "kafka":
        return _kafka(args)
    if args.command == "generate":
        return generate.run(args)
    if args.command == "rollup":
        from vsa import pipeline
        from vsa.session import build_session

        config = VsaConfig(output_root=str(args.out))
        result = pipeline.run_rollup(build_session(config, app_name="vsa-rollup"), config)
        _print_rows(config, result.rows_written)
        return 0
    if args.command == "batch":
        if (args.events is None) == (args.cdn_logs is None):
            parser.error("batch needs --events or --cdn-logs (one of them)")
        if args.cdn_logs is not None:
            return _cdn_batch(
                VsaConfig(output_root=str(args.out), cdn_log_format=args.format), args.cdn_logs
            )
        return _batch(VsaConfig(output_root=str(args.out)), args.events)
    if args.command == "run":
        config = VsaConfig(
            kafka_bootstrap_servers=args.bootstrap,
            player_events_topic=args.topic,
            output_root=str(args.out),
        )
        return _run(config, available_now=args.available_now)
    from vsa.demo import run_demo

    return run_demo(args.workdir, sessions=args.sessions, port=args.port)


def _kafka(args: argparse.Namespace) -> int:
    from vsa.kafka import LocalKafka

    broker = LocalKafka(args.data_dir, port=args.port)
    if args.action == "start":
        began = time.monotonic()
        servers = broker.start()
        print(f"Kafka up at {servers} in {time.monotonic() - began:.1f} s (data: {args.data_dir})")
    elif args.action == "stop":
        print("stopped" if broker.stop() else "not running")
    else:
        running = broker.is_running()
        print(f"running at {broker.bootstrap_servers}" if running else "not running")
        return 0 if running else 3
    return 0


def _batch(config: VsaConfig, events: str) -> int:
    from vsa import pipeline
    from vsa.session import build_session

    spark = build_session(config, app_name="vsa-batch")
    result = pipeline.run_batch(spark, config, events)
    _print_rows(config, result.rows_written)
    return 0


def _cdn_batch(config: VsaConfig, path: str) -> int:
    from vsa import pipeline
    from vsa.session import build_session

    spark = build_session(config, app_name="vsa-batch-cdn")
    result = pipeline.run_cdn_batch(spark, config, path, config.cdn_log_format)
    _print_rows(config, result.rows_written)
    return 0


def _print_rows(config: VsaConfig, rows_written: dict[str, int]) -> None:
    for table, rows in rows_written.items():
        print(f"{table}: {rows} rows → {config.table_path(table)}")


def _run(config: VsaConfig, available_now: bool) -> int:
    from vsa import pipeline
    from vsa.session import build_session

    spark = build_session(config, app_name="vsa-run")
    if available_now:
        result = pipeline.run_until_caught_up(spark, config)
        _print_rows(config, result.rows_written)
        print(f"late events (dead-lettered): {result.late_events}")
        return 0
    queries = pipeline.start(spark, config)
    try:
        spark.streams.awaitAnyTermination()
    except KeyboardInterrupt:
        for query in queries:
            query.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
