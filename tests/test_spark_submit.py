"""``spark-submit --jars <the bundled jars> <vsa's entry point>`` against the plain Spark of
the venv's pyspark: the way a cluster runs vsa."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

import vsa
from vsa import generate
from vsa.spark_session import EXTENSION_CLASS, bundled_jars

# Every test here starts spark-submit (docs/testing.md).
pytestmark = pytest.mark.e2e


def test_spark_submit_runs_a_batch_job(tmp_path):
    events = tmp_path / "events.jsonl"
    records = list(generate.generate(generate.Traffic(sessions=8, seed=4)))[:200]
    events.write_text("".join(value + "\n" for _, value in records) + "{broken\n")
    entry = Path(vsa.__file__).parent / "__main__.py"
    spark_submit = Path(sys.executable).parent / "spark-submit"
    env = {**os.environ, "PYSPARK_PYTHON": sys.executable, "PYSPARK_DRIVER_PYTHON": sys.executable}
    done = subprocess.run(
        [
            str(spark_submit),
            "--master",
            "local[1]",
            "--jars",
            ",".join(bundled_jars()),
            "--conf",
            f"spark.sql.extensions={EXTENSION_CLASS}",
            "--conf",
            "spark.ui.enabled=false",
            str(entry),
            "batch",
            "--events",
            str(events),
            "--out",
            str(tmp_path / "tables"),
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=540,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    # spark-submit's master, not vsa's default (spark-submit merges Python's stderr into
    # its stdout).
    assert "vsa.spark_session: Spark 4.2.0, master local[1]" in done.stdout
    assert "dead letters by reason: malformed_json 1" in done.stdout
    rows = {
        line.split()[0]: int(line.split()[1].replace(",", ""))
        for line in done.stdout.splitlines()
        if line.startswith("  ")
    }
    assert rows["player_events"] + rows["dead_letter"] == len(records) + 1
    assert rows["kpi_minute"] > 0
    assert (tmp_path / "tables" / "kpi_minute").is_dir()
