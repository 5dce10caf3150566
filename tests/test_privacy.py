"""Privacy on (the default): no full IP address in any table or in the job's log.

Records with addresses in every field, in the forms clients and proxies write them (a port,
brackets, a zone, lists, glued to words, as a map key), go through a real Kafka broker and the
streaming job (`vsa run`, its output being the job's log). The test knows each address it
sent, so "masked" means: its raw form is absent from every string of every table and from the
log; `client_ip` is masked and still geolocated.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from conftest import flush_event
from vsa.config import VsaConfig
from vsa.kafka import produce

T0 = 1_764_000_000_000  # 2025-11-24 16:00:00 UTC

# Every address sent, as the test writes it. None ends in 0 (/24) or is a prefix of another.
CLIENT_IPS = {  # client_ip as sent → (masked, country)
    "81.2.69.142:8443": ("81.2.69.0", "GB"),
    "[2001:218::1]:443": ("2001:218::", "JP"),
    "216.160.83.56, 10.1.2.3": ("216.160.83.0", "US"),
    "2001:218::7%eth0": ("2001:218::", "JP"),
}
RAW_ADDRESSES = (
    "81.2.69.142",
    "2001:218::1",
    "216.160.83.56",
    "10.1.2.3",
    "2001:218::7",
    "203.0.113.155",
    "2001:db8:aa:bb::1",
    "198.51.100.23",
    "fe80::1:2:3:4",
    "192.0.2.44",
    "2001:db8:cc:dd::5",
    "192.0.2.45",
    "192.0.2.46",
    "192.0.2.47",
    "2001:db8:ee:ff::6",
    "192.0.2.48",
    "2001:db8:12:34::7",
    "192.0.2.49",
    "192.0.2.50",
    "192.0.2.51",
    "192.0.2.52",
    "203.0.113.156",
    "2001:db8:99:88::8",
    "203.0.113.157",
    "2001:db8:55:66::9",
    "192.0.2.53",
    "192.0.2.54",
)


def player_records() -> list[str]:
    """One view whose every field holds an address, then records rejected for an address in
    ``event_type``, in ``ts``, or in text that is not JSON."""
    common = {
        "session_id": "sess-[2001:db8:aa:bb::1]:443",
        "viewer_id": "viewer-198.51.100.23",
        "video_id": "video-fe80::1:2:3:4%eth0",
        "stream_type": "vod",
        "player_name": "player 192.0.2.44:8080",
        "player_version": "2001:db8:cc:dd::5",
        "user_agent": "Mozilla/5.0 (X11; Linux x86_64; via 192.0.2.45) Chrome/120.0.0.0",
        "cdn": "cdn-192.0.2.46",
        "x_forwarded_for": "192.0.2.48, 2001:db8:12:34::7",
        "origin_ip": "192.0.2.49:80",
        "192.0.2.50": "a field named by an address",
    }
    steps = [
        ("playback_request", 0, {}),
        ("playback_start", 1500, {"bitrate_kbps": 3000}),
        ("heartbeat", 10_000, {}),
        (
            "playback_fail",
            20_000,
            {"error_code": "E-192.0.2.47", "error_message": "no [2001:db8:ee:ff::6]:443"},
        ),
    ]
    client_ips = list(CLIENT_IPS)
    records = [
        json.dumps(
            {
                **common,
                "event_id": f"ev{i}-203.0.113.155",
                "event_type": event_type,
                "ts": T0 + offset,
                "client_ip": client_ips[i],
                **fields,
            }
        )
        for i, (event_type, offset, fields) in enumerate(steps)
    ]
    rejected = [
        {"event_id": "bad-1", "event_type": "192.0.2.51", "ts": T0, "session_id": "s"},
        {"event_id": "bad-2", "event_type": "heartbeat", "ts": "192.0.2.52", "session_id": "s"},
        {"event_id": "bad-3", "event_type": "2001:db8:99:88::8", "ts": T0, "session_id": "s"},
    ]
    return [*records, *map(json.dumps, rejected), "garbage 203.0.113.156:8443 {"]


CDN_LINE = (
    '203.0.113.157 - - [24/Nov/2025:16:00:05 +0000] "GET /v/seg-1.ts?origin=192.0.2.54:8080 '
    'HTTP/1.1" 200 5000 "http://[2001:db8:55:66::9]:8080/player" "VLC (192.0.2.53)"'
)


def strings_in(value: object) -> list[str]:
    """Every string inside a value read by pyarrow: map keys and values, lists, structs."""
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [s for k, v in value.items() for s in strings_in(k) + strings_in(v)]
    if isinstance(value, list | tuple):
        return [s for v in value for s in strings_in(v)]
    return []


@pytest.fixture(scope="module")
def job_run(spark, kafka, third_party, tmp_path_factory) -> tuple[Path, str]:
    """The streaming job run once over the records, as `vsa run --available-now`: the output
    root and the job's log (its stdout and stderr)."""
    work = tmp_path_factory.mktemp("privacy")
    topic, cdn_topic = "player-events-privacy", "cdn-logs-privacy"
    kafka.create_topic(topic, partitions=1)
    kafka.create_topic(cdn_topic, partitions=1)
    records = player_records()
    produce(spark, kafka.bootstrap_servers, topic, [(None, r) for r in records])
    valid = [(None, r) for r in records[:4]]
    flush = flush_event(valid, VsaConfig(), 0)
    produce(spark, kafka.bootstrap_servers, topic, [(None, flush)])
    produce(spark, kafka.bootstrap_servers, cdn_topic, [(None, CDN_LINE)])
    settings = {
        "geoip_city_db": third_party / "mmdb" / "GeoIP2-City-Test.mmdb",
        "geoip_asn_db": third_party / "mmdb" / "GeoLite2-ASN-Test.mmdb",
        "cdn_logs_topic": cdn_topic,
        "cdn_log_format": "nginx",
        "trigger_interval": "1 second",
    }
    run = subprocess.run(
        [
            sys.executable,
            "-m",
            "vsa",
            "run",
            "--available-now",
            "--bootstrap",
            kafka.bootstrap_servers,
            "--topic",
            topic,
            "--out",
            str(work / "out"),
            "--checkpoints",
            str(work / "checkpoints"),
            *[arg for key, value in settings.items() for arg in ("--set", f"{key}={value}")],
            "--conf",
            "spark.sql.shuffle.partitions=2",
        ],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert run.returncode == 0, run.stderr[-3000:]
    return work / "out", run.stdout + run.stderr


def read_tables(out: Path) -> dict[str, list[dict]]:
    """Every table under ``out``, read by pyarrow down to Python values."""
    return {
        table.name: pq.read_table(table).to_pylist()
        for table in sorted(out.iterdir())
        if table.is_dir() and not table.name.startswith(("_", "."))
    }


def test_no_raw_address_in_any_string_of_any_table_or_the_log(job_run):
    out, log = job_run
    tables = read_tables(out)
    for name in ("player_events", "dead_letter", "views", "view_slices", "kpi_by_content"):
        assert tables.get(name), f"{name} has no rows: the test would prove nothing"
    assert tables.get("cdn_requests"), "cdn_requests has no rows"
    found = [
        (table, address, text)
        for table, rows in tables.items()
        for row in rows
        for text in strings_in(list(row.values()))
        for address in RAW_ADDRESSES
        if address in text
    ]
    assert found == []
    assert [address for address in RAW_ADDRESSES if address in log] == []
    letters = [r for r in tables["dead_letter"] if r["source"] == "player_events"]
    assert sorted(r["reason"] for r in letters) == [
        "bad_timestamp",
        "malformed_json",
        "unknown_event_type",
        "unknown_event_type",
    ]


def test_client_ip_in_every_form_is_masked_and_geolocated(job_run):
    out, _ = job_run
    events = sorted(pq.read_table(out / "player_events").to_pylist(), key=lambda e: e["ts"])
    sent = [e for e in events if e["event_id"].startswith("ev")]
    assert [(e["client_ip"], e["country"]) for e in sent] == list(CLIENT_IPS.values())
    first = sent[0]
    # Masked in place, not blanked: the text around each address is kept.
    assert first["session_id"] == "sess-[2001:db8:aa::]:443"
    extra = dict(first["extra"])  # pyarrow reads a map as (key, value) pairs
    assert extra["x_forwarded_for"] == "192.0.2.0, 2001:db8:12::"
    assert extra["192.0.2.0"] == "a field named by an address"
    requests = pq.read_table(out / "cdn_requests").to_pylist()
    assert [r["client_ip"] for r in requests] == ["203.0.113.0"]
