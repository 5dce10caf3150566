"""Device clocks that are off, through Kafka and the whole streaming job (issue 22, section 3).

Players stamp ``ts`` with their own clock; a share of the simulated devices run up to 10
minutes fast or slow. Each record carries its true receipt time (``received_at``, and the same
as its Kafka timestamp), and the job anchors event time to it (docs/views.md, "Device
clocks"): no event of a correct device may be late, and every view, slice and KPI must equal
the truth, which is computed on the true time.

The figure of the issue's closing note is the late events of correct devices:
``.venv/bin/python -m pytest tests/test_clocks.py -k late -q -s``
prints it.
"""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime

import pytest

from test_kpis import EXACT, close, near, truth_kpis
from test_kpis import RATIOS as KPI_RATIOS
from test_truth_crosscheck import RATIOS, TIMES, epoch_ms, view_dimensions
from vsa import pipeline
from vsa.config import VsaConfig
from vsa.kafka import produce
from vsa.kpis import SCORES
from vsa.simulate import Faults, Spec, default_start, receipt_times, simulate
from vsa.simulate.model import clock_skew
from vsa.sinks import read_table
from vsa.tables import KPI_TABLES

SESSIONS = 400
SKEWED_SHARE = 0.05
# Records per micro-batch over the two partitions: about 11 batches, each about a minute of
# receipt time, so the watermark moves between batches by less than a fast clock's lead (a
# device 5 minutes fast would make the next batch's correct events late, were its time not
# anchored). More batches cost a batch's fixed cost each (issue 23).
BATCH = 900
# Out-of-order and duplicate records, no deliberately late ones: every late event is an error.
FAULTS = Faults(late=0.0, malformed=0.0)
FLUSH = "__flush__"


@pytest.fixture(scope="module")
def run(spark, kafka, tmp_path_factory):
    start = default_start(time.time())  # recent: Kafka keeps records by their timestamps
    spec = Spec(
        sessions=SESSIONS,
        seed=22,
        start_ms=start,
        span_s=600,
        clock_skew_share=SKEWED_SHARE,
        faults=FAULTS,
    )
    sim = simulate(spec)
    topic = "player-events-clocks"
    kafka.create_topic(topic, partitions=2)
    config = VsaConfig(
        kafka_bootstrap_servers=kafka.bootstrap_servers,
        player_events_topic=topic,
        output_root=str(tmp_path_factory.mktemp("clocks")),
        max_offsets_per_trigger=BATCH,
    )
    produce(
        spark,
        kafka.bootstrap_servers,
        topic,
        sim.records,
        timestamps=receipt_times(sim.records),
    )
    # One event far ahead in each partition, so that the watermark passes every view's end.
    last = max(receipt_times(sim.records))
    ahead = last + (config.view_timeout_seconds + config.watermark_seconds + 180) * 1000
    for partition in (0, 1):
        flush = {
            "event_id": f"flush-{partition}",
            "event_type": "heartbeat",
            "ts": ahead,
            "session_id": f"{FLUSH}{partition}",
            "received_at": ahead,
        }
        produce(
            spark,
            kafka.bootstrap_servers,
            topic,
            [(None, json.dumps(flush))],
            partition=partition,
            timestamps=[ahead],
        )
    result = pipeline.run_until_caught_up(spark, config)
    return sim, config, result


def skewed_sessions(sim) -> set[str]:
    ids = {f"s-{sim.spec.seed}-{n}" for n in range(sim.spec.sessions)}
    return {s for s in ids if clock_skew(sim.spec.seed, s, sim.spec.clock_skew_share)}


def rows(spark, config, table):
    df = read_table(spark, config, table).where(f"not startswith(session_id, '{FLUSH}')")
    return [r.asDict(recursive=True) for r in df.collect()]


def test_the_simulation_has_devices_whose_clocks_are_minutes_off(run):
    sim, _, _ = run
    skews = [clock_skew(sim.spec.seed, s, sim.spec.clock_skew_share) for s in skewed_sessions(sim)]
    assert len(skews) >= 10
    assert any(s > 5 * 60_000 for s in skews) and any(s < -5 * 60_000 for s in skews)


def test_no_event_of_a_correct_device_is_late(spark, run):
    sim, config, result = run
    skewed = skewed_sessions(sim)
    letters = read_table(spark, config, "dead_letter").where("reason = 'late'").collect()
    late_correct = [r for r in letters if json.loads(r.raw)["session_id"] not in skewed]
    print(f"late events of correct devices: {len(late_correct)} (all late: {len(letters)})")
    assert late_correct == []
    assert result.late_events == 0
    # The only dead letters are the simulator's duplicate copies.
    reasons = read_table(spark, config, "dead_letter").groupBy("reason").count().collect()
    assert {r.reason: r["count"] for r in reasons} == {"duplicate": sim.summary["duplicates"]}


def test_views_equal_the_truth_in_true_time(spark, run):
    sim, config, _ = run
    got = {v["view_id"]: v for v in rows(spark, config, "views")}
    expected = {v["view_id"]: v for v in sim.views}
    assert got.keys() == expected.keys()
    for view_id, truth in expected.items():
        row = got[view_id]
        for column, value in truth.items():
            actual = epoch_ms(row[column]) if column in TIMES else row[column]
            if column in RATIOS:
                assert close(actual, value, 1e-9), (view_id, column, actual, value)
            else:
                assert actual == value, (view_id, column, actual, value)


def test_slices_equal_the_truth_in_true_time(spark, run):
    sim, config, _ = run
    got = {(s["view_id"], epoch_ms(s["minute"])): s for s in rows(spark, config, "view_slices")}
    expected = {(s["view_id"], s["minute"]): s for s in sim.slices}
    assert got.keys() == expected.keys()
    for key, truth in expected.items():
        for column, value in truth.items():
            actual = epoch_ms(got[key][column]) if column == "minute" else got[key][column]
            assert actual == value, (key, column, actual, value)


@pytest.mark.parametrize("table", list(KPI_TABLES))
def test_kpi_tables_equal_the_truth(spark, run, third_party, table):
    sim, config, _ = run
    accepted = [e for e in sim.events() if "session_id" in e]
    dimensions = view_dimensions(accepted, third_party / "mmdb" / "GeoIP2-City-Test.mmdb")
    by_view = {v["view_id"]: v for v in sim.views}
    slices = [
        {
            **dimensions[s["view_id"].rsplit("#", 1)[0]],
            "stream_type": by_view[s["view_id"]]["stream_type"],
            "cdn": by_view[s["view_id"]]["cdn"],
            **s,
            "minute": datetime.fromtimestamp(s["minute"] / 1000, UTC).replace(tzinfo=None),
            "closed_view": {"view": by_view[s["view_id"]]},
        }
        for s in sim.slices
    ]
    keys = KPI_TABLES[table]
    truth = truth_kpis(slices, keys)
    got = {
        (r.window_start, *[r[k] for k in keys]): r
        for r in read_table(spark, config, table).collect()
    }
    # The flush events' minutes are the job's, not the simulation's.
    newest = max(k[0] for k in truth)
    got = {k: r for k, r in got.items() if k[0] <= newest}
    assert got.keys() == truth.keys(), sorted(got.keys() ^ truth.keys())[:3]
    for key, row in got.items():
        expected = truth[key]
        for column in (*EXACT, "startup_hist"):
            assert row[column] == expected[column], (table, key, column)
        for column in KPI_RATIOS:
            assert close(row[column], expected[column], 1e-9), (table, key, column)
        for column in SCORES:
            assert near(row[column], expected[column]), (table, key, column)
        for column in ("startup_time_p50_ms", "startup_time_p95_ms"):
            assert close(row[column], expected[column], 0.01), (table, key, column)


def test_a_batch_run_over_the_same_records_equals_the_truth(spark, run, tmp_path):
    # The files carry received_at: `vsa batch` corrects the clocks as the stream does.
    sim, _, _ = run
    (tmp_path / "events.jsonl").write_text("\n".join(v for _, v in sim.records) + "\n")
    config = VsaConfig(output_root=str(tmp_path / "tables"))
    pipeline.run_batch(spark, config, str(tmp_path / "events.jsonl"))
    got = {v["view_id"]: v for v in rows(spark, config, "views")}
    expected = {v["view_id"]: v for v in sim.views}
    assert got.keys() == expected.keys()
    for view_id, truth in expected.items():
        for column, value in truth.items():
            actual = got[view_id][column]
            actual = epoch_ms(actual) if column in TIMES else actual
            if column in RATIOS:
                assert close(actual, value, 1e-9), (view_id, column, actual, value)
            else:
                assert actual == value, (view_id, column, actual, value)
