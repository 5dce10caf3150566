"""``vsa demo``: the whole path on this machine, with nothing to set up.

Starts a local Kafka broker, sends a few minutes of generated player traffic and the CDN log
lines of the same sessions (with CMCD, in ``cdn_log_format``), runs the streaming job until it
has caught up (a progress line per micro-batch), prints where the tables
are and a few rows, writes the HTML report, and stops the broker.
"""

from __future__ import annotations

import shutil
import time
from dataclasses import replace
from pathlib import Path

from vsa import generate, pipeline
from vsa.config import VsaConfig
from vsa.kafka import LocalKafka
from vsa.progress import Progress, summary
from vsa.report import write_report
from vsa.simulate.cdn import log_lines
from vsa.sinks import read_table
from vsa.spark_session import build_session

# Written in the folder the demo makes: only a folder holding it is the demo's to empty.
MARKER = ".vsa-demo"

SHOWN_COLUMNS = {
    "player_events": [
        "ts",
        "event_type",
        "session_id",
        "browser_family",
        "device_type",
        "client_ip",
    ],
    "dead_letter": ["reason", "detail", "raw"],
    "view_slices": ["minute", "view_id", "opened", "watch_time_ms", "stall_time_ms", "active"],
    "views": ["view_start", "view_id", "startup_time_ms", "watch_time_ms", "end_reason"],
}


def run_demo(
    workdir: Path, sessions: int = 300, port: int | None = None, config: VsaConfig | None = None
) -> int:
    """The demo in ``workdir`` (emptied first, if the demo made it: see :func:`prepare_workdir`);
    ``config`` gives every setting but the broker, the output root and the checkpoint root,
    which are the demo's own."""
    workdir = prepare_workdir(workdir)
    broker = LocalKafka(workdir / "kafka", port=port)
    began = time.monotonic()
    servers = broker.start()
    print(f"Kafka (KRaft) up at {servers} in {time.monotonic() - began:.1f} s")
    try:
        config = demo_config(config or VsaConfig(), workdir, servers)
        spark = build_session(config, app_name="vsa-demo")
        progress = Progress.attach(spark)
        traffic = generate.Traffic(
            sessions=sessions, viewers=sessions // 2, span_s=180, malformed_share=0.01, seed=7
        )
        records = list(generate.generate(traffic))
        from vsa.kafka import produce

        produce(spark, servers, config.player_events_topic, records, config.kafka_options)
        print(f"sent {len(records)} records (3 minutes of traffic) to {config.player_events_topic}")
        if config.cdn_logs_topic:
            lines = log_lines(records, config.cdn_log_format, seed=traffic.seed)
            broker.create_topic(config.cdn_logs_topic, partitions=1)
            keyed = [(None, line) for line in lines]
            produce(spark, servers, config.cdn_logs_topic, keyed, config.kafka_options)
            print(
                f"sent {len(lines)} {config.cdn_log_format} log lines of the same sessions "
                f"to {config.cdn_logs_topic}"
            )
        began = time.monotonic()
        result = pipeline.run_until_caught_up(spark, config, on_batch=progress.record)
        print(f"stream caught up in {time.monotonic() - began:.1f} s")
        print(summary(spark, config, result.rows_written, result.late_events))
        for table, columns in SHOWN_COLUMNS.items():
            df = read_table(spark, config, table)
            print(f"\n{table}: {df.count()} rows at {config.table_path(table)}")
            df.select(*columns).orderBy(columns[0]).show(5, truncate=60)
        print(f"\nreport: {write_report(spark, config, workdir)}")
        spark.stop()
    finally:
        broker.stop()
    return 0


def demo_config(config: VsaConfig, workdir: Path, servers: str) -> VsaConfig:
    """``config`` with the demo's broker, and its tables and checkpoints under ``workdir``: a
    ``checkpoint_root`` set for a real job (``VSA_CHECKPOINT_ROOT``) is not the demo's to
    resume."""
    return replace(
        config,
        kafka_bootstrap_servers=servers,
        output_root=str(workdir / "tables"),
        checkpoint_root=str(workdir / "checkpoints"),
    )


class NotDemoFolder(RuntimeError):
    """The workdir exists and was not made by the demo: it is left as it is."""


def prepare_workdir(workdir: Path) -> Path:
    """``workdir``, absolute, empty but for the demo's :data:`MARKER`. A folder the demo made
    (it holds the marker) is emptied; a missing or empty one is made the demo's; any other is
    refused (:class:`NotDemoFolder`), nothing in it touched."""
    workdir = workdir.resolve()
    if (workdir / MARKER).is_file():
        shutil.rmtree(workdir)
    elif workdir.exists() and (not workdir.is_dir() or any(workdir.iterdir())):
        raise NotDemoFolder(
            f"{workdir} exists and was not made by vsa demo (no {MARKER} in it): "
            "choose a new or empty --workdir"
        )
    workdir.mkdir(parents=True, exist_ok=True)
    (workdir / MARKER).write_text("made by vsa demo: the next vsa demo here empties this folder\n")
    return workdir
