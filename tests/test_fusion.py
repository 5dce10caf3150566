"""Player ↔ CDN fusion (issue 15) end to end: simulated views with CMCD through the local
Kafka (a player topic and a CDN topic of Fastly JSON lines) and the streaming job, and through
``vsa batch``, against the simulator's independent truth (vsa.simulate.fusion_truth.fuse and
kpi_by_pop, plain Python).

This needs the job side of issue 15: the sessionizer's attribution, the new ``views`` and
``view_slices`` columns, ``kpi_by_pop`` and ``cdn_qos_minute.cdn_attributed_pct``
(docs/kpis.md, "Attribution"). Without it the tests fail, each with a message that says
so; nothing is skipped.

The traffic (1,750 sessions, about 2,000 views, no delivery faults) has a faulty POP (Fastly
FRA: slow, 5xx, its players stall more), players that report their own CMCD sid as
``cmcd_sid``, and requests that must not be attributed: without CMCD, with a sid nobody
reported, and after the session's last view closed. The stream reads it in two runs cut at
the middle of event time, so that the requests of the 45 s after the cut reach the job before
their session's events, and those of the 45 s before it after them (both within the
watermark); the simulator's flush event, last, closes every view.
"""

from __future__ import annotations

import json
import math
import statistics
from collections import Counter, defaultdict

import pytest

from test_truth_crosscheck import epoch_ms, view_dimensions
from vsa import pipeline
from vsa.config import VsaConfig
from vsa.generate import NO_FAULTS
from vsa.kafka import produce
from vsa.simulate import FLUSH_SESSION, FaultyPop, Spec, simulate
from vsa.simulate.cdn import log_line
from vsa.simulate.fusion_truth import kpi_by_pop, rank_neighbours
from vsa.sinks import read_table

START_MS = 1_764_000_000_000
FORMAT = "fastly"  # JSON with ms timestamps, the POP, TTFB, and CMCD in the URL
FAULTY = FaultyPop("fastly", "FRA")
# Requests this close to the cut are read in the other run than their events: well within
# the 120 s watermark, whether the job's watermark follows the player events alone or the
# requests too (then it is at most cut + LEAD_MS - 120 s after the first run).
LEAD_MS = 45_000
NEEDS_JOB_SIDE = "needs the job side of issue 15 (CDN attribution in the job): "
COUNTS = ("cdn_requests", "cdn_bytes", "cdn_errors", "cdn_starvation_requests")
SLICE_COUNTS = (*COUNTS, "cdn_cache_hits", "cdn_cache_misses")
# (column, rank, the truth's values): quantile columns, within the sketch's rank bound
VIEW_QUANTILES = (
    ("cdn_ttfb_p50_ms", 0.5, "ttfb_values"),
    ("cdn_ttfb_p95_ms", 0.95, "ttfb_values"),
    ("cdn_throughput_p50_kbps", 0.5, "throughput_values"),
)
POP_QUANTILES = (
    ("startup_time_p50_ms", 0.5, "startup_values"),
    ("startup_time_p95_ms", 0.95, "startup_values"),
    ("ttfb_p95_ms", 0.95, "ttfb_values"),
    ("throughput_p50_kbps", 0.5, "throughput_values"),
)
POP_EXACT = ("views", "plays", "playback_failures", "requests")
POP_RATIOS = ("rebuffer_ratio", "vsf_pct", "error_pct", "cache_hit_ratio")


@pytest.fixture(scope="module")
def sim():
    sim = simulate(
        Spec(
            sessions=1750,
            seed=11,
            start_ms=START_MS,
            faults=NO_FAULTS,
            flush=True,
            cmcd_sid_share=0.1,
            faulty_pop=FAULTY,
        )
    )
    assert len(sim.views) >= 2000 + 1  # the flush session's view besides
    return sim


@pytest.fixture(scope="module")
def truth(sim, third_party):
    """(requests, fusion, kpi_by_pop rows, country by view)."""
    requests, fusion = sim.cdn(FORMAT)
    dimensions = view_dimensions(
        [json.loads(v) for _, v in sim.records], third_party / "mmdb" / "GeoIP2-City-Test.mmdb"
    )
    country = {v["view_id"]: dimensions[v["session_id"]]["country"] for v in sim.views}
    return requests, fusion, kpi_by_pop(sim.slices, fusion, country)


def request_phase(ts: int, cut: int) -> int:
    """The run that reads a request made at ``ts``, when the events before ``cut`` are read
    in the first: those just before the cut in the second run, after their events; those
    just after it in the first, before their events."""
    return 0 if ts < cut - LEAD_MS or cut <= ts < cut + LEAD_MS else 1


@pytest.fixture(scope="module")
def streamed(spark, kafka, sim, truth, tmp_path_factory):
    """The streaming job's config after reading everything in two runs cut at the middle of
    event time; the second ends with the simulator's flush, which closes every view."""
    config = VsaConfig(
        kafka_bootstrap_servers=kafka.bootstrap_servers,
        player_events_topic="fusion-player",
        cdn_logs_topic="fusion-cdn",
        cdn_log_format=FORMAT,
        output_root=str(tmp_path_factory.mktemp("fusion") / "stream"),
    )
    kafka.create_topic(config.player_events_topic, partitions=1)
    kafka.create_topic(config.cdn_logs_topic, partitions=1)
    assert json.loads(sim.records[-1][1])["session_id"] == FLUSH_SESSION
    stamps = [json.loads(v)["ts"] for _, v in sim.records[:-1]]
    cut = (min(stamps) + max(stamps)) // 2
    lines = sorted(truth[0], key=lambda r: r.ts_ms)
    for run in (0, 1):
        player = [
            r for r, ts in zip(sim.records, [*stamps, math.inf], strict=True) if (ts >= cut) == run
        ]
        cdn = [(None, log_line(r, FORMAT)) for r in lines if request_phase(r.ts_ms, cut) == run]
        produce(spark, kafka.bootstrap_servers, config.player_events_topic, player)
        produce(spark, kafka.bootstrap_servers, config.cdn_logs_topic, cdn)
        pipeline.run_until_caught_up(spark, config)
    return config


@pytest.fixture(scope="module")
def batched(spark, sim, truth, tmp_path_factory):
    """``vsa batch`` over the same player events and CDN log."""
    out = tmp_path_factory.mktemp("fusion-batch")
    (out / "events.jsonl").write_text("".join(v + "\n" for _, v in sim.records))
    (out / "cdn").mkdir()
    (out / "cdn" / "fastly.log").write_text("".join(log_line(r, FORMAT) + "\n" for r in truth[0]))
    config = VsaConfig(output_root=str(out / "tables"))
    pipeline.run_batch(spark, config, str(out / "events.jsonl"), str(out / "cdn"), FORMAT)
    return config


def rows(spark, config: VsaConfig, table: str) -> list[dict]:
    try:
        df = read_table(spark, config, table)
    except Exception as error:  # an AnalysisException: the table was never written
        raise AssertionError(NEEDS_JOB_SIDE + f"no table {table}") from error
    return [r.asDict(recursive=True) for r in df.collect()]


def views_by_id(spark, config) -> dict[str, dict]:
    got = {v["view_id"]: v for v in rows(spark, config, "views")}
    got.pop(f"{FLUSH_SESSION}#1", None)
    wanted = {c for c, *_ in VIEW_QUANTILES} | set(COUNTS)
    missing = wanted - set(next(iter(got.values())))
    assert not missing, NEEDS_JOB_SIDE + f"views lacks {sorted(missing)}"
    return got


def pop_rows(spark, config) -> dict[tuple, dict]:
    out = {}
    for r in rows(spark, config, "kpi_by_pop"):
        key = (epoch_ms(r["window_start"]), r["cdn"], r["pop"], r["country"])
        assert key not in out, key
        out[key] = r
    return out


def within(value: float | None, values: list[float], rank: float, slack: float) -> bool:
    """``value`` is a neighbour of the nearest rank of ``rank`` in ``values`` (or between
    them), give or take ``slack``."""
    bounds = rank_neighbours(values, rank)
    if bounds is None or value is None:
        return bounds is None and value is None
    return bounds[0] - slack <= value <= bounds[1] + slack


def slack(column: str) -> float:
    """Throughput sketches hold whole kbit/s (rounded); TTFB is parsed from seconds text as a
    double (1.005 s is 1004.9999999999999 ms), which a sketch of whole ms may cut to 1004."""
    return 0.5 if "throughput" in column else 1.0 if "ttfb" in column else 0.0


def assert_views(got: dict[str, dict], sim, fusion) -> None:
    expected = {v["view_id"] for v in sim.views if v["session_id"] != FLUSH_SESSION}
    assert got.keys() == expected
    for view_id, row in got.items():
        truth = fusion.views[view_id]
        for column in (*COUNTS, "cdn_pops", "cdn_primary_pop"):
            assert row[column] == truth[column], (view_id, column, row[column], truth[column])
        ratio, want = row["cdn_cache_hit_ratio"], truth["cdn_cache_hit_ratio"]
        assert (ratio is None) == (want is None), (view_id, ratio, want)
        assert ratio is None or math.isclose(ratio, want, rel_tol=1e-9), (view_id, ratio, want)
        for column, rank, values in VIEW_QUANTILES:
            ok = within(row[column], truth[values], rank, slack(column))
            assert ok, (view_id, column, row[column], sorted(truth[values]))


def assert_pop_rows(got: dict[tuple, dict], expected: dict[tuple, dict]) -> None:
    assert got.keys() == expected.keys(), sorted(got.keys() ^ expected.keys())[:5]
    for key, row in got.items():
        truth = expected[key]
        for column in POP_EXACT:
            assert row[column] == truth[column], (key, column, row[column], truth[column])
        for column in POP_RATIOS:
            a, b = row[column], truth[column]
            assert (a is None) == (b is None), (key, column, a, b)
            assert a is None or math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-12), (key, column)
        for column, rank, values in POP_QUANTILES:
            ok = within(row[column], truth[values], rank, slack(column))
            assert ok, (key, column, row[column], sorted(truth[values]))


def test_the_traffic_covers_every_attribution_path(sim, truth):
    requests, fusion, pops = truth
    assert sum(v["session_id"] != FLUSH_SESSION for v in sim.views) >= 2000
    outcomes = defaultdict(int)
    reported = {json.loads(v).get("cmcd_sid") for _, v in sim.records} - {None}
    for r, view_id in zip(requests, fusion.attributed, strict=True):
        sid = r.cmcd.get("sid")
        outcomes["no sid" if sid is None else "attributed" if view_id else "not attributed"] += 1
        outcomes["cmcd_sid"] += sid in reported and view_id is not None
    assert min(outcomes.values()) >= 50, outcomes
    assert {key[2] for key in pops} == {"AMS", "CDG", "FRA", "LCY"}


def test_the_job_reads_the_requests_the_truth_attributes(spark, truth, streamed):
    """The truth's input is what the job parsed: every simulated request is a cdn_requests
    row with the same time, sid, POP, status, bytes, times, cache status and starvation."""
    columns = ("cmcd_sid", "cdn", "pop", "status", "bytes")
    # Whole ms read from seconds ("1.005") come out as 1004.9999999999999: rounded here.
    got = Counter(
        (
            epoch_ms(r["timestamp"]),
            *(r[c] for c in columns),
            round(r["ttfb_ms"], 6),
            round(r["download_ms"], 6),
            r["cache_status"],
            bool(r["cmcd_bs"]),
        )
        for r in rows(spark, streamed, "cdn_requests")
    )
    assert got == Counter(tuple(r.attribution_fields(FORMAT).values()) for r in truth[0])


def test_streamed_views_carry_their_cdn_facts(spark, sim, truth, streamed):
    assert_views(views_by_id(spark, streamed), sim, truth[1])


def test_streamed_slices_carry_their_cdn_parts(spark, sim, truth, streamed):
    fusion = truth[1]
    df = read_table(spark, streamed, "view_slices").where(f"view_id != '{FLUSH_SESSION}#1'")
    assert "cdn_ttfb_sketch" in df.columns, NEEDS_JOB_SIDE + "view_slices lacks the CDN parts"
    quantiles = df.selectExpr(
        "*",
        "kll_sketch_get_quantile_bigint(cdn_ttfb_sketch, 0.5) AS ttfb_p50",
        "kll_sketch_get_quantile_bigint(cdn_throughput_sketch, 0.5) AS throughput_p50",
    ).drop("cdn_ttfb_sketch", "cdn_throughput_sketch")
    got = {
        (s["view_id"], epoch_ms(s["minute"])): s for s in (r.asDict() for r in quantiles.collect())
    }
    assert got.keys() == {(s["view_id"], s["minute"]) for s in sim.slices} - {
        (s["view_id"], s["minute"]) for s in sim.slices if s["view_id"] == f"{FLUSH_SESSION}#1"
    }
    assert fusion.slices.keys() <= got.keys()
    empty = {c: 0 for c in SLICE_COUNTS} | {"cdn_primary_pop": None, "cdn_primary_cdn": None}
    for key, row in got.items():
        parts = fusion.slices.get(key, empty)
        for column in (*SLICE_COUNTS, "cdn_primary_pop", "cdn_primary_cdn"):
            assert row[column] == parts[column], (key, column, row[column], parts[column])
        for column, values in (
            ("ttfb_p50", "ttfb_values"),
            ("throughput_p50", "throughput_values"),
        ):
            ok = within(row[column], parts.get(values, []), 0.5, slack(column))
            assert ok, (key, column, row[column], sorted(parts.get(values, [])))


def test_streamed_kpi_by_pop_equals_the_truth(spark, truth, streamed):
    assert_pop_rows(pop_rows(spark, streamed), truth[2])


def test_the_faulty_pop_ranks_worst_by_rebuffer_ratio(spark, streamed):
    by_pop = defaultdict(list)
    for (_, cdn, pop, _), row in pop_rows(spark, streamed).items():
        if row["rebuffer_ratio"] is not None:
            by_pop[(cdn, pop)].append(row["rebuffer_ratio"])
    ranked = sorted(by_pop, key=lambda k: statistics.mean(by_pop[k]), reverse=True)
    assert ranked[0] == (FAULTY.cdn, FAULTY.pop), {k: statistics.mean(v) for k, v in by_pop.items()}


def test_cdn_attributed_pct_per_minute_and_cdn(spark, truth, streamed):
    fusion = truth[1]
    got: dict[tuple[int, str], set[float]] = defaultdict(set)
    for r in rows(spark, streamed, "cdn_qos_minute"):
        assert "cdn_attributed_pct" in r, NEEDS_JOB_SIDE + "cdn_qos_minute lacks cdn_attributed_pct"
        got[(epoch_ms(r["window_start"]), r["cdn"])].add(r["cdn_attributed_pct"])
    assert got.keys() == fusion.attributed_pct.keys()
    for key, values in got.items():
        assert len(values) == 1, (key, values)  # the same on every row of the window and CDN
        assert math.isclose(values.pop(), fusion.attributed_pct[key], rel_tol=1e-9), key


def test_batch_equals_the_truth_and_the_stream(spark, sim, truth, streamed, batched):
    batch_views = views_by_id(spark, batched)
    assert_views(batch_views, sim, truth[1])
    stream_views = views_by_id(spark, streamed)
    columns = (*COUNTS, "cdn_pops", "cdn_primary_pop", "cdn_cache_hit_ratio")
    columns += tuple(c for c, *_ in VIEW_QUANTILES)
    for view_id, row in batch_views.items():
        assert {c: row[c] for c in columns} == {c: stream_views[view_id][c] for c in columns}
    batch_pops = pop_rows(spark, batched)
    assert_pop_rows(batch_pops, truth[2])
    stream_pops = pop_rows(spark, streamed)
    figures = (*POP_EXACT, *POP_RATIOS, *(c for c, *_ in POP_QUANTILES))
    for key, row in batch_pops.items():
        assert {c: row[c] for c in figures} == {c: stream_pops[key][c] for c in figures}, key
