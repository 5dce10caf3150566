"""Progress lines per micro-batch from a real stream, and the end-of-run summary."""

from __future__ import annotations

import io
import logging
import os
import re
import subprocess
import sys

from vsa import generate
from vsa.progress import Progress, batch_line, summary


def test_progress_lines_and_summary_of_a_stream(spark, streamed):
    # The session's shared streaming run (conftest.streamed) ran with a Progress listener.
    config, result, progress = streamed.config, streamed.result, streamed.progress
    lines = streamed.progress_lines
    # One query writes every table: one line per micro-batch, the rows of all tables in it.
    assert [line.split()[:3] for line in lines] == [
        ["vsa", "batch", str(n)] for n in range(len(lines))
    ]
    assert all("processed" in line and "watermark" in line for line in lines)
    assert progress.totals.rows_written == result.rows_written
    written = [int(re.search(r"written ([\d,]+)", line)[1].replace(",", "")) for line in lines]
    assert sum(written) == sum(result.rows_written.values())
    assert result.rows_written["cdn_requests"] == 0
    assert progress.totals.late_events == result.late_events
    dead = result.rows_written["dead_letter"]
    assert dead > 0
    assert any(f"dead letters {dead:,}" in line for line in lines)

    text = summary(spark, config, result.rows_written, result.late_events)
    assert re.search(rf"player_events +{result.rows_written['player_events']:,} ", text)
    assert "dead letters by reason: malformed_json" in text
    assert f"late events (dead-lettered as late): {result.late_events}" in text
    assert config.table_path("kpi_minute") in text


def test_not_a_terminal_logs_instead_of_printing(caplog):
    progress = Progress(out=io.StringIO())  # a StringIO is no terminal
    assert not progress.live


def test_batch_line_reads_at_a_glance():
    line = batch_line(
        name="vsa",
        batch=3,
        input_rows=1200,
        input_rate=400.0,
        processed_rate=2500.5,
        watermark="2025-11-24T10:03:00.000Z",
        written=3456,
        late=2,
        dead_letters=5,
        state_rows=120,
    )
    assert line.startswith("vsa batch    3")
    assert "1,200 rows" in line and "written 3,456" in line
    assert "in       400/s" in line
    assert "processed     2,500/s" in line or "processed     2,501/s" in line
    assert "watermark 2025-11-24 10:03:00" in line
    assert "late 2" in line and "dead letters 5" in line and "state 120 rows" in line


def test_quiet_logger_level():
    from vsa.progress import quiet_logs

    quiet_logs()
    assert logging.getLogger("py4j").level == logging.WARNING


def test_vsa_run_from_a_config_file_logs_progress_and_prints_the_summary(kafka, tmp_path):
    """`vsa run --available-now` as a user runs it: a TOML file, an env override, no terminal
    (so the progress lines go to the log), the summary on stdout."""
    topic = "player-events-cli"
    records = list(generate.generate(generate.Traffic(sessions=4, seed=9, span_s=60)))
    generate_args = ["generate", "--sessions", "4", "--seed", "9", "--span", "60"]
    config_file = tmp_path / "vsa.toml"
    config_file.write_text(
        f'player_events_topic = "{topic}"\noutput_root = "{tmp_path / "tables"}"\n'
        '[spark_conf]\n"spark.sql.shuffle.partitions" = 2\n'
    )
    env = {**os.environ, "VSA_KAFKA_BOOTSTRAP_SERVERS": kafka.bootstrap_servers}
    for args in (generate_args, ["run", "--available-now"]):
        done = subprocess.run(
            [sys.executable, "-m", "vsa", *args, "--config", str(config_file)],
            capture_output=True,
            text=True,
            env=env,
            timeout=400,
        )
        assert done.returncode == 0, done.stderr[-3000:]
    assert re.search(r"INFO vsa\.progress: vsa batch +0 +[\d,]+ rows", done.stderr)
    assert "rows written:" in done.stdout
    assert re.search(rf"player_events +{len(records):,} +{tmp_path / 'tables'}", done.stdout)
    assert "late events (dead-lettered as late): 0" in done.stdout
    assert f"checkpoints: {tmp_path / 'tables' / '_checkpoints'}" in done.stdout
