"""``vsa rollup`` writes final periods only, and never beside another writer of the tables."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from dataclasses import replace

import pytest
from pyspark.sql.utils import AnalysisException

from vsa import pipeline
from vsa.checks import QUERY
from vsa.config import VsaConfig
from vsa.kpis import rollup
from vsa.sinks import JobCheckpoint, TablesBusy, read_table, rollup_batch
from vsa.sinks.lock import LOCK_NAME

HOUR_MS = 3600 * 1000


def vsa(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "vsa", *args], capture_output=True, text=True, timeout=120
    )


def rows_of(spark, config: VsaConfig, table: str) -> list:
    try:
        return read_table(spark, config, table).drop("date", "hour").collect()
    except AnalysisException:  # no row written yet
        return []


def test_rollup_leaves_an_hour_the_watermark_has_not_passed(spark, streamed, tmp_path):
    config = VsaConfig(output_root=streamed.config.output_root)
    job = JobCheckpoint.read(spark, config.checkpoint_path(QUERY))
    minutes = read_table(spark, config, "kpi_minute").drop("date", "hour")
    hours = rollup(minutes, "hour", ()).collect()
    # Five minutes of traffic from 16:00: the job's watermark stands inside their hour.
    assert len(hours) == 1
    start = hours[0].window_start.timestamp() * 1000
    assert start < job.watermark < start + HOUR_MS

    result = pipeline.run_rollup(spark, config)
    assert result.rows_written["kpi_hour"] == result.rows_written["kpi_day"] == 0
    assert rows_of(spark, config, "kpi_hour") == []

    # With no checkpoint (the tables of `vsa batch`), every period is final.
    final = replace(config, checkpoint_root=str(tmp_path / "no-checkpoint"))
    result = pipeline.run_rollup(spark, final)
    assert result.rows_written["kpi_hour"] == 1
    assert rows_of(spark, config, "kpi_hour") == hours


def test_rollup_refuses_while_another_process_holds_the_writer_lock(tmp_path):
    out = tmp_path / "out"
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            textwrap.dedent(f"""
                import time
                from vsa.config import VsaConfig
                from vsa.sinks import hold_writer_lock
                hold_writer_lock(VsaConfig(output_root={str(out)!r}))
                print("held", flush=True)
                time.sleep(120)
            """),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "held"
        done = vsa("rollup", "--out", str(out))
        assert done.returncode == 1
        assert done.stderr.strip().splitlines() == [
            f"vsa: error: another vsa process (pid {holder.pid}) writes the tables under {out} "
            f"(it holds {out / LOCK_NAME}): stop it first; a table has one writer"
        ]
    finally:
        os.kill(holder.pid, signal.SIGKILL)
        holder.wait()
    # The OS released the lock of the killed process: nothing stale is left to clean up.
    taken = subprocess.run(
        [
            sys.executable,
            "-c",
            "from vsa.config import VsaConfig; from vsa.sinks import hold_writer_lock; "
            f"hold_writer_lock(VsaConfig(output_root={str(out)!r}))",
        ],
        capture_output=True,
        text=True,
    )
    assert taken.returncode == 0, taken.stderr


def test_the_streaming_job_holds_the_writer_lock(streamed):
    # This process ran the job (the `streamed` fixture): it holds the lock until it ends.
    done = vsa("rollup", "--out", streamed.config.output_root)
    assert done.returncode == 1
    assert f"another vsa process (pid {os.getpid()})" in done.stderr


def test_rollup_never_takes_a_batch_the_job_closes_periods_in():
    at_rest = JobCheckpoint("ckpt", 9, 16 * HOUR_MS + 5000, 16 * HOUR_MS + 5000)
    moving = JobCheckpoint("ckpt", 9, 16 * HOUR_MS - 5000, 16 * HOUR_MS + 5000)
    # A batch the job has passed, or its next batch when that closes no period: taken.
    assert rollup_batch("kpi_hour", 4, 3600, moving) == 4
    assert rollup_batch("kpi_hour", 10, 3600, at_rest) == 10
    assert rollup_batch("kpi_day", 10, 86400, moving) == 10
    assert rollup_batch("kpi_hour", 12, 3600, None) == 12
    # The job's next batch closes the 16:00 hour: the job would skip it in kpi_hour.
    with pytest.raises(TablesBusy, match="kpi_hour: vsa rollup would commit batch 10"):
        rollup_batch("kpi_hour", 10, 3600, moving)
    # A batch beyond the job's next: what the job's batch 10 closes is unknown yet.
    with pytest.raises(TablesBusy, match="batch 11"):
        rollup_batch("kpi_hour", 11, 3600, at_rest)
