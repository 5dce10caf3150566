"""Errors an operator can act on: each broken input stops the job's start with one line that
names the thing and what to do, before anything is written. Real broker, real Spark, real
damaged files."""

from __future__ import annotations

import json
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from pyspark.sql.utils import AnalysisException

from vsa import pipeline
from vsa.checks import NotReady, checkpoint_check, run_checks, table_log_checks
from vsa.config import GEOIP_CITY_DB_KEY, VsaConfig
from vsa.kafka import LocalKafka, produce
from vsa.kafka.broker import free_port

EVENT = {"event_id": "e", "event_type": "heartbeat", "ts": 1764000000000, "session_id": "s"}


def snapshot(root: Path) -> dict[str, int]:
    """Every file under ``root`` and its size: to show that nothing was written."""
    return {str(p): p.stat().st_size for p in root.rglob("*") if p.is_file()}


@pytest.fixture
def damaged(streamed, tmp_path) -> VsaConfig:
    """A copy of a finished run's tables and checkpoint, to damage."""
    copy = tmp_path / "stream"
    shutil.copytree(streamed.config.output_root, copy)
    return VsaConfig(
        kafka_bootstrap_servers=streamed.config.kafka_bootstrap_servers,
        player_events_topic=streamed.config.player_events_topic,
        output_root=str(copy),
    )


def test_a_missing_topic_is_named_before_anything_is_written(spark, kafka, tmp_path):
    config = VsaConfig(
        kafka_bootstrap_servers=kafka.bootstrap_servers,
        player_events_topic="no-such-topic",
        output_root=str(tmp_path / "out"),
    )
    with pytest.raises(NotReady) as error:
        pipeline.start(spark, config)
    assert str(error.value).startswith(
        f"Kafka topic 'no-such-topic' does not exist at {kafka.bootstrap_servers}: create it"
    )
    assert not (tmp_path / "out").exists()


def test_the_job_waits_for_a_missing_topic_when_told_to(spark, kafka, tmp_path, caplog):
    topic = "player-events-late-topic"
    config = VsaConfig(
        kafka_bootstrap_servers=kafka.bootstrap_servers,
        player_events_topic=topic,
        cdn_logs_topic=None,
        output_root=str(tmp_path / "out"),
        topic_wait_seconds=60,
    )
    creator = threading.Timer(
        5, lambda: produce(spark, kafka.bootstrap_servers, topic, [("s", json.dumps(EVENT))])
    )
    creator.start()
    began = time.monotonic()
    with caplog.at_level("INFO", logger="vsa.checks"):
        query = pipeline.start(spark, config, {"availableNow": True})
    query.awaitTermination()
    creator.join()
    waited = [r.getMessage() for r in caplog.records if "waiting up to 60 s" in r.getMessage()]
    assert waited == [f"waiting up to 60 s for Kafka topic {topic!r} at {kafka.bootstrap_servers}"]
    assert time.monotonic() - began >= 5
    assert spark.read.parquet(config.table_path("player_events")).count() == 1


def test_a_corrupt_geoip_database_is_named(spark, kafka, third_party, tmp_path):
    broken = third_party / "mmdb" / "GeoIP2-City-Test-Invalid-Node-Count.mmdb"
    config = VsaConfig(
        kafka_bootstrap_servers=kafka.bootstrap_servers, output_root=str(tmp_path / "out")
    )
    configured = spark.conf.get(GEOIP_CITY_DB_KEY)
    spark.conf.set(GEOIP_CITY_DB_KEY, str(broken))
    try:
        with pytest.raises(NotReady) as error:
            pipeline.start(spark, config)
    finally:
        spark.conf.set(GEOIP_CITY_DB_KEY, configured)
    message = str(error.value)
    assert message.startswith(f"GeoIP database {broken} (spark.vsa.geoip.cityDb) is corrupt: ")
    assert message.endswith("set geoip_city_db to a valid .mmdb file")
    assert "\n" not in message
    assert not (tmp_path / "out").exists()


def test_an_asn_database_given_as_the_city_one_is_named(spark, third_party):
    asn = third_party / "mmdb" / "GeoLite2-ASN-Test.mmdb"
    configured = spark.conf.get(GEOIP_CITY_DB_KEY)
    spark.conf.set(GEOIP_CITY_DB_KEY, str(asn))
    try:
        checks = run_checks(spark, VsaConfig())
    finally:
        spark.conf.set(GEOIP_CITY_DB_KEY, configured)
    city = next(c for c in checks if c.name == "GeoIP City")
    assert city.status == "FAIL"
    assert f"{asn} (spark.vsa.geoip.cityDb) is a GeoLite2-ASN database, not a City one" in (
        city.detail
    )


@pytest.mark.parametrize(
    ("keep_checksum", "problem"),
    [(False, "is cut short (no end mark)"), (True, "cannot be read (ChecksumException: ")],
)
def test_a_truncated_state_file_is_named(spark, damaged, keep_checksum, problem):
    state = Path(damaged.checkpoint_path("vsa")) / "state"
    victim = max(state.rglob("1.delta"), key=lambda p: p.stat().st_size)
    assert checkpoint_check(spark, damaged).status == "ok"
    victim.write_bytes(victim.read_bytes()[: victim.stat().st_size // 2])
    if not keep_checksum:  # Hadoop's local checksum file: object stores have none
        (victim.parent / f".{victim.name}.crc").unlink()
    before = snapshot(Path(damaged.output_root))
    with pytest.raises(NotReady) as error:
        pipeline.start(spark, damaged)
    message = str(error.value)
    assert message.startswith(f"state file file:{victim} {problem}"), message
    assert f"restore the checkpoint {damaged.checkpoint_path('vsa')} from a backup" in message
    assert snapshot(Path(damaged.output_root)) == before


def test_a_garbage_commit_log_file_is_named(spark, damaged):
    log_file = Path(damaged.table_path("view_slices")) / "_spark_metadata" / "0"
    assert [c.status for c in table_log_checks(spark, damaged)] == ["ok"]
    log_file.write_bytes(b"\x00\x9fgarbage\xff" * 40)
    before = snapshot(Path(damaged.output_root))
    with pytest.raises(NotReady) as error:
        pipeline.start(spark, damaged)
    message = str(error.value)
    assert message.startswith(
        f"the commit log of table view_slices is damaged: {log_file} does not parse ("
    ), message
    assert "restore the file from a backup, or write to a new output_root" in message
    assert snapshot(Path(damaged.output_root)) == before


def test_an_unwritable_output_names_the_path_and_the_cause(spark, kafka, tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory")
    config = VsaConfig(
        kafka_bootstrap_servers=kafka.bootstrap_servers, output_root=str(blocker / "tables")
    )
    with pytest.raises(NotReady) as error:
        pipeline.start(spark, config)
    assert str(error.value) == (
        f"cannot write output_root {blocker}/tables: {blocker} is a file, not a directory; "
        "set output_root to a directory vsa may write"
    )
    assert blocker.read_text() == "not a directory"


def vsa(*args: str) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "vsa", *args]
    return subprocess.run(command, capture_output=True, text=True, timeout=600)


def run_flags(kafka: LocalKafka, third_party: Path, out: Path, topic: str) -> list[str]:
    return [
        "--bootstrap",
        kafka.bootstrap_servers,
        "--topic",
        topic,
        "--out",
        str(out),
        "--set",
        "cdn_logs_topic=",
        "--set",
        f"geoip_city_db={third_party / 'mmdb' / 'GeoIP2-City-Test.mmdb'}",
    ]


def test_vsa_run_prints_one_error_line_and_the_trace_only_when_verbose(
    kafka, third_party, tmp_path
):
    flags = run_flags(kafka, third_party, tmp_path / "out", "player-events-missing")
    done = vsa("run", *flags, "--available-now")
    assert done.returncode == 1
    errors = [line for line in done.stderr.splitlines() if "error" in line.lower()]
    assert errors == [
        f"vsa: error: Kafka topic 'player-events-missing' does not exist at "
        f"{kafka.bootstrap_servers}: create it, or set player_events_topic (topic_wait_seconds "
        "makes the job wait for it)"
    ]
    assert "Traceback" not in done.stderr
    assert not (tmp_path / "out").exists()

    verbose = vsa("--verbose", "run", *flags, "--available-now")
    assert verbose.returncode == 1
    assert "Traceback (most recent call last):" in verbose.stderr
    assert verbose.stderr.splitlines()[-1] == errors[0]


@pytest.mark.e2e  # a broker of its own and `vsa run`
def test_a_broker_outage_is_one_progress_line_without_kafka_s_warnings(
    spark, third_party, tmp_path
):
    broker = LocalKafka(tmp_path / "kafka", port=free_port())
    broker.start()
    topic = "player-events-outage"
    broker.create_topic(topic, partitions=1)
    out = tmp_path / "out"

    def send(first: int) -> None:
        events = [
            (f"s{i}", json.dumps({**EVENT, "event_id": f"e{i}", "ts": EVENT["ts"] + i}))
            for i in range(first, first + 5)
        ]
        produce(spark, broker.bootstrap_servers, topic, events)

    def committed() -> int:
        try:
            return spark.read.parquet(str(out / "player_events")).count()
        except AnalysisException:
            return 0

    def wait_for(rows: int, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while committed() < rows and time.monotonic() < deadline:
            time.sleep(2)
        assert committed() == rows

    send(0)
    flags = run_flags(broker, third_party, out, topic)
    log_file = tmp_path / "vsa-run.log"
    with log_file.open("w") as log:
        job = subprocess.Popen(
            [sys.executable, "-m", "vsa", "run", *flags, "--set", "trigger_interval=2 seconds"],
            stdout=log,
            stderr=subprocess.STDOUT,
            text=True,
        )
    try:
        wait_for(5, 300)
        broker.stop()
        # Long enough for two of the watch's checks (every 5 s) and for Kafka's client to retry
        # (and warn, were its warnings not quieted) many times.
        time.sleep(12)
        broker.start()
        send(5)
        wait_for(10, 300)
    finally:
        job.send_signal(signal.SIGINT)
        job.wait(120)
        broker.stop()
    lines = log_file.read_text().splitlines()
    unreachable = [line for line in lines if "Kafka unreachable at" in line]
    assert len(unreachable) == 1, lines
    assert f"Kafka unreachable at {broker.bootstrap_servers} since " in unreachable[0]
    assert len([line for line in lines if "Kafka reachable again at" in line]) == 1
    kafka_warnings = [
        line for line in lines if " WARN " in line and ("NetworkClient" in line or "Kafka" in line)
    ]
    assert kafka_warnings == []
