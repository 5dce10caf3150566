"""The truth of player ↔ CDN fusion (issue 15; plain Python, no Spark): attribution of CDN
requests to views, the new ``views`` and ``view_slices`` columns, ``kpi_by_pop`` and
``cdn_attributed_pct``, on hand-made cases worked out by hand; then the simulator's faulty POP
and CMCD session ids over a generated data set."""

from __future__ import annotations

import json
import statistics
from collections import defaultdict
from dataclasses import replace

import pytest

from test_simulate import MIN, T0, S, events
from vsa import generate
from vsa.cli import parser as cli_parser
from vsa.generate import NO_FAULTS
from vsa.simulate import FaultyPop, Spec, simulate
from vsa.simulate.__main__ import parser, spec_from
from vsa.simulate.fusion_truth import (
    fuse,
    kpi_by_pop,
    nearest_rank,
    rank_neighbours,
    view_cdn_columns,
)
from vsa.simulate.model import POPS, serving_pop
from vsa.simulate.truth import Rules, compute


def request(at: float, sid: str | None = "s", **fields) -> dict:
    """A CDN request ``at`` seconds after T0 (defaults: a 200 MISS from POP "P1")."""
    return {
        "ts": T0 + round(at * S),
        "sid": sid,
        "cdn": "fastly",
        "pop": "P1",
        "status": 200,
        "bytes": 1000,
        "ttfb_ms": 10,
        "download_ms": 100,
        "cache_status": "MISS",
        "bs": False,
        **fields,
    }


def attributed(evs, requests, **rules):
    truth = compute(evs, Rules(**rules))
    return fuse(truth.views, evs, requests).attributed


def test_a_request_belongs_to_the_view_open_at_its_time():
    evs = [
        *events(("playback_request", 1), ("playback_start", 2), ("view_end", 5)),
        *events(("playback_request", 8), ("playback_start", 9), ("playback_finish", 12)),
    ]
    for n, e in enumerate(evs):
        e["event_id"] = f"e{n}"
    got = attributed(
        evs,
        [
            request(1),  # at the opening request: applied after it, in the view
            request(4.999),
            request(5),  # at the closing event: applied after it, the view is closed
            request(6),  # between views
            request(8),
            request(11),
            request(12.5),  # after the last view closed
            request(0.5),  # before the first view
            request(3, sid=None),  # no sid
            request(3, sid="nobody"),  # a session nobody knows
        ],
    )
    assert got == ["s#1", "s#1", None, None, "s#2", "s#2", None, None, None, None]


def test_a_new_video_hands_the_instant_of_its_request_to_the_new_view():
    evs = [
        *events(("playback_request", 1), ("playback_start", 2), ("heartbeat", 12)),
        *events(("playback_request", 20), ("playback_start", 21), video="v2"),
    ]
    for n, e in enumerate(evs):
        e["event_id"] = f"e{n}"
    assert attributed(evs, [request(19.999), request(20)]) == ["s#1", "s#2"]


def test_a_view_closed_by_timeout_stays_open_until_last_event_plus_timeout():
    evs = events(("playback_request", 1), ("playback_start", 2), ("heartbeat", 10))
    got = attributed(evs, [request(69.999), request(70)], view_timeout_ms=60_000)
    assert got == ["s#1", None]


def test_a_player_that_reports_cmcd_sid_is_found_by_it_and_only_by_it():
    evs = events(
        ("playback_request", 1, {"cmcd_sid": "abc"}),
        ("playback_start", 2, {"cmcd_sid": "abc"}),
        ("view_end", 9, {"cmcd_sid": "abc"}),
    )
    assert attributed(evs, [request(3, sid="abc"), request(3, sid="s")]) == ["s#1", None]


def test_view_columns():
    requests = [
        request(1, pop="B", bytes=500, ttfb_ms=30, cache_status="HIT", bs=True),
        request(2, pop="A", bytes=300, ttfb_ms=10, status=206),
        request(3, pop="A", bytes=200, ttfb_ms=None, status=503, download_ms=0),
        request(4, pop=None, bytes=None, ttfb_ms=20, status=0, cache_status="OTHER"),
        request(5, pop="C", bytes=0, ttfb_ms=40, status=404, download_ms=None),
    ]
    got = view_cdn_columns(requests)
    assert {k: v for k, v in got.items() if not k.endswith("_values")} == {
        "cdn_requests": 5,
        "cdn_bytes": 1000,
        "cdn_errors": 3,  # 503, 0 and 404
        "cdn_cache_hit_ratio": 1 / 4,  # OTHER counts in neither
        "cdn_ttfb_p50_ms": 20,  # nearest rank of [10, 20, 30, 40]
        "cdn_ttfb_p95_ms": 40,
        "cdn_throughput_p50_kbps": 24.0,  # 300 B and 500 B in 100 ms; no bytes, no time: none
        "cdn_starvation_requests": 1,
        "cdn_pops": ["A", "B", "C"],
        "cdn_primary_pop": "A",  # 500 bytes each for A and B: the smaller name
    }
    empty = view_cdn_columns([])
    assert empty["cdn_requests"] == 0 and empty["cdn_pops"] == []
    assert empty["cdn_cache_hit_ratio"] is empty["cdn_ttfb_p50_ms"] is None
    assert empty["cdn_primary_pop"] is None


def test_nearest_rank_and_its_neighbours():
    values = [5, 1, 4, 2, 3]
    assert nearest_rank(values, 0.5) == 3
    assert nearest_rank(values, 0.95) == 5
    assert nearest_rank(values, 0.2) == 1  # rank 1 of 5 is exactly 0.2
    assert rank_neighbours(values, 0.5) == (2, 4)
    assert rank_neighbours(values, 0.95) == (4, 5)
    assert nearest_rank([], 0.5) is None and rank_neighbours([], 0.5) is None


def test_slices_kpi_by_pop_and_attributed_pct():
    # View 1 plays across a minute edge: its first minute's bytes come from P1, its second
    # minute's from P2. View 2 stays in P1; view 3 has no attributed request at all.
    one = events(
        ("playback_request", 50),
        ("playback_start", 51),
        ("playback_stall", 55),
        ("playback_start", 57),
        ("heartbeat", 67),
        ("view_end", 75),
        session="a",
    )
    two = events(("playback_request", 10), ("playback_start", 12), ("view_end", 30), session="b")
    three = events(("playback_request", 10), ("playback_start", 11), ("view_end", 20), session="c")
    evs = [*one, *two, *three]
    for n, e in enumerate(evs):
        e["event_id"] = f"e{n}"
    requests = [
        request(50.5, sid="a", pop="P1", bytes=900),
        request(56, sid="a", pop="P2", bytes=100, status=500, bs=True),
        request(61, sid="a", pop="P2", bytes=800, cache_status="HIT"),
        request(67.5, sid="a", pop="P1", bytes=100),
        request(11, sid="b", pop="P1", bytes=400, ttfb_ms=70),
        request(40, sid="b", pop="P1"),  # after view b closed
        request(15, sid=None, pop="P1"),  # no CMCD: counted, never attributed
    ]
    truth = compute(evs, Rules())
    fusion = fuse(truth.views, evs, requests)
    assert fusion.attributed == ["a#1", "a#1", "a#1", "a#1", "b#1", None, None]
    first, second = (fusion.slices[("a#1", T0 + m * MIN)] for m in (0, 1))
    assert (first["cdn_requests"], first["cdn_bytes"], first["cdn_errors"]) == (2, 1000, 1)
    assert (
        first["cdn_primary_pop"],
        first["cdn_primary_cdn"],
        first["cdn_starvation_requests"],
    ) == (
        "P1",
        "fastly",
        1,
    )
    assert (second["cdn_cache_hits"], second["cdn_cache_misses"]) == (1, 1)
    assert second["cdn_primary_pop"] == "P2"
    assert fusion.views["a#1"]["cdn_pops"] == ["P1", "P2"]
    assert fusion.views["a#1"]["cdn_primary_pop"] == "P1"  # 1000 bytes against 900
    assert fusion.views["c#1"]["cdn_requests"] == 0
    assert fusion.attributed_pct == {(T0, "fastly"): 100 * 3 / 5, (T0 + MIN, "fastly"): 100.0}

    countries = {"a#1": "GB", "b#1": None, "c#1": "GB"}
    rows = kpi_by_pop(truth.slices, fusion, countries)
    assert set(rows) == {
        (T0, "fastly", "P1", "GB"),
        (T0 + MIN, "fastly", "P2", "GB"),
        (T0, "fastly", "P1", "unknown"),
    }
    a0 = rows[(T0, "fastly", "P1", "GB")]
    # view a in its first minute: opened at 50 s, stalled 55-57 s, watched 50-60 s.
    assert (a0["views"], a0["plays"], a0["requests"]) == (1, 1, 2)
    assert a0["rebuffer_ratio"] == pytest.approx(2 / 10)
    assert a0["startup_time_p50_ms"] == 1000 and a0["error_pct"] == 50.0
    assert a0["cache_hit_ratio"] == 0.0
    a1 = rows[(T0 + MIN, "fastly", "P2", "GB")]
    assert (a1["views"], a1["plays"], a1["playback_failures"], a1["vsf_pct"]) == (0, 0, 0, 0.0)
    assert a1["rebuffer_ratio"] == 0.0 and a1["startup_time_p50_ms"] is None
    b0 = rows[(T0, "fastly", "P1", "unknown")]
    assert (b0["views"], b0["ttfb_p95_ms"], b0["throughput_p50_kbps"]) == (1, 70, 32.0)


# --- the simulator ------------------------------------------------------------------------


@pytest.fixture(scope="module")
def fused():
    sim = simulate(
        Spec(
            sessions=700,
            seed=3,
            start_ms=T0,
            faults=NO_FAULTS,
            cmcd_sid_share=0.1,
            faulty_pop=FaultyPop(),
        )
    )
    requests, fusion = sim.cdn("fastly")
    return sim, requests, fusion


def test_the_faulty_pop_serves_slowly_with_errors_and_its_viewers_stall_most(fused):
    sim, requests, fusion = fused
    by_pop = defaultdict(list)
    for r in requests:
        by_pop[r.pop].append(r)
    assert set(by_pop) == set(POPS["fastly"])
    ttfb = {pop: statistics.median(r.ttfb_ms for r in rs) for pop, rs in by_pop.items()}
    errors = {pop: sum(r.status >= 500 for r in rs) / len(rs) for pop, rs in by_pop.items()}
    assert max(ttfb, key=ttfb.get) == max(errors, key=errors.get) == "FRA"
    # The players stall more: the truth's rebuffer ratio ranks the POP worst, by minute.
    minutes = defaultdict(list)
    for (_, _, pop, _), row in kpi_by_pop(sim.slices, fusion, {}).items():
        if row["rebuffer_ratio"] is not None:
            minutes[pop].append(row["rebuffer_ratio"])
    worst = max(minutes, key=lambda pop: statistics.mean(minutes[pop]))
    assert worst == "FRA" and min(len(v) for v in minutes.values()) > 10


def test_requests_fall_in_the_views_of_their_events_except_the_deliberate_few(fused):
    sim, requests, fusion = fused
    last_event = defaultdict(int)
    sid_of = {}
    for e in sim.events():
        last_event[e["session_id"]] = max(last_event[e["session_id"]], e["ts"])
        sid_of[e.get("cmcd_sid") or e["session_id"]] = e["session_id"]
    reasons = defaultdict(int)
    for r, view_id in zip(requests, fusion.attributed, strict=True):
        sid = r.cmcd.get("sid")
        if sid is None:
            reasons["no sid"] += 1
            assert view_id is None
        elif sid not in sid_of:
            reasons["unknown sid"] += 1
            assert view_id is None
        elif view_id is None:
            reasons["after the last view"] += 1
            assert r.ts_ms > last_event[sid_of[sid]]
        else:
            reasons["attributed"] += 1
            assert view_id.rsplit("#", 1)[0] == sid_of[sid]
    assert min(reasons.values()) > 0 and len(reasons) == 4, reasons
    reported = {e["session_id"] for e in sim.events() if e.get("cmcd_sid")}
    assert 0.05 < len(reported) / sim.spec.sessions < 0.15


def test_the_flags():
    args = parser().parse_args(
        ["--out", "x", "--faulty-pop", "fastly/FRA", "--cmcd-sid-share", "0.2"]
    )
    spec = spec_from(args)
    assert spec.faulty_pop == FaultyPop("fastly", "FRA") and spec.cmcd_sid_share == 0.2
    with pytest.raises(SystemExit):
        parser().parse_args(["--out", "x", "--faulty-pop", "fastly/NOWHERE"])
    assert serving_pop(1, "s-1-0", "fastly") in POPS["fastly"]
    args = cli_parser().parse_args(
        ["generate", "--faulty-pop", "fastly/FRA", "--cmcd-sid-share", "0.5", "--sessions", "40"]
    )
    traffic = replace(generate.traffic_from(args), start_ms=T0)
    assert traffic.faulty_pop == FaultyPop("fastly", "FRA") and traffic.cmcd_sid_share == 0.5
    sids = defaultdict(set)
    for _, value in generate.generate(traffic):
        event = json.loads(value)
        sids[event["session_id"]].add(event.get("cmcd_sid"))
    # A player sends its own sid on every event, or never.
    assert all(len(s) == 1 for s in sids.values())
    assert 10 < sum(None not in s for s in sids.values()) < 30
