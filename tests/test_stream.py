"""End to end through the real broker: Kafka → normalize → enrich → Parquet, exactly once."""

from __future__ import annotations

import json
from collections import Counter

from vsa import generate, pipeline
from vsa.config import VsaConfig
from vsa.kafka import produce
from vsa.sinks import read_table

MALFORMED = {
    "{broken json": "malformed_json",
    '{"event_type": "heartbeat", "ts": 1764000000000}': "missing_field",
    '{"event_id": "m3", "event_type": "heartbeat", "ts": "soon", "session_id": "s"}': (
        "bad_timestamp"
    ),
    '{"event_id": "m4", "event_type": "warp", "ts": 1764000000000, "session_id": "s", '
    '"client_ip": "2a02:c7f:1234:5678:9abc::1"}': "unknown_event_type",
    '{"event_id": "m5", "event_type": "heartbeat", "ts": 1764000000000, "session_id": "s", '
    '"playhead_ms": "ten", "client_ip": "81.2.69.142"}': "bad_type",
}


def events(seed: int, sessions: int) -> list[tuple[str, str]]:
    return list(generate.generate(generate.Traffic(sessions=sessions, seed=seed, span_s=120)))


def test_kafka_to_parquet_exactly_once(spark, kafka, tmp_path):
    topic = "player-events-e2e"
    config = VsaConfig(
        kafka_bootstrap_servers=kafka.bootstrap_servers,
        player_events_topic=topic,
        output_root=str(tmp_path / "out"),
    )
    first = events(seed=11, sessions=40)
    produce(spark, kafka.bootstrap_servers, topic, first)
    produce(spark, kafka.bootstrap_servers, topic, [("bad", raw) for raw in MALFORMED])

    result = pipeline.run_until_caught_up(spark, config)

    table = read_table(spark, config, "player_events")
    assert table.count() == len(first)
    written = {t: result.rows_written[t] for t in ("player_events", "dead_letter")}
    assert written == {"player_events": len(first), "dead_letter": len(MALFORMED)}
    sent_ids = {json.loads(v)["event_id"] for _, v in first}
    assert {r.event_id for r in table.select("event_id").collect()} == sent_ids
    # Every generated agent is a real one that uap-core knows.
    assert table.where("browser_family IS NULL OR browser_family = 'Other'").count() == 0
    assert {r.device_type for r in table.select("device_type").distinct().collect()} >= {
        "desktop",
        "mobile",
    }
    # Located from the full address (MaxMind's test database), before it is masked.
    countries = {r.country for r in table.select("country").distinct().collect()}
    assert {"GB", "US", "SE"} <= countries
    # Privacy on by default: no full client address is written.
    assert table.where("client_ip NOT RLIKE '(\\\\.0$)|(::$)'").count() == 0
    assert set(table.columns) >= {"date", "hour", "kafka_partition", "kafka_offset", "extra"}

    letters = read_table(spark, config, "dead_letter")
    assert Counter(r.reason for r in letters.collect()) == Counter(MALFORMED.values())
    # Neither the IPv4 nor the IPv6 client address of a rejected record is written.
    raws = " ".join(r.raw for r in letters.collect())
    assert "81.2.69.142" not in raws and "5678:9abc" not in raws
    assert '"81.2.69.0"' in raws and '"2a02:c7f:1234::"' in raws
    assert letters.where("kafka_topic IS NULL OR kafka_offset IS NULL").count() == 0

    # A second run from the same checkpoints reads only what is new.
    more = events(seed=12, sessions=10)
    produce(spark, kafka.bootstrap_servers, topic, more)
    again = pipeline.run_until_caught_up(spark, config)

    table = read_table(spark, config, "player_events")
    assert table.count() == len(first) + len(more)
    assert table.select("event_id").distinct().count() == len(first) + len(more)
    letters = read_table(spark, config, "dead_letter")
    assert letters.where("reason != 'late'").count() == len(MALFORMED)
    # The new events cover the same two minutes as the first ones, which the watermark has
    # passed since: those behind it are dead letters now, each once.
    late = [r.raw for r in letters.where("reason = 'late'").collect()]
    assert len(late) == again.late_events > 0
    assert {json.loads(raw)["event_id"] for raw in late} <= {
        json.loads(v)["event_id"] for _, v in more
    }
    assert len(set(late)) == len(late)
