"""A traffic simulator with ground truth.

:func:`simulate` draws a population of viewers and sessions (:mod:`.model`), delivers their
events with duplicates, out-of-order, late and malformed records (:mod:`.faults`), and computes
what a correct pipeline must output from them (:mod:`.truth`, an independent plain-Python
implementation of docs/views.md)::

    sim = simulate(Spec(sessions=500, seed=7, start_ms=1_764_000_000_000))
    sim.records  # [(session_id, json), ...] in delivery order, malformed records included
    sim.views, sim.slices  # the truth: rows of ``views`` and ``view_slices``
    sim.late_event_ids, sim.summary

The same spec gives byte-identical records and truth. The only input from the clock is the
default start (when ``start_ms`` is None), and it is recorded in the summary.
:func:`deliver_sessions` gives the records alone, without the truth; :mod:`vsa.generate` is the
simulator with its faults off.
``python -m vsa.simulate`` writes the files (``--out``) and/or sends to Kafka (``--kafka``).
"""

from __future__ import annotations

import json
import random
import time
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING

from vsa.simulate.faults import Delivery, Faults, decode_objects, deliver
from vsa.simulate.fusion_truth import Fusion, fuse
from vsa.simulate.model import (
    Behaviour,
    FaultyPop,
    Population,
    clock_skew,
    cmcd_sid,
    hour_edge,
    session_events,
)
from vsa.simulate.truth import Rules, classify, compute

if TYPE_CHECKING:
    from vsa.simulate.cdn import Request

__all__ = [
    "Behaviour",
    "Faults",
    "FaultyPop",
    "Rules",
    "Simulation",
    "Spec",
    "default_start",
    "deliver_sessions",
    "receipt_times",
    "simulate",
]

FLUSH_SESSION = "flush"


@dataclass(frozen=True)
class Spec:
    """What to simulate. Times in milliseconds unless the name says otherwise."""

    sessions: int = 200
    viewers: int = 120
    videos: int = 12
    span_s: float = 600.0  # sessions start within this many seconds of start_ms
    start_ms: int | None = None  # None: default_start(now)
    seed: int = 1
    view_timeout_ms: int = 600_000
    max_event_gap_ms: int = 30_000
    watermark_ms: int = 120_000
    hour_edge_share: float = 0.02  # sessions that start just before an hour boundary
    # One last event far ahead (session "flush", a lone view_end) so that the pipeline's
    # watermark passes the closing instant of every other view and every minute of them.
    flush: bool = False
    behaviour: Behaviour = field(default_factory=Behaviour)
    faults: Faults = field(default_factory=Faults)
    # Players whose CMCD session id differs from session_id; they send it as cmcd_sid.
    cmcd_sid_share: float = 0.0
    # One POP that serves slowly and fails (the CDN log, vsa.simulate.cdn), and whose players
    # stall more (the model).
    faulty_pop: FaultyPop | None = None
    # Sessions whose device clock is off (up to model.MAX_CLOCK_SKEW_MS either way).
    clock_skew_share: float = 0.0
    # The clock offset the pipeline corrects (vsa.config: clock_offset_bound_seconds).
    clock_offset_bound_ms: int = 3_600_000

    @property
    def rules(self) -> Rules:
        return Rules(
            self.view_timeout_ms,
            self.max_event_gap_ms,
            self.watermark_ms,
            self.clock_offset_bound_ms,
        )


@dataclass
class Simulation:
    spec: Spec
    start_ms: int
    records: list[tuple[str, str]]
    views: list[dict]
    slices: list[dict]
    late_event_ids: list[str]
    summary: dict

    def final(self, watermark_ms: int | None = None) -> tuple[list[dict], list[dict]]:
        """The views and slices any correct pipeline has emitted once its watermark reaches
        ``watermark_ms`` (default: the final watermark, after reading every record): the views
        closed before it, and the slices of minutes that ended before it. Conservative: a
        pipeline may have emitted more (a view closed by its closing event, for example)."""
        w = self.summary["final_watermark_ms"] if watermark_ms is None else watermark_ms
        if w is None:
            return [], []
        views = [v for v in self.views if v["closed_at"] < w]
        slices = [s for s in self.slices if s["minute"] + 60_000 < w]
        return views, slices

    def events(self) -> list[dict]:
        """Every record that is a JSON object, in delivery order (what players sent, wrong
        beacons included: :func:`vsa.simulate.cdn.cdn_requests` skips those)."""
        return decode_objects(self.records)

    def cdn(self, vendor: str, name: str | None = None) -> tuple[list[Request], Fusion]:
        """The CDN requests of these sessions, served by ``vendor`` (with the spec's faulty
        POP), and the truth of their attribution to :attr:`views` (``name``: the ``cdn``
        column, default the vendor)."""
        from vsa.simulate.cdn import cdn_requests

        requests = cdn_requests(self.events(), vendor, self.spec.seed, self.spec.faulty_pop)
        accepted = classify((value for _, value in self.records), self.spec.watermark_ms).accepted
        fields = [r.attribution_fields(name or vendor) for r in requests]
        return requests, fuse(self.views, accepted, fields)


def default_start(now_s: float) -> int:
    """The start when none is given: two hours before ``now_s``, on a minute (so that the
    events are in the past, but not older than a typical retention)."""
    return int(now_s * 1000) // 60_000 * 60_000 - 2 * 3_600_000


def simulate(spec: Spec) -> Simulation:
    start_from_clock = spec.start_ms is None
    start_ms = default_start(time.time()) if spec.start_ms is None else spec.start_ms
    delivery = deliver_sessions(spec, start_ms)
    classified = classify((value for _, value in delivery.records), spec.watermark_ms)
    if classified.late != delivery.late_event_ids or sorted(classified.duplicates) != sorted(
        delivery.duplicate_event_ids
    ):
        raise AssertionError("the delivery model and the classification disagree")
    truth = compute(classified.accepted, spec.rules)
    return Simulation(
        spec=spec,
        start_ms=start_ms,
        records=delivery.records,
        views=truth.views,
        slices=truth.slices,
        late_event_ids=list(classified.late),
        summary=_summary(spec, start_ms, start_from_clock, delivery, classified, truth),
    )


def deliver_sessions(spec: Spec, start_ms: int) -> Delivery:
    """The records of ``spec``'s sessions from ``start_ms`` in delivery order, with its faults
    (no truth: :func:`simulate` computes it)."""
    rng = random.Random(f"{spec.seed}/sessions")
    population = Population(spec.viewers, spec.videos, spec.seed)
    edge = hour_edge(start_ms)
    events: list[dict] = []
    for n in range(spec.sessions):
        if rng.random() < spec.hour_edge_share:
            begin = edge - rng.randint(5_000, 90_000)
        else:
            begin = start_ms + int(rng.uniform(0, spec.span_s * 1000))
        session_id = f"s-{spec.seed}-{n}"
        events.extend(
            session_events(
                random.Random(f"{spec.seed}/session/{n}"),
                session_id,
                begin,
                population,
                spec.behaviour,
                spec.view_timeout_ms,
                sid=cmcd_sid(spec.seed, session_id, spec.cmcd_sid_share),
                faulty_pop=spec.faulty_pop,
                skew_ms=clock_skew(spec.seed, session_id, spec.clock_skew_share),
            )
        )
    if spec.flush and events:
        last = max(e["received_at"] for e in events)
        flush_ts = last + spec.view_timeout_ms + spec.max_event_gap_ms + spec.watermark_ms + 60_000
        events.append(
            {
                "event_id": f"flush-{spec.seed}",
                "event_type": "view_end",
                "ts": flush_ts,
                "session_id": FLUSH_SESSION,
                "received_at": flush_ts,
            }
        )
    return deliver(events, spec.faults, spec.watermark_ms, random.Random(f"{spec.seed}/net"))


def receipt_times(records: list[tuple[str, str]]) -> list[int]:
    """Each record's receipt time (epoch ms): its ``received_at``; a record without one (a
    malformed record that is not a JSON object) was received with the record before it. What
    a collector in front of Kafka stamps: the records' Kafka timestamps (``produce``)."""
    times: list[int | None] = []
    last = None
    for _, value in records:
        try:
            event = json.loads(value)
        except ValueError:
            event = None
        received = event.get("received_at") if isinstance(event, dict) else None
        if isinstance(received, int) and not isinstance(received, bool):
            last = received
        times.append(last)
    first = next((t for t in times if t is not None), 0)
    return [first if t is None else t for t in times]


def _summary(spec, start_ms, start_from_clock, delivery: Delivery, classified, truth) -> dict:
    views = truth.views
    return {
        "seed": spec.seed,
        "start_ms": start_ms,
        "start_from_clock": start_from_clock,
        "sessions": spec.sessions,
        "rules": asdict(spec.rules),
        "records": len(delivery.records),
        "valid": classified.valid,
        "accepted": len(classified.accepted),
        "duplicates": len(classified.duplicates),
        "out_of_order": len(delivery.out_of_order_event_ids),
        "late": len(classified.late),
        "late_event_ids": list(classified.late),
        "malformed": classified.malformed,
        "max_event_ts": classified.max_ts,
        "final_watermark_ms": classified.final_watermark_ms,
        "sessions_with_ts_ties": _tied_sessions(classified.accepted),
        "views": len(views),
        "view_slices": len(truth.slices),
        "views_by_end_reason": _count(v["end_reason"] for v in views),
        "views_start_missing": sum(v["start_missing"] for v in views),
        "views_started": sum(v["started"] for v in views),
        "views_vsf": sum(v["video_start_failure"] for v in views),
        "views_ebvs": sum(v["exit_before_video_start"] for v in views),
    }


def _tied_sessions(events: list[dict]) -> int:
    """Sessions with two accepted events at the same ts (the tie-break tests)."""
    seen: dict[str, set[int]] = {}
    tied: set[str] = set()
    for e in events:
        stamps = seen.setdefault(e["session_id"], set())
        if e["ts"] in stamps:
            tied.add(e["session_id"])
        stamps.add(e["ts"])
    return len(tied)


def _count(values) -> dict:
    out: dict[str, int] = {}
    for v in values:
        out[v] = out.get(v, 0) + 1
    return dict(sorted(out.items()))
