"""Player-event validation: each bad record gets its own reason; good ones keep every field."""

from __future__ import annotations

import json

import pytest
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from vsa.config import VsaConfig
from vsa.normalize import RAW_LIMIT_CHARS, parse_player_events
from vsa.pipeline import KAFKA_COORDINATES, player_records
from vsa.sources import RAW_SCHEMA

GOOD = {
    "event_id": "e1",
    "event_type": "rendition_update",
    "ts": 1764000000123,
    "session_id": "s1",
    "viewer_id": "v1",
    "video_id": "m1",
    "bitrate_kbps": 3000,
    "user_agent": "Mozilla/5.0",
    "client_ip": "81.2.69.142",
}


def raw_frame(spark: SparkSession, records: list[str]) -> DataFrame:
    rows = [(r, "player-events", 0, i, None) for i, r in enumerate(records)]
    return spark.createDataFrame(
        rows,
        RAW_SCHEMA,
    )


def with_fields(**changes: object) -> str:
    event = {**GOOD, **changes}
    return json.dumps({k: v for k, v in event.items() if v is not ...})


def valid_events(parsed: DataFrame) -> DataFrame:
    """The valid events of :func:`parse_player_events`, flattened, with their raw record and
    Kafka coordinates."""
    return parsed.where(F.col("reason").isNull() & ~F.col("ignored")).select(
        "event.*", "raw", *KAFKA_COORDINATES
    )


@pytest.mark.parametrize(
    ("record", "reason", "detail_part"),
    [
        ("{not json", "malformed_json", "not one JSON object"),
        ("[1, 2]", "malformed_json", "not one JSON object"),
        ("", "malformed_json", "not one JSON object"),
        (with_fields() + with_fields(event_id="e2"), "malformed_json", "not one JSON object"),
        (with_fields() + " trailing", "malformed_json", "not one JSON object"),
        (with_fields(ts=0), "bad_timestamp", "before 2000-01-01T00:00:00Z"),
        (with_fields(ts=-1000), "bad_timestamp", "-1000"),
        (with_fields(ts="0000-01-01T00:00:00Z"), "bad_timestamp", "0000-01-01T00:00:00Z"),
        (with_fields(ts=1764000000), "bad_timestamp", "seconds instead of ms?): 1764000000"),
        (with_fields(ts=10**30), "bad_timestamp", str(10**30)),
        (
            '{"event_id": "e1", "event_type": "heartbeat", "session_id": "s1", '
            '"ts": 1796111286200.5}',
            "bad_timestamp",
            ": 1796111286200.5",
        ),
        (with_fields(ts="1764000000123.5"), "bad_timestamp", "1764000000123.5"),
        (with_fields(video_width=2**63), "bad_type", "video_width"),
        (with_fields(video_width=-(2**63) - 1), "bad_type", "video_width"),
        (with_fields(user_agent="x" * 70_000), "too_large", "limit 65536"),
        (with_fields(**{f"f{i}": i for i in range(150)}), "too_large", "159 fields, limit 100"),
        (with_fields(event_id=...), "missing_field", "event_id"),
        (with_fields(session_id=..., ts=...), "missing_field", "ts, session_id"),
        (with_fields(event_type=None), "missing_field", "event_type"),
        (with_fields(ts="yesterday"), "bad_timestamp", "yesterday"),
        (with_fields(ts="2025-11-25T10:00:00"), "bad_timestamp", "2025-11-25T10:00:00"),
        (with_fields(bitrate_kbps="fast"), "bad_type", "bitrate_kbps"),
        (with_fields(bitrate_kbps=1.5), "bad_type", "bitrate_kbps"),
        (with_fields(event_type="teleport"), "unknown_event_type", "teleport"),
        (with_fields(ts=4102444800000), "future_timestamp", "4102444800000"),
    ],
)
def test_bad_records_get_a_reason(spark, record, reason, detail_part):
    raw = raw_frame(spark, [record])
    records = player_records(raw, VsaConfig(privacy=False))  # raw as received
    assert records.where("passthrough.player_event IS NOT NULL").count() == 0
    letter = records.select("passthrough.dead_letter.*").first()
    assert (letter.source, letter.reason) == ("player_events", reason)
    assert detail_part in letter.detail
    assert letter.raw == record[:RAW_LIMIT_CHARS]
    assert (letter.kafka_topic, letter.kafka_partition, letter.kafka_offset) == (
        "player-events",
        0,
        0,
    )


@pytest.mark.parametrize(
    ("ts", "expected_utc"),
    [
        (1764000000123, "2025-11-24 16:00:00.123"),
        ("1764000000123", "2025-11-24 16:00:00.123"),
        ("2025-11-24T16:00:00.123Z", "2025-11-24 16:00:00.123"),
        ("2025-11-24T18:00:00.123+02:00", "2025-11-24 16:00:00.123"),
        ("2025-11-24T11:00:00-05:00", "2025-11-24 16:00:00.000"),
        ("2000-01-01T00:00:00Z", "2000-01-01 00:00:00.000"),
    ],
)
def test_timestamps_as_epoch_ms_or_iso_with_offset(spark, ts, expected_utc):
    parsed = parse_player_events(raw_frame(spark, [with_fields(ts=ts)]))
    row = (
        valid_events(parsed)
        .selectExpr(
            "date_format(to_utc_timestamp(ts, current_timezone()), 'yyyy-MM-dd HH:mm:ss.SSS')"
        )
        .first()
    )
    assert row[0] == expected_utc


def test_valid_event_keeps_typed_fields_and_unknown_ones_in_extra(spark):
    record = with_fields(
        player_name="shaka",
        ab_test="B",
        nested={"a": [1, 2]},
        video_width="1280",
        playhead_ms=2**63 - 1,
        video_height=720.0,
    )
    event = valid_events(parse_player_events(raw_frame(spark, [record]))).first()
    assert (event.event_id, event.event_type, event.session_id) == ("e1", "rendition_update", "s1")
    assert event.bitrate_kbps == 3000 and event.video_width == 1280
    assert (event.playhead_ms, event.video_height) == (2**63 - 1, 720)
    assert event.player_name == "shaka"
    assert event.extra == {"ab_test": "B", "nested": '{"a":[1,2]}'}
    assert event.kafka_offset == 0


def test_invalid_utf8_is_bad_encoding_and_the_dead_letter_is_valid_utf8(spark):
    # A record whose bytes are not UTF-8: Kafka hands them over as they are.
    raw = raw_frame(spark, [with_fields()]).withColumn(
        "raw", F.concat(F.lit('{"x": "caf'), F.unhex(F.lit("E9FF")).cast("string"), F.lit('"}'))
    )
    letter = player_records(raw, VsaConfig()).select("passthrough.dead_letter.*").first()
    assert letter.reason == "bad_encoding"
    assert letter.raw == '{"x": "caf\ufffd\ufffd"}'


def test_a_dead_letter_keeps_at_most_its_limit_and_says_what_was_cut(spark):
    record = with_fields(user_agent="x" * 5_000_000)
    records = player_records(raw_frame(spark, [record]), VsaConfig())
    letter = records.select("passthrough.dead_letter.*").first()
    assert letter.reason == "too_large"
    assert len(letter.raw) == RAW_LIMIT_CHARS and record.startswith(letter.raw)
    assert f"raw cut to its first {RAW_LIMIT_CHARS} of {len(record)} characters" in letter.detail
