"""The truth of the fusion: CDN requests attributed to the views of :mod:`vsa.simulate.truth`
(docs/kpis.md, "Attribution"), in plain Python, as independent of the Spark pipeline as that
truth, and what the attributed requests add to views, view minutes and ``kpi_by_pop``.

A request is a dict: ``ts`` (epoch ms), ``sid`` (its CMCD session id or None), ``cdn``,
``pop``, ``status``, ``bytes``, ``ttfb_ms``, ``download_ms`` (ms or None), ``cache_status``
(HIT, MISS, OTHER) and ``bs`` (CMCD buffer starvation).
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass

from vsa.simulate.truth import minute_start


def _rank_index(n: int, p: float) -> int:
    return max(0, math.ceil(p * n - 1e-9) - 1)


def nearest_rank(values: list[float], p: float) -> float | None:
    """The smallest value whose rank is at least ``p`` (the KLL sketch's quantile while it
    holds every value); None when there is none."""
    return sorted(values)[_rank_index(len(values), p)] if values else None


def rank_neighbours(values: list[float], p: float) -> tuple[float, float] | None:
    """The values just below and just above the nearest rank of ``p`` in sorted order (a
    sketch's quantile may be either neighbour); None when there is none."""
    if not values:
        return None
    ordered = sorted(values)
    index = _rank_index(len(ordered), p)
    return ordered[max(0, index - 1)], ordered[min(len(ordered) - 1, index + 1)]


def session_keys(events: Iterable[dict]) -> dict[str, str]:
    """The attribution key of each session → its ``session_id``: the event field
    ``cmcd_sid`` when the session's events carry one, else the ``session_id``."""
    keys: dict[str, str] = {}
    for event in events:
        session_id = str(event["session_id"])
        if event.get("cmcd_sid") is not None:
            keys[session_id] = str(event["cmcd_sid"])
        else:
            keys.setdefault(session_id, session_id)
    return {key: session_id for session_id, key in keys.items()}


def attribute(views: list[dict], events: Iterable[dict], requests: list[dict]) -> list[str | None]:
    """The ``view_id`` each request belongs to, or None: the view of the session whose key is
    the request's ``sid`` that is open at its ``ts``. A view is open from its first event to
    its ``closed_at`` (the closing event, the next video's request, or last event +
    view_timeout); a request at the same ts as an event is applied after it, so one at a
    view's ``closed_at`` is not in it, and one at its ``view_start`` is. A request of whole
    seconds counts at the end of its second (:func:`attribution_ts`)."""
    sessions = session_keys(events)
    spans: dict[str, list[tuple[int, int, str]]] = defaultdict(list)
    for v in views:
        spans[v["session_id"]].append((v["view_start"], v["closed_at"], v["view_id"]))
    out: list[str | None] = []
    for r in requests:
        session_id = sessions.get(r["sid"]) if r["sid"] is not None else None
        at = attribution_ts(r["ts"])
        spans_of = spans.get(session_id or "", ())
        open_then = (v for start, closed_at, v in spans_of if start <= at < closed_at)
        # At the end of a second (whole seconds logged), it may have completed before a close
        # within that second (as the sessionizer: any time ending in 999).
        second = at % 1000 == 999
        closed_within = (
            v for _, closed, v in reversed(spans_of) if second and at - 999 < closed <= at
        )
        out.append(next(open_then, None) or next(closed_within, None))
    return out


def attribution_ts(ts: int) -> int:
    """A request logged with whole seconds only completed somewhere in that second: it is
    attributed at the second's end, so the view that started within that second gets it (and,
    with no view open then, the view that closed within it)."""
    return ts + 999 if ts % 1000 == 0 else ts


def throughput_kbps(r: dict) -> float | None:
    """``bytes * 8 / download_ms`` (kbit/s), as cdn_qos_minute; None without bytes or a
    download time."""
    download = r.get("download_ms")
    positive = download is not None and download > 0
    return r["bytes"] * 8 / download if r["bytes"] is not None and positive else None


def primary_pop(requests: list[dict]) -> str | None:
    """The POP that served the most bytes (tie: the smallest name); None when no POP."""
    served: dict[str, int] = defaultdict(int)
    for r in requests:
        if r["pop"] is not None:
            served[r["pop"]] += r["bytes"] or 0
    return min(served, key=lambda pop: (-served[pop], pop)) if served else None


def cdn_parts(requests: list[dict]) -> dict:
    """What a view's (or a view minute's) requests add up to; the quantile columns keep
    their values (``ttfb_values``, ``throughput_values``) for the caller's bound."""
    hits = sum(r["cache_status"] == "HIT" for r in requests)
    misses = sum(r["cache_status"] == "MISS" for r in requests)
    return {
        "cdn_requests": len(requests),
        "cdn_bytes": sum(r["bytes"] or 0 for r in requests),
        "cdn_errors": sum(r["status"] == 0 or r["status"] >= 400 for r in requests),
        "cdn_cache_hits": hits,
        "cdn_cache_misses": misses,
        "cdn_starvation_requests": sum(bool(r["bs"]) for r in requests),
        "ttfb_values": [r["ttfb_ms"] for r in requests if r["ttfb_ms"] is not None],
        "throughput_values": [t for t in (throughput_kbps(r) for r in requests) if t is not None],
        "cdn_primary_pop": primary_pop(requests),
    }


def view_cdn_columns(requests: list[dict]) -> dict:
    """The new ``views`` columns of one view's attributed requests (docs/views.md)."""
    parts = cdn_parts(requests)
    hits, misses = parts["cdn_cache_hits"], parts["cdn_cache_misses"]
    return {
        "cdn_requests": parts["cdn_requests"],
        "cdn_bytes": parts["cdn_bytes"],
        "cdn_errors": parts["cdn_errors"],
        "cdn_cache_hit_ratio": hits / (hits + misses) if hits + misses else None,
        "cdn_ttfb_p50_ms": nearest_rank(parts["ttfb_values"], 0.5),
        "cdn_ttfb_p95_ms": nearest_rank(parts["ttfb_values"], 0.95),
        "cdn_throughput_p50_kbps": nearest_rank(parts["throughput_values"], 0.5),
        "cdn_starvation_requests": parts["cdn_starvation_requests"],
        "cdn_pops": sorted({r["pop"] for r in requests if r["pop"] is not None}),
        "cdn_primary_pop": parts["cdn_primary_pop"],
        "ttfb_values": parts["ttfb_values"],
        "throughput_values": parts["throughput_values"],
    }


@dataclass
class Fusion:
    """The CDN side of the truth: each request's view, the new columns of every view (keyed
    by ``view_id``), the new parts of every view minute with attributed requests (keyed by
    ``(view_id, minute)``), and ``cdn_attributed_pct`` by ``(minute, cdn)``."""

    attributed: list[str | None]
    views: dict[str, dict]
    slices: dict[tuple[str, int], dict]
    attributed_pct: dict[tuple[int, str], float]


def fuse(views: list[dict], events: Iterable[dict], requests: list[dict]) -> Fusion:
    """Attributes ``requests`` to ``views`` (computed from the accepted ``events``) and sums
    them per view and per view minute."""
    attributed = attribute(views, events, requests)
    by_view: dict[str, list[dict]] = defaultdict(list)
    by_minute: dict[tuple[str, int], list[dict]] = defaultdict(list)
    totals: dict[tuple[int, str], list[int]] = defaultdict(lambda: [0, 0])
    for r, view_id in zip(requests, attributed, strict=True):
        total = totals[(minute_start(r["ts"]), r["cdn"])]
        total[1] += 1
        if view_id is not None:
            total[0] += 1
            by_view[view_id].append(r)
            by_minute[(view_id, minute_start(r["ts"]))].append(r)
    slices = {}
    for key, rs in by_minute.items():
        parts = cdn_parts(rs)
        primary = [r for r in rs if r["pop"] == parts["cdn_primary_pop"]]
        slices[key] = {**parts, "cdn_primary_cdn": primary[0]["cdn"] if primary else None}
    return Fusion(
        attributed,
        {v["view_id"]: view_cdn_columns(by_view.get(v["view_id"], [])) for v in views},
        slices,
        {key: 100.0 * n / all_ for key, (n, all_) in totals.items()},
    )


def kpi_by_pop(
    slices: list[dict], fusion: Fusion, country_of_view: dict[str, str | None]
) -> dict[tuple[int, str, str, str], dict]:
    """``kpi_by_pop`` minute rows keyed by (minute, cdn, pop, country): the view slices whose
    minute has a primary POP, each counted under it, with the kpi_minute formulas on the
    player side and the slices' CDN parts on the other. Quantile columns are nearest ranks;
    their values are kept (``*_values``) for the caller's bound."""
    groups: dict[tuple[int, str, str, str], list[tuple[dict, dict]]] = defaultdict(list)
    for s in slices:
        cdn = fusion.slices.get((s["view_id"], s["minute"]))
        if cdn is None or cdn["cdn_primary_pop"] is None:
            continue
        country = country_of_view.get(s["view_id"]) or "unknown"
        groups[(s["minute"], cdn["cdn_primary_cdn"], cdn["cdn_primary_pop"], country)].append(
            (s, cdn)
        )
    out = {}
    for key, rows in groups.items():
        player = [s for s, _ in rows]
        parts = [c for _, c in rows]
        startups = [
            s["startup_time_ms"]
            for s in player
            if s["first_frame"] and s["startup_time_ms"] is not None
        ]
        ended = [s for s in player if s["ended"]]
        watch = sum(s["watch_time_ms"] for s in player)
        requests = sum(c["cdn_requests"] for c in parts)
        hits = sum(c["cdn_cache_hits"] for c in parts)
        misses = sum(c["cdn_cache_misses"] for c in parts)
        ttfb = [t for c in parts for t in c["ttfb_values"]]
        throughput = [t for c in parts for t in c["throughput_values"]]
        out[key] = {
            "views": sum(s["opened"] for s in player),
            "plays": sum(s["first_frame"] for s in player),
            "rebuffer_ratio": sum(s["stall_time_ms"] for s in player) / watch if watch else None,
            "startup_time_p50_ms": nearest_rank(startups, 0.5),
            "startup_time_p95_ms": nearest_rank(startups, 0.95),
            "vsf_pct": 100 * sum(s["vsf"] for s in ended) / len(ended) if ended else None,
            "playback_failures": sum(s["failed"] for s in player),
            "requests": requests,
            "error_pct": 100.0 * sum(c["cdn_errors"] for c in parts) / requests,
            "cache_hit_ratio": hits / (hits + misses) if hits + misses else None,
            "ttfb_p95_ms": nearest_rank(ttfb, 0.95),
            "throughput_p50_kbps": nearest_rank(throughput, 0.5),
            "startup_values": startups,
            "ttfb_values": ttfb,
            "throughput_values": throughput,
        }
    return out
