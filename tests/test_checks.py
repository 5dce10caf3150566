"""``vsa check``: one line per check, exit 0 only when all pass; the same checks the job runs
at its start (vsa.checks). Real broker, real Spark, real damaged GeoIP files."""

from __future__ import annotations

import subprocess
import sys

from vsa.checks import FAIL, OK, WARN, kafka_check, run_checks
from vsa.config import VsaConfig
from vsa.kafka.broker import free_port


def vsa(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "vsa", *args], capture_output=True, text=True, timeout=600
    )


def test_every_check_passes_on_a_ready_setup(spark, kafka, tmp_path):
    kafka.create_topic("player-events-ready", partitions=2)
    kafka.create_topic("cdn-logs-ready", partitions=1)
    config = VsaConfig(
        kafka_bootstrap_servers=kafka.bootstrap_servers,
        player_events_topic="player-events-ready",
        cdn_logs_topic="cdn-logs-ready",
        output_root=str(tmp_path / "out"),
    )
    checks = run_checks(spark, config)
    assert [c.name for c in checks] == [
        "kafka",
        "player topic",
        "CDN topic",
        "GeoIP City",
        "GeoIP ASN",
        "output_root",
        "checkpoint_root",
        "checkpoint",
        "tables",
        "collect",
        "collect kafka",
        "collect secrets",
        "collect origins",
    ]
    assert {c.status for c in checks} == {OK}, checks
    assert not (tmp_path / "out").exists()  # checked, not made


def test_a_missing_cdn_topic_is_a_warning_a_missing_player_topic_a_failure(spark, kafka):
    config = VsaConfig(
        kafka_bootstrap_servers=kafka.bootstrap_servers,
        player_events_topic="player-events-absent",
        cdn_logs_topic="cdn-logs-absent",
    )
    by_name = {c.name: c for c in run_checks(spark, config)}
    assert by_name["player topic"].status == FAIL
    assert by_name["CDN topic"].status == WARN
    assert by_name["CDN topic"].detail.startswith("cdn-logs-absent (cloudfront) does not exist")


def test_a_broker_that_does_not_answer_is_named(spark):
    port = free_port()  # nothing listens there
    check, topics = kafka_check(spark, VsaConfig(kafka_bootstrap_servers=f"127.0.0.1:{port}"))
    assert topics is None
    assert check.status == FAIL
    assert check.detail.startswith(f"Kafka unreachable at 127.0.0.1:{port}: no answer in 10 s;")


def test_vsa_check_prints_a_line_per_check_and_fails_on_any(kafka, third_party, tmp_path):
    corrupt = third_party / "mmdb" / "GeoIP2-City-Test-Broken-Double-Format.mmdb"
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    done = vsa(
        "check",
        "--bootstrap",
        kafka.bootstrap_servers,
        "--topic",
        "player-events-nowhere",
        "--out",
        str(blocker / "tables"),
        "--checkpoints",
        str(tmp_path / "checkpoints"),
        "--set",
        "cdn_logs_topic=",
        "--set",
        f"geoip_city_db={corrupt}",
        "--set",
        f"geoip_asn_db={third_party / 'mmdb' / 'GeoLite2-ASN-Test.mmdb'}",
    )
    assert done.returncode == 1, done.stderr
    lines = done.stdout.splitlines()
    assert [line.split()[:2] for line in lines] == [
        ["ok", "config"],
        ["ok", "kafka"],
        ["FAIL", "player"],
        ["FAIL", "GeoIP"],
        ["ok", "GeoIP"],
        ["FAIL", "output_root"],
        ["ok", "checkpoint_root"],
        ["ok", "checkpoint"],
        ["ok", "tables"],
        ["ok", "collect"],
        ["ok", "collect"],
        ["ok", "collect"],
        ["ok", "collect"],
    ]
    assert (
        f"Kafka topic 'player-events-nowhere' does not exist at {kafka.bootstrap_servers}"
        in (lines[2])
    )
    assert f"GeoIP database {corrupt} (spark.vsa.geoip.cityDb) is corrupt: " in lines[3]
    assert f"{blocker} is a file, not a directory" in lines[5]
    assert "Traceback" not in done.stderr


def test_vsa_check_of_a_bad_config_stops_at_the_config_line():
    done = vsa("check", "--set", "window_seconds=90")
    assert done.returncode == 2
    assert done.stdout.startswith("FAIL  config")
    assert "window_seconds must be a positive multiple of 60, not 90" in done.stdout
