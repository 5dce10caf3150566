"""The ``vsa`` command (also ``python -m vsa``): one sub-command per job, each taking
``--config FILE`` (TOML), the ``VSA_*`` environment and flags, in rising precedence."""

from __future__ import annotations

import argparse
import json
import logging
import sys
import time
import traceback
from pathlib import Path

from vsa import generate
from vsa.config import ConfigError, VsaConfig, config_keys, config_reference, load_config

DEFAULT_KAFKA_DIR = Path(".vsa/local-kafka")
log = logging.getLogger("vsa")


def parser() -> argparse.ArgumentParser:
    """The argument parser of ``vsa`` and its sub-commands."""
    top = argparse.ArgumentParser(
        prog="vsa",
        description="Video streaming analytics on Spark: player events from Kafka to KPI tables.",
        epilog="Each command has --help. Settings: --config FILE, then VSA_<KEY> variables, "
        "then flags (docs/configuration.md).",
    )
    top.add_argument(
        "-v", "--verbose", action="store_true", help="log at DEBUG; an error shows its trace"
    )
    commands = top.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def command(name: str, help: str, description: str | None = None) -> argparse.ArgumentParser:
        sub = commands.add_parser(name, help=help, description=description or help)
        sub.add_argument("--config", type=Path, metavar="FILE", help="a vsa TOML config file")
        return sub

    demo = command(
        "demo",
        "everything on this machine: local Kafka, generated traffic, the stream, the report",
    )
    demo.add_argument("--workdir", type=Path, default=Path(".vsa/demo"))
    demo.add_argument("--sessions", type=int, default=300)
    demo.add_argument("--port", type=int, default=None, help="broker port (default: a free one)")

    run = command("run", "the streaming job: Kafka → every table")
    _stream_flags(run)
    run.add_argument(
        "--available-now", action="store_true", help="process what the topics hold now, then stop"
    )

    batch = command("batch", "the same tables from JSON-lines files and/or CDN log files")
    batch.add_argument("--events", help="a JSON-lines file or a directory of them")
    batch.add_argument("--cdn-logs", help="CDN log files in cdn_log_format (a file or a directory)")
    batch.add_argument("--format", help="the CDN log format (cdn_log_format; docs/cdn.md)")
    _job_flags(batch)

    roll = command("rollup", "the rollup tables (kpi_hour, kpi_day, kpi_by_pop_*) from minutes")
    _job_flags(roll)

    report = command("report", "one self-contained HTML report of the KPI tables")
    report.add_argument("--out", type=Path, required=True, help="directory for report.html")
    report.add_argument("--tables", help="output root of the tables (default: output_root)")
    report.add_argument("--set", action="append", default=[], metavar="KEY=VALUE")

    gen = command("generate", "send generated player events to Kafka")
    generate.add_arguments(gen)

    commands.add_parser(
        "simulate",
        help="simulated traffic with its ground truth, to files or Kafka (--help for more)",
        add_help=False,
    )

    check = command(
        "check",
        "check that the job can start: config, Kafka, topics, GeoIP files, locations, checkpoint",
    )
    _stream_flags(check)

    collect = command(
        "collect", "HTTP collector: CMCD reports, JSON events and CDN log pushes → Kafka"
    )
    collect.add_argument("--port", dest="collect_port", help="TCP port (collect_port)")
    collect.add_argument("--host", dest="collect_host", help="listen address (collect_host)")
    collect.add_argument("--bootstrap", help="Kafka bootstrap servers (kafka_bootstrap_servers)")
    collect.add_argument("--set", action="append", default=[], metavar="KEY=VALUE")

    kafka = command("kafka", "a local single-node Kafka (KRaft) on loopback")
    kafka.add_argument("action", choices=("start", "stop", "status"))
    kafka.add_argument("--data-dir", type=Path, default=DEFAULT_KAFKA_DIR)
    kafka.add_argument(
        "--port", type=int, default=None, help="default: the port of kafka_bootstrap_servers"
    )

    show = command("config", "check a configuration and print it (secrets hidden)")
    show.add_argument("--set", action="append", default=[], metavar="KEY=VALUE")
    show.add_argument(
        "--reference", action="store_true", help="print the Markdown table of every key instead"
    )
    return top


def _stream_flags(sub: argparse.ArgumentParser) -> None:
    """The flags of the streaming job (``vsa run``, and ``vsa check`` of it)."""
    _job_flags(sub)
    sub.add_argument("--bootstrap", help="Kafka bootstrap servers (kafka_bootstrap_servers)")
    sub.add_argument("--topic", help="player events topic (player_events_topic)")
    sub.add_argument("--checkpoints", help="checkpoint root (checkpoint_root)")


def _job_flags(sub: argparse.ArgumentParser) -> None:
    sub.add_argument("--out", help="output root of the tables (output_root)")
    sub.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help=f"any config key: {', '.join(config_keys())}",
    )
    sub.add_argument(
        "--conf", action="append", default=[], metavar="KEY=VALUE", help="a Spark setting"
    )


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["simulate"]:
        from vsa.simulate.__main__ import main as simulate_main

        return simulate_main(argv[1:])
    args = parser().parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    from vsa.progress import quiet_logs

    quiet_logs()
    try:
        config = load_config(args.config, overrides=_overrides(args))
    except ConfigError as error:
        if args.command == "check":
            from vsa.checks import FAIL, Check

            print(Check("config", FAIL, str(error)).line())
        print(f"vsa: error: {error}", file=sys.stderr)
        return 2
    try:
        return COMMANDS[args.command](args, config)
    except KeyboardInterrupt:
        return 130
    except Exception as error:
        from vsa.checks import describe

        # One line an operator can act on; the trace only when asked for.
        if args.verbose:
            traceback.print_exc()
        print(f"vsa: error: {describe(error)}", file=sys.stderr)
        return 1


def _overrides(args: argparse.Namespace) -> dict[str, object]:
    """The config keys the flags set."""
    flags = {
        "kafka_bootstrap_servers": getattr(args, "bootstrap", None),
        "player_events_topic": getattr(args, "topic", None),
        "checkpoint_root": getattr(args, "checkpoints", None),
        "cdn_log_format": getattr(args, "format", None),
        "output_root": getattr(args, "tables", None) or _out_root(args),
        "collect_port": getattr(args, "collect_port", None),
        "collect_host": getattr(args, "collect_host", None),
    }
    overrides: dict[str, object] = {k: v for k, v in flags.items() if v is not None}
    for item in getattr(args, "set", []):
        key, value = _pair(item, "--set")
        overrides[key] = value
    conf = dict(_pair(item, "--conf") for item in getattr(args, "conf", []))
    if conf:
        overrides["spark_conf"] = conf
    return overrides


def _out_root(args: argparse.Namespace) -> str | None:
    # `vsa report --out` is where the report goes, not the tables.
    return None if args.command == "report" else getattr(args, "out", None)


def _pair(item: str, flag: str) -> tuple[str, str]:
    key, sep, value = item.partition("=")
    if not sep or not key:
        raise SystemExit(f"vsa: error: {flag} expects KEY=VALUE, got {item!r}")
    return key.strip(), value


def _demo(args: argparse.Namespace, config: VsaConfig) -> int:
    from vsa.demo import run_demo

    return run_demo(args.workdir, sessions=args.sessions, port=args.port, config=config)


def _run(args: argparse.Namespace, config: VsaConfig) -> int:
    from vsa import pipeline
    from vsa.progress import Progress, summary
    from vsa.spark_session import build_session

    spark = build_session(config, app_name="vsa-run")
    progress = Progress.attach(spark, kafka_servers=config.kafka_bootstrap_servers)
    if args.available_now:
        result = pipeline.run_until_caught_up(spark, config, on_batch=progress.record)
        print(summary(spark, config, result.rows_written, result.late_events))
        return 0
    query = pipeline.start(spark, config, on_batch=progress.record)
    log.info("streaming %s → %s (Ctrl-C stops)", config.player_events_topic, config.output_root)
    try:
        query.awaitTermination()
    except KeyboardInterrupt:
        query.stop()
    print(summary(spark, config, progress.totals.rows_written, progress.totals.late_events))
    return 0


def _batch(args: argparse.Namespace, config: VsaConfig) -> int:
    from vsa import pipeline
    from vsa.checks import require_ready
    from vsa.progress import summary
    from vsa.spark_session import build_session

    if args.events is None and args.cdn_logs is None:
        print("vsa: error: batch needs --events, --cdn-logs or both", file=sys.stderr)
        raise SystemExit(2)
    spark = build_session(config, app_name="vsa-batch")
    require_ready(spark, config, kafka=False)
    result = pipeline.run_batch(spark, config, args.events, args.cdn_logs)
    print(summary(spark, config, result.rows_written))
    return 0


def _rollup(args: argparse.Namespace, config: VsaConfig) -> int:
    from vsa import pipeline
    from vsa.checks import require_ready
    from vsa.progress import summary
    from vsa.sinks import hold_writer_lock
    from vsa.spark_session import build_session

    hold_writer_lock(config)  # before Spark starts: a refusal costs nothing
    spark = build_session(config, app_name="vsa-rollup")
    require_ready(spark, config, kafka=False)
    result = pipeline.run_rollup(spark, config)
    print(summary(spark, config, result.rows_written))
    return 0


def _report(args: argparse.Namespace, config: VsaConfig) -> int:
    from vsa.report import write_report
    from vsa.spark_session import build_session

    spark = build_session(config, app_name="vsa-report")
    path = write_report(spark, config, args.out)
    print(f"report: {path}")
    return 0


def _generate(args: argparse.Namespace, config: VsaConfig) -> int:
    return generate.run(args, config)


def _check(args: argparse.Namespace, config: VsaConfig) -> int:
    from vsa.checks import FAIL, OK, Check, run_checks
    from vsa.spark_session import build_session

    where = args.config or "defaults, VSA_* variables and flags"
    print(Check("config", OK, f"{where}").line(), flush=True)
    spark = build_session(config, app_name="vsa-check")
    checks = run_checks(spark, config)
    for check in checks:
        print(check.line())
    return 1 if any(check.status == FAIL for check in checks) else 0


def _collect(args: argparse.Namespace, config: VsaConfig) -> int:
    from vsa.collect import serve

    return serve(config)


def _kafka(args: argparse.Namespace, config: VsaConfig) -> int:
    from vsa.kafka import LocalKafka

    port = args.port or _port_of(config.kafka_bootstrap_servers)
    broker = LocalKafka(args.data_dir, port=port)
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


def _port_of(servers: str) -> int:
    """The port of the first ``host:port`` (9092 when it has none)."""
    first = servers.split(",")[0].strip()
    _, _, port = first.rpartition(":")
    return int(port) if port.isdigit() else 9092


def _show_config(args: argparse.Namespace, config: VsaConfig) -> int:
    if args.reference:
        print(config_reference(), end="")
        return 0
    # As TOML, so it can be saved as a config file (secrets excepted).
    tables = []
    for key, value in config.masked().items():
        if isinstance(value, dict):
            if value:
                tables.append((key, value))
        elif value is None:
            print(f"# {key} unset")
        else:
            print(f"{key} = {json.dumps(value)}")
    for key, entries in tables:
        print(f"\n[{key}]")
        for name, value in entries.items():
            print(f"{json.dumps(name)} = {json.dumps(value)}")
    return 0


COMMANDS = {
    "demo": _demo,
    "run": _run,
    "batch": _batch,
    "rollup": _rollup,
    "report": _report,
    "generate": _generate,
    "kafka": _kafka,
    "collect": _collect,
    "config": _show_config,
    "check": _check,
}

if __name__ == "__main__":
    sys.exit(main())
