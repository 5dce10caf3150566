"""`viewer_secret`: with it set, no table holds a viewer id, only its keyed pseudonym."""

from __future__ import annotations

import hashlib
import hmac
import json

from vsa import pipeline
from vsa.config import VsaConfig
from vsa.sinks import read_table

SECRET = "rotate-me-2026"


def pseudonym(viewer_id: str) -> str:
    """HMAC-SHA256 under the secret, first 16 bytes in hex (vsa_viewer_key's definition)."""
    return hmac.new(SECRET.encode(), viewer_id.encode(), hashlib.sha256).hexdigest()[:32]


def test_tables_hold_the_keyed_pseudonym_not_the_id(spark, tmp_path):
    t0 = 1_764_000_000_000
    events = [
        {"event_id": f"e{i}", "event_type": kind, "ts": t0 + i * 1000, "session_id": "s1",
         "viewer_id": "alice@example.com", "video_id": "v1"}
        for i, kind in enumerate(("playback_request", "playback_start", "view_end"))
    ]  # fmt: skip
    path = tmp_path / "events.jsonl"
    path.write_text("\n".join(json.dumps(e) for e in events) + "\n")
    config = VsaConfig(output_root=str(tmp_path / "out"), viewer_secret=SECRET)
    pipeline.run_batch(spark, config, str(path))

    expected = pseudonym("alice@example.com")
    for table in ("player_events", "views", "view_slices"):
        ids = {r.viewer_id for r in read_table(spark, config, table).collect()}
        assert ids == {expected}, table
    assert read_table(spark, config, "kpi_minute").first().unique_viewers == 1
    assert SECRET not in repr(config)


def test_dead_letters_hold_the_pseudonym_not_the_id(spark, tmp_path):
    t0 = 1_764_000_000_000
    good = {"event_id": "e1", "event_type": "playback_request", "ts": t0, "session_id": "s1",
            "viewer_id": "alice@example.com", "video_id": "v1"}  # fmt: skip
    records = [
        json.dumps(good),
        json.dumps(good),  # a duplicate: rejected by the sessionizer
        json.dumps({**good, "event_id": "e2", "event_type": "warp"}),  # unknown_event_type
        '{"viewer_id": "alice@example.com", "ts": ',  # malformed_json
    ]
    path = tmp_path / "events.jsonl"
    path.write_text("\n".join(records) + "\n")
    config = VsaConfig(output_root=str(tmp_path / "out"), viewer_secret=SECRET)
    pipeline.run_batch(spark, config, str(path))

    letters = read_table(spark, config, "dead_letter").collect()
    assert sorted(r.reason for r in letters) == [
        "duplicate",
        "malformed_json",
        "unknown_event_type",
    ]
    for letter in letters:
        assert "alice@example.com" not in letter.raw, letter.reason
        assert pseudonym("alice@example.com") in letter.raw, letter.reason


def test_the_secret_is_in_no_plan_of_the_job(spark, tmp_path, capsys):
    config = VsaConfig(output_root=str(tmp_path / "out"), viewer_secret=SECRET)
    raw = spark.createDataFrame(
        [('{"viewer_id": "alice"}', "t", 0, 0, None)],
        "raw string, kafka_topic string, kafka_partition int, kafka_offset long, "
        "kafka_timestamp timestamp",
    )
    records = pipeline.player_records(raw, config)
    records.select("viewer_id", "passthrough.dead_letter.raw").explain(mode="extended")
    plans = capsys.readouterr().out
    assert "vsa_viewer_key" in plans and "vsa_viewer_keys_in_json" in plans
    assert SECRET not in plans
