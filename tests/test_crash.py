"""Crash safety: the streaming job SIGKILLed three times at random moments and restarted from its
checkpoint equals `vsa batch` over the same events, in every table, for Spark and pyarrow alike
(bench/crash.py is the full measurement, with ten kills)."""

from __future__ import annotations

import random
import sys

from conftest import PROJECT_ROOT
from vsa import pipeline
from vsa.config import VsaConfig
from vsa.tables import ROLLUPS

sys.path.insert(0, str(PROJECT_ROOT / "bench"))

import crash  # noqa: E402


def test_killed_three_times_the_stream_equals_the_batch(spark, kafka, third_party, tmp_path):
    topic = "player-events-crash"
    kafka.create_topic(topic, partitions=crash.PARTITIONS)
    stream = VsaConfig(
        kafka_bootstrap_servers=kafka.bootstrap_servers,
        player_events_topic=topic,
        output_root=str(tmp_path / "stream"),
        # The test session's databases, so `vsa run` locates viewers as the batch below does.
        geoip_city_db=str(third_party / "mmdb" / "GeoIP2-City-Test.mmdb"),
        geoip_asn_db=str(third_party / "mmdb" / "GeoLite2-ASN-Test.mmdb"),
    )
    events = crash.send(spark, stream, crash.dataset(sessions=300, seed=23))
    config_file = crash.write_config(tmp_path / "vsa.toml", stream, "1 second", batch=300)

    moments = crash.kill_and_restart(config_file, kills=3, rng=random.Random(5), window=(7, 16))

    assert len(moments) == 3
    (tmp_path / "events.jsonl").write_text("\n".join(events) + "\n")
    batch = VsaConfig(output_root=str(tmp_path / "batch"))
    pipeline.run_batch(spark, batch, str(tmp_path / "events.jsonl"))
    counts = crash.compare(spark, stream, batch)
    assert {"player_events", "view_slices", "views", "kpi_minute", "live", "dead_letter"} <= (
        counts.keys()
    )
    for table, c in counts.items():
        assert (c.lost, c.duplicated, c.differing, c.unlisted_files) == (0, 0, 0, 0), (table, c)
    # The rollups may hold nothing yet: the stream closes no hour of these ten minutes; and
    # without CDN logs no view has a POP.
    empty = {*ROLLUPS, "kpi_by_pop"}
    assert all(counts[t].rows > 0 for t in counts if t not in empty)
