"""KPI tables against an independent plain-Python aggregation of the same view slices."""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable
from datetime import timedelta
from itertools import pairwise

import pytest

from vsa.config import VsaConfig
from vsa.kpis import SCORES, STARTUP_BUCKETS_MS, grouped_kpis, kpis_of, rollup
from vsa.sinks import read_table
from vsa.tables import KPI_TABLES

EXACT = (
    "views",
    "plays",
    "watch_time_ms",
    "playing_time_ms",
    "stall_time_ms",
    "stall_count",
    "playback_failures",
    "ended_views",
    "concurrent_viewers",
    "bitrate_downshifts",
    "ad_time_ms",
    "ad_breaks",
    "ad_failures",
)
# The figures of a window that are ratios of its parts (compared within 1e-9).
RATIOS = (
    "startup_time_mean_ms",
    "rebuffer_ratio",
    "vsf_pct",
    "ebvs_pct",
    "avg_view_duration_ms",
    "avg_bitrate_kbps",
    "upscale_pct",
    "downscale_pct",
    "ad_minutes",
    "ad_failure_pct",
)
# A window's mean scores: each view's score is summed as a decimal of 6 places (exact, so
# batch equals stream), so they are within 1e-6 of the plain-Python mean.
SCORE_TOLERANCE = 1e-6


def nearest_rank(values: list[int], p: float) -> int:
    ordered = sorted(values)
    return ordered[max(0, math.ceil(p * len(ordered)) - 1)]


def truth_kpis(slices: list[dict], dimensions: tuple[str, ...], window_s: int = 60) -> dict:
    """kpis.md's formulas, written out over slice rows, with no Spark."""
    groups: dict[tuple, list[dict]] = defaultdict(list)
    for s in slices:
        start = s["minute"] - timedelta(seconds=s["minute"].timestamp() % window_s)
        key = (start, *[str(s[d]) if s.get(d) is not None else "unknown" for d in dimensions])
        groups[key].append(s)
    out = {}
    for key, rows in groups.items():
        startups = [
            r["startup_time_ms"]
            for r in rows
            if r["first_frame"] and r["startup_time_ms"] is not None
        ]
        ended = [r for r in rows if r["ended"]]
        watch = sum(r["watch_time_ms"] for r in rows)
        bounds = (0, *STARTUP_BUCKETS_MS, math.inf)
        hist = [sum(lo <= v < hi for v in startups) for lo, hi in pairwise(bounds)]
        hist.append(sum(1 for r in rows if r["first_frame"] and r["startup_time_ms"] is None))
        out[key] = {
            "views": sum(r["opened"] for r in rows),
            "plays": sum(r["first_frame"] for r in rows),
            "unique_viewers": len({r["viewer_id"] for r in rows if r["viewer_id"]}),
            "watch_time_ms": watch,
            "playing_time_ms": sum(r["playing_time_ms"] for r in rows),
            "stall_time_ms": sum(r["stall_time_ms"] for r in rows),
            "stall_count": sum(r["stall_count"] for r in rows),
            "playback_failures": sum(r["failed"] for r in rows),
            "ended_views": len(ended),
            "concurrent_viewers": sum(r["active"] for r in rows) / (window_s / 60),
            "startup_time_mean_ms": sum(startups) / len(startups) if startups else None,
            "startup_time_p50_ms": nearest_rank(startups, 0.5) if startups else None,
            "startup_time_p95_ms": nearest_rank(startups, 0.95) if startups else None,
            "startup_hist": hist,
            "rebuffer_ratio": sum(r["stall_time_ms"] for r in rows) / watch if watch else None,
            "vsf_pct": 100 * sum(r["vsf"] for r in ended) / len(ended) if ended else None,
            "ebvs_pct": 100 * sum(r["ebvs"] for r in ended) / len(ended) if ended else None,
            "avg_view_duration_ms": (
                sum(r["closed_view"]["view"]["watch_time_ms"] for r in ended) / len(ended)
                if ended
                else None
            ),
            **{score: mean(r["closed_view"]["view"][score] for r in ended) for score in SCORES},
            "bitrate_downshifts": sum(r["bitrate_downshifts"] for r in rows),
            "ad_time_ms": sum(r["ad_time_ms"] for r in rows),
            "ad_breaks": sum(r["ad_breaks"] for r in rows),
            "ad_failures": sum(r["ad_failures"] for r in rows),
            "ad_minutes": sum(r["ad_time_ms"] for r in rows) / 60_000,
            "ad_failure_pct": 100 * ratio(rows, "ad_failures", "ad_breaks")
            if sum(r["ad_breaks"] for r in rows)
            else None,
            "avg_bitrate_kbps": ratio(rows, "bitrate_kbps_ms", "bitrate_ms"),
            "upscale_pct": pct_of_bp(rows, "upscale_bp_ms"),
            "downscale_pct": pct_of_bp(rows, "downscale_bp_ms"),
        }
    return out


def ratio(rows: list[dict], part: str, whole: str) -> float | None:
    """The sum of ``part`` over the sum of ``whole`` in ``rows``; None when that is 0."""
    total = sum(r[whole] for r in rows)
    return sum(r[part] for r in rows) / total if total else None


def pct_of_bp(rows: list[dict], part: str) -> float | None:
    """The mean in % of the basis points · ms of ``part`` over ``scaled_ms`` in ``rows``."""
    share = ratio(rows, part, "scaled_ms")
    return None if share is None else share / 100


def mean(values: Iterable[float | None]) -> float | None:
    """The mean of the values that are not None; None when there is none."""
    known = [v for v in values if v is not None]
    return sum(known) / len(known) if known else None


def near(a: float | None, b: float | None, tolerance: float = SCORE_TOLERANCE) -> bool:
    if a is None or b is None:
        return a is b
    return abs(a - b) <= tolerance


def close(a: float | None, b: float | None, rel: float) -> bool:
    if a is None or b is None:
        return a is b
    return abs(a - b) <= rel * max(abs(a), abs(b), 1e-9)


@pytest.fixture(scope="module")
def slices(spark, streamed):
    return [
        r.asDict(recursive=True)
        for r in read_table(spark, streamed.config, "view_slices").collect()
    ]


@pytest.mark.parametrize("table", list(KPI_TABLES))
def test_kpi_table_equals_plain_python(spark, streamed, slices, table):
    dimensions = KPI_TABLES[table]
    truth = truth_kpis(slices, dimensions)
    rows = read_table(spark, streamed.config, table).collect()
    assert rows, table
    last_window = max(k[0] for k in truth)
    emitted = set()
    for row in rows:
        key = (row.window_start, *[row[d] for d in dimensions])
        emitted.add(key)
        expected = truth[key]
        for column in EXACT:
            assert row[column] == expected[column], (table, key, column)
        assert row.startup_hist == expected["startup_hist"], (table, key)
        for column in RATIOS:
            assert close(row[column], expected[column], 1e-9), (table, key, column)
        for column in SCORES:
            assert near(row[column], expected[column]), (table, key, column)
        for column in ("startup_time_p50_ms", "startup_time_p95_ms"):
            assert close(row[column], expected[column], 0.01), (table, key, column)
        # HLL at lgK 12 counts a few dozen viewers exactly or within its bound (3 RSE).
        assert close(row.unique_viewers, expected["unique_viewers"], 3 * 1.04 / 64)
    # Windows stay open until the watermark passes them; only the newest may be pending.
    pending = {k for k in truth if k not in emitted}
    assert all(k[0] >= last_window - timedelta(minutes=2) for k in pending), sorted(pending)[:3]


def test_no_view_vanishes_from_a_dimension(spark, streamed):
    totals = {
        table: read_table(spark, streamed.config, table).groupBy().sum("views", "plays").first()
        for table in KPI_TABLES
    }
    assert len({tuple(t) for t in totals.values()}) == 1, totals


def test_hour_rollup_equals_direct_hour(spark, streamed, tmp_path):
    config = VsaConfig(output_root=streamed.config.output_root)
    minutes = read_table(spark, config, "kpi_minute").drop("date", "hour")
    rolled = {r.window_start: r for r in rollup(minutes, "hour", ()).collect()}
    slices = read_table(spark, config, "view_slices")
    emitted_minutes = {r.window_start for r in minutes.select("window_start").collect()}
    slices = slices.where(slices.minute.isin(list(emitted_minutes)))
    hourly = VsaConfig(output_root=str(tmp_path), window_seconds=3600)
    hours = kpis_of(grouped_kpis(slices, hourly, {"kpis": ()}), "kpis", ())
    direct = {r.window_start: r for r in hours.collect()}
    assert rolled.keys() == direct.keys()
    for hour, row in rolled.items():
        for column in (
            *EXACT,
            "unique_viewers",
            "startup_hist",
            "startup_time_p50_ms",
            "startup_time_p95_ms",
            "rebuffer_ratio",
            "avg_view_duration_ms",
        ):
            assert row[column] == pytest.approx(direct[hour][column]), (hour, column)
