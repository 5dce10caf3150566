"""`vsa generate` is the simulator with its faults off, and both send through one producer."""

from __future__ import annotations

import json
import time
from collections import Counter
from dataclasses import replace

import pytest
from pyspark.sql import Row

from vsa import generate, jvm
from vsa.cli import parser as vsa_parser
from vsa.config import VsaConfig
from vsa.kafka import produce
from vsa.simulate import Behaviour, Faults, Spec, simulate
from vsa.simulate.__main__ import main as simulate_main
from vsa.simulate.truth import classify, parse

T0 = 1_764_000_000_000
SPAN_S = 300.0
TRAFFIC = generate.Traffic(sessions=60, viewers=25, videos=5, span_s=SPAN_S, start_ms=T0, seed=7)
NO_FAULTS = Faults(duplicate=0.0, out_of_order=0.0, late=0.0, malformed=0.0, iso_ts=0.0)


@pytest.fixture(scope="module")
def records() -> list[tuple[str | None, str]]:
    return list(generate.generate(TRAFFIC))


def test_generate_gives_the_simulator_s_sessions_with_faults_off(records):
    sim = simulate(
        Spec(
            sessions=60,
            viewers=25,
            videos=5,
            span_s=SPAN_S,
            start_ms=T0,
            seed=7,
            hour_edge_share=0.0,
            behaviour=Behaviour(extra_views=0.0, tie_session=0.0),
            faults=NO_FAULTS,
        )
    )
    assert records == sim.records
    summary = sim.summary
    assert summary["duplicates"] == summary["out_of_order"] == summary["late"] == 0
    assert summary["malformed"] == 0
    assert summary["accepted"] == summary["records"] == len(records)
    # one view per session
    assert sorted(v["session_id"] for v in sim.views) == sorted({key for key, _ in records})


def test_no_fault_appears(records):
    events = [parse(value) for _, value in records]
    assert all(events), "every record is a valid event"
    assert all(key == event["session_id"] for (key, _), event in zip(records, events, strict=True))
    raw_ts = [json.loads(value)["ts"] for _, value in records]
    assert all(isinstance(ts, int) for ts in raw_ts), "every ts in epoch ms"
    assert raw_ts == sorted(raw_ts), "records in event-time order"
    assert len({e["event_id"] for e in events}) == len(events), "no duplicate"
    classified = classify((value for _, value in records), watermark_ms=120_000)
    assert classified.late == [] and classified.duplicates == [] and classified.malformed == 0
    # each session under an id of its own (one viewer each), starting within the span; a
    # session may send nothing (its request lost, then the viewer leaves silently)
    first_ts: dict[str, int] = {}
    viewers_of: dict[str, set[str]] = {}
    for event in events:
        first_ts.setdefault(event["session_id"], event["ts"])
        viewers_of.setdefault(event["session_id"], set()).add(event["viewer_id"])
    assert set(first_ts) <= {f"s-7-{n}" for n in range(TRAFFIC.sessions)}
    assert len(first_ts) > 0.9 * TRAFFIC.sessions
    assert all(len(viewers) == 1 for viewers in viewers_of.values())
    # (after a lost request, the first event sent may come a little after the session began)
    assert all(T0 <= ts <= T0 + SPAN_S * 1000 + 60_000 for ts in first_ts.values())
    # fewer viewers than sessions: viewers come back
    sessions_per_viewer = Counter(viewer for (viewer,) in viewers_of.values())
    assert len(sessions_per_viewer) <= TRAFFIC.viewers
    assert max(sessions_per_viewer.values()) > 1
    assert {e["user_agent"] for e in events} <= set(generate.USER_AGENTS)
    assert {e["event_type"] for e in events} >= {"playback_request", "playback_start", "heartbeat"}


def test_malformed_share_mixes_in_malformed_records(records):
    mixed = list(generate.generate(replace(TRAFFIC, malformed_share=0.05)))
    malformed = [value for key, value in mixed if key == "malformed"]
    assert [record for record in mixed if record[0] != "malformed"] == records
    assert all(parse(value) is None for value in malformed)
    assert 0.02 * len(records) < len(malformed) < 0.1 * len(records)


def test_without_a_start_the_sessions_start_now():
    before = int(time.time() * 1000)
    traffic = generate.Traffic(sessions=5, span_s=60, seed=3)
    values = [json.loads(value) for _, value in generate.generate(traffic)]
    assert before <= values[0]["ts"] <= int(time.time() * 1000) + 60_000


# --------------------------------------------------------------------------------------------
# One send: `vsa generate` and `vsa simulate` both produce through vsa.kafka.producer.send


def topic_rows(spark, kafka, topic: str) -> list[Row]:
    """The topic's records in offset order: key and value as text, partition, ``ts`` (the
    Kafka timestamp, epoch ms)."""
    return (
        spark.read.format("kafka")
        .option("kafka.bootstrap.servers", kafka.bootstrap_servers)
        .option("subscribe", topic)
        .load()
        .selectExpr(
            "CAST(key AS STRING) AS key",
            "CAST(value AS STRING) AS value",
            "partition",
            "unix_millis(timestamp) AS ts",
            "offset",
        )
        .orderBy("offset")
        .collect()
    )


def read_topic(spark, kafka, topic: str) -> list[tuple[str, str]]:
    return [(row.key, row.value) for row in topic_rows(spark, kafka, topic)]


def event_ids(records) -> list[tuple[str, str]]:
    return [(key, json.loads(value)["event_id"]) for key, value in records]


def test_vsa_generate_sends_at_a_rate_in_order(spark, kafka, capsys):
    topic = "player-events-generate-rate"
    rate = 8
    kafka.create_topic(topic, partitions=1)
    flags = ["--sessions", "3", "--viewers", "2", "--videos", "2", "--span", "30", "--seed", "5"]
    args = vsa_parser().parse_args(
        ["generate", "--bootstrap", kafka.bootstrap_servers, "--topic", topic, "--rate", str(rate)]
        + flags
    )
    traffic = generate.traffic_from(args)
    assert traffic == generate.Traffic(sessions=3, viewers=2, videos=2, span_s=30, seed=5)
    expected = list(generate.generate(traffic))
    assert len(expected) > 2 * rate  # three writes or more
    began = time.monotonic()
    assert generate.run(args, VsaConfig()) == 0
    assert time.monotonic() - began >= 2  # a write a second
    assert f"sent {len(expected)} records to {topic}" in capsys.readouterr().out
    # run starts the traffic now, not at the start of `expected`: the same events, other ts
    assert event_ids(read_topic(spark, kafka, topic)) == event_ids(expected)


def test_vsa_simulate_sends_the_simulation_in_delivery_order(spark, kafka, capsys):
    topic = "player-events-simulate"
    kafka.create_topic(topic, partitions=1)
    simulate_main(
        ["--kafka", kafka.bootstrap_servers, "--topic", topic, "--sessions", "4", "--seed", "6"]
        + ["--start", str(T0), "--malformed-share", "0.05", "--rate", "1000"]
    )
    sim = simulate(Spec(sessions=4, seed=6, start_ms=T0, faults=Faults(malformed=0.05)))
    assert f"sent {len(sim.records)} records to {topic}" in capsys.readouterr().out
    assert read_topic(spark, kafka, topic) == sim.records


def test_produce_sends_each_record_as_given_across_chunks(spark, kafka, monkeypatch):
    """Records cross to the JVM framed in byte arrays (vsa.jvm.kafka_send): a null key, text
    beyond ASCII, an empty value, a partition and a timestamp each arrive as given, in order,
    also when the records span several arrays."""
    topic = "player-events-framed"
    kafka.create_topic(topic, partitions=2)
    monkeypatch.setattr(jvm, "SEND_CHUNK_BYTES", 64)  # a few records an array
    records = [
        (None, "zéro"),
        ("k1", "€ 1 — ünïcode 🎬"),
        ("k2", ""),
        *[(f"k{i}", f"v{i}") for i in range(3, 40)],
    ]
    timestamps = [1_764_000_000_000 + i for i in range(len(records))]
    assert produce(
        spark, kafka.bootstrap_servers, topic, records, partition=1, timestamps=timestamps
    ) == len(records)
    rows = topic_rows(spark, kafka, topic)
    assert [(r.key, r.value) for r in rows] == records
    assert {r.partition for r in rows} == {1}
    assert [r.ts for r in rows] == timestamps
