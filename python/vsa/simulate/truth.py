"""The ground truth: docs/views.md applied in plain Python to what a correct pipeline can know.

This module is deliberately independent of the Spark pipeline (no Spark, no import of any
other vsa module), so that the sessionizer and this truth cross-check each other. The CDN
side (requests attributed to these views) is :mod:`vsa.simulate.fusion_truth`.

Two steps:

- :func:`classify` replays the records in delivery order the way the pipeline sees them:
  malformed records are dropped, an event whose ``ts`` is below the watermark (as of the
  previous delivery) is late, a later copy of an ``event_id`` is a duplicate; what remains is
  the set of accepted events.
- :func:`compute` applies the view rules to the accepted events: one row per view
  (the columns of the ``views`` table) and one row per view and minute (``view_slices``).

All times are epoch milliseconds.
"""

from __future__ import annotations

import json
import math
import re
from collections import defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime

MINUTE_MS = 60_000

# The tie-break order of docs/views.md for events of a session with the same ts.
TIE_ORDER = (
    "view_end",
    "playback_finish",
    "playback_fail",
    "playback_request",
    "ad_break_start",
    "ad_break_end",
    "seek_start",
    "seek_end",
    "playback_pause",
    "playback_stall",
    "rendition_update",
    "playback_start",
    "heartbeat",
)
_RANK = {name: i for i, name in enumerate(TIE_ORDER)}
EVENT_TYPES = frozenset(TIE_ORDER)
REQUIRED_FIELDS = ("event_id", "event_type", "ts", "session_id")
INTEGER_FIELDS = (
    "bitrate_kbps",
    "video_width",
    "video_height",
    "player_width",
    "player_height",
    "playhead_ms",
)
_EPOCH_MS = re.compile(r"^-?[0-9]{1,15}(\.[0-9]+)?$")
_ISO = re.compile(
    r"^(\d{4})-(\d{2})-(\d{2})[T ](\d{2}):(\d{2})(?::(\d{2})(?:\.(\d+))?)?"
    r"(Z|([+-])(\d{2})(?::?(\d{2}))?)$"
)
CLOSING = {"playback_finish": "finish", "playback_fail": "fail", "view_end": "close"}

# state -> (counts as watch, as playing, as stall)
STATES = {
    "startup": (True, False, False),
    "waiting": (True, False, False),
    "playing": (True, True, False),
    "stalled": (True, False, True),
    "seeking": (True, False, False),
    "paused": (False, False, False),
    # In an ad break: ad time, none of the content's (docs/views.md, "Ads").
    "ad": (False, False, False),
}
# The state a start_missing view opens in, by its first event's type (default "playing").
_LOST_START_STATE = {
    "playback_pause": "paused",
    "playback_stall": "stalled",
    "seek_start": "seeking",
}


@dataclass(frozen=True)
class Rules:
    """The knobs of docs/views.md, in milliseconds."""

    view_timeout_ms: int = 600_000
    max_event_gap_ms: int = 30_000
    watermark_ms: int = 120_000
    clock_offset_bound_ms: int = 3_600_000


# ---------------------------------------------------------------------------------------------
# What the pipeline can know


@dataclass
class Classified:
    """The records of a delivery, as the pipeline classifies them."""

    accepted: list[dict] = field(default_factory=list)
    duplicates: list[str] = field(default_factory=list)  # event_ids of dropped copies
    late: list[str] = field(default_factory=list)  # event_ids of late events
    malformed: int = 0
    valid: int = 0  # valid records, including duplicates and late ones
    max_ts: int | None = None  # the largest ts of the accepted events
    max_watermark_time: int | None = None  # the largest watermark time of the valid events
    watermark_ms: int = Rules.watermark_ms

    @property
    def final_watermark_ms(self) -> int | None:
        """The pipeline's watermark once it has read everything."""
        if self.max_watermark_time is None:
            return None
        return self.max_watermark_time - self.watermark_ms


def parse(raw: str) -> dict | None:
    """The event of a record, ``ts`` as epoch ms, or None when the pipeline rejects it.

    Mirrors the player-event contract: a JSON object with ``event_id``, ``event_type`` (a known
    one), ``ts`` (epoch ms) and ``session_id``; integer fields, when present, whole numbers.
    ``ts`` may be epoch ms or ISO-8601 text with an offset (:func:`epoch_ms`).
    """
    try:
        event = json.loads(raw)
    except ValueError:
        return None
    if not isinstance(event, dict):
        return None
    if any(event.get(name) is None for name in REQUIRED_FIELDS):
        return None
    ts = None if isinstance(event["ts"], bool) else epoch_ms(str(event["ts"]))
    if ts is None:
        return None
    for name in INTEGER_FIELDS:
        value = event.get(name)
        if value is None:
            continue
        try:
            number = float(value)
        except (TypeError, ValueError):
            return None
        if isinstance(value, bool) or number != int(number):
            return None
    if event["event_type"] not in EVENT_TYPES:
        return None
    # The collector's receipt stamp; one that is not a time is no stamp.
    received = event.get("received_at")
    received_ms = None
    if received is not None and not isinstance(received, bool):
        received_ms = epoch_ms(str(received))
    return {**event, "ts": ts, "received_at": received_ms}


def epoch_ms(text: str) -> int | None:
    """Epoch ms of a ``ts``: epoch ms (a fraction is cut off) or ISO-8601 with an offset
    (sub-millisecond digits are cut off); None when it is neither."""
    text = text.strip()
    if _EPOCH_MS.match(text):
        return int(float(text))
    m = _ISO.match(text)
    if m is None:
        return None
    year, month, day, hour, minute, second, fraction, zone, sign, off_h, off_m = m.groups()
    try:
        moment = datetime(
            int(year),
            int(month),
            int(day),
            int(hour),
            int(minute),
            int(second or 0),
            tzinfo=UTC,
        )
    except ValueError:
        return None
    ms = int(moment.timestamp()) * 1000 + int((fraction or "0")[:3].ljust(3, "0"))
    if zone != "Z":
        offset = int(off_h) * 60 + int(off_m or 0)
        ms -= (offset if sign == "+" else -offset) * 60_000
    return ms


def classify(
    values: Iterable[str],
    watermark_ms: int = Rules.watermark_ms,
    batch_size: int | None = None,
    offset_bound_ms: int = Rules.clock_offset_bound_ms,
) -> Classified:
    """Replays record values in delivery order: the delivery model of the pipeline.

    Device clocks (docs/views.md, "Device clocks"): a record's receipt time is its
    ``received_at``. Its watermark time is the receipt time when that is within
    ``offset_bound_ms`` of its ``ts``, else its ``ts``. A session's clock offset is the least
    ``received_at - ts`` (within the bound) of its records so far, 0 when there is none; an
    event's time is ``ts`` + that offset, and each accepted event keeps the offset it arrived
    with as ``clock_offset`` (:func:`compute` places a view with its first event's).

    Without ``batch_size``, the watermark after a delivery is the largest watermark time of
    the valid events delivered so far minus ``watermark_ms``; an event whose time is below the
    watermark as of the previous delivery is late.

    With ``batch_size``, lateness follows the pipeline's micro-batches over a one-partition
    topic read ``batch_size`` records (offsets, malformed ones included) at a time: in batch k
    a session's offset takes in its records of batch k first, and an event is late when its
    time is at or below the watermark of batch k, the largest watermark time of batches
    0..k-1 minus ``watermark_ms`` (the sessionizer applies what the watermark has passed, so
    an event arriving behind it would be applied out of order).

    A copy of an already accepted ``event_id`` is a duplicate.
    """
    out = Classified(watermark_ms=watermark_ms)
    seen: set[str] = set()
    offsets: dict[str, int] = {}
    records = list(values)
    size = batch_size or 1
    for first in range(0, len(records), size):
        events = []
        for raw in records[first : first + size]:
            event = parse(raw)
            if event is None:
                out.malformed += 1
            else:
                events.append(event)
        for event in events:
            received = event.get("received_at")
            if received is not None and abs(received - event["ts"]) <= offset_bound_ms:
                session = str(event["session_id"])
                offsets[session] = min(
                    offsets.get(session, received - event["ts"]), received - event["ts"]
                )
        watermark = (
            None if out.max_watermark_time is None else out.max_watermark_time - watermark_ms
        )
        batch_times = []
        for event in events:
            out.valid += 1
            ts = event["ts"]
            received = event.get("received_at")
            near = received is not None and abs(received - ts) <= offset_bound_ms
            batch_times.append(received if near else ts)
            offset = offsets.get(str(event["session_id"]), 0)
            if batch_size is None:
                late = watermark is not None and ts + offset < watermark
            else:
                late = watermark is not None and ts + offset <= watermark
            if late:
                out.late.append(str(event["event_id"]))
                continue
            out.max_ts = ts if out.max_ts is None else max(out.max_ts, ts)
            event_id = str(event["event_id"])
            if event_id in seen:
                out.duplicates.append(event_id)
                continue
            seen.add(event_id)
            out.accepted.append({**event, "clock_offset": offset})
        if batch_times:
            newest = max(batch_times)
            if out.max_watermark_time is None or newest > out.max_watermark_time:
                out.max_watermark_time = newest
    return out


# ---------------------------------------------------------------------------------------------
# Views


def sort_key(event: dict) -> tuple[int, int, str]:
    """Event-time order within a session, ties broken as docs/views.md says."""
    return (event["ts"], _RANK[event["event_type"]], str(event["event_id"]))


class _View:
    def __init__(self, session_id: str, n: int, first: dict, rules: Rules) -> None:
        self.rules = rules
        self.session_id = session_id
        self.view_id = f"{session_id}#{n}"
        self.fields: dict[str, object] = {}
        self.view_start = first["ts"]
        self.last_ts = first["ts"]
        self.event_ts: list[int] = [first["ts"]]
        self.start_missing = first["event_type"] != "playback_request"
        self.past_first_frame = self.start_missing
        self.first_frame_ts: int | None = None
        self.startup_disqualified = False
        self.startup_time_ms: int | None = None
        self.bitrate: int | None = None
        self.bitrate_switches = 0
        self.downshift_ts: list[int] = []
        self.video_size: tuple[int, int] | None = None
        self.player_size: tuple[int, int] | None = None
        self.stall_ts: list[int] = []
        self.in_ad = False
        self.ad_break_ts: list[int] = []
        self.ad_failure_ts: list[int] = []
        self.first_any_frame_ts: int | None = None
        self.startup_with_ads_ms: int | None = None
        # (start, end, state, bitrate, scale) with end > start, in order; scale: the picture's
        # (display size / rendition size, aspect kept), None when either is unknown
        self.segments: list[Segment] = []
        # (ts, state) the view is left in by each event but its last: "ad" inside a break
        self.instants: list[tuple[int, str]] = []
        self.end_reason: str | None = None
        self.closed_at: int | None = None
        self.ended_before_first_frame = False
        if self.start_missing:
            self.state = _LOST_START_STATE.get(first["event_type"], "playing")
        else:
            self.state = "startup"
        self._take_fields(first)
        self._apply(first, opening=True)
        self._left_at(first["ts"])

    # -- events

    def _take_fields(self, event: dict) -> None:
        for name in ("video_id", "viewer_id", "stream_type", "cdn"):
            if self.fields.get(name) is None and event.get(name) is not None:
                self.fields[name] = event[name]

    def is_new_video(self, event: dict) -> bool:
        video = event.get("video_id")
        current = self.fields.get("video_id")
        return video is not None and current is not None and video != current

    def add(self, event: dict) -> None:
        self._spend(event["ts"])
        self.event_ts.append(event["ts"])
        self.last_ts = event["ts"]
        self._take_fields(event)
        self._apply(event, opening=False)
        self._left_at(event["ts"])

    def _left_at(self, ts: int) -> None:
        if not self.closed:
            self.instants.append((ts, "ad" if self.in_ad else self.state))

    def _spend(self, until: int) -> None:
        """Time from the last event to ``until`` in the current state, capped."""
        end = min(until, self.last_ts + self.rules.max_event_gap_ms)
        if end > self.last_ts:
            state = "ad" if self.in_ad else self.state
            self.segments.append((self.last_ts, end, state, self.bitrate, self._scale()))

    def _scale(self) -> float | None:
        """How much the rendition grows (above 1) or shrinks to fit the player: the growth of
        its first dimension to reach the player's edge."""
        if self.video_size is None or self.player_size is None:
            return None
        (vw, vh), (pw, ph) = self.video_size, self.player_size
        if min(vw, vh, pw, ph) <= 0:
            return None
        return min(pw / vw, ph / vh)

    def _apply(self, event: dict, opening: bool) -> None:
        kind = event["event_type"]
        ts = event["ts"]
        # Any event may say which rendition plays and how large the player is; only a
        # rendition_update is a switch, and one to a lower bitrate a downshift.
        bitrate = event.get("bitrate_kbps")
        bitrate = None if bitrate is None else int(float(bitrate))
        # Inside an ad break the rendition is the ad's: only the display size is held.
        lower = bitrate is not None and self.bitrate is not None and bitrate < self.bitrate
        content = not self.in_ad
        if kind == "rendition_update" and self.past_first_frame and lower and content:
            self.downshift_ts.append(ts)
        if bitrate is not None and content:
            self.bitrate = bitrate
        size = _size(event, "video")
        if content:
            self.video_size = size or self.video_size
        size = _size(event, "player")
        self.player_size = size or self.player_size
        if kind == "ad_break_start":
            if not self.in_ad:
                self.in_ad = True
                self.ad_break_ts.append(ts)
            if not self.past_first_frame and self.first_any_frame_ts is None:
                self.first_any_frame_ts = ts  # a pre-roll: the first frame the viewer saw
        elif kind == "ad_break_end":
            self.in_ad = False
        elif kind == "playback_fail" and self.in_ad:
            self.ad_failure_ts.append(ts)  # the ad failed; the view goes on
        elif kind in CLOSING:
            self._close(CLOSING[kind], ts)
        elif self.in_ad:
            pass  # the ad's own playback events: not the content's
        elif kind == "playback_request":
            if not opening:
                self.state = "waiting" if self.past_first_frame else "startup"
        elif kind == "playback_start":
            self.state = "playing"
            if not self.past_first_frame:
                self.past_first_frame = True
                self.first_frame_ts = ts
                if not self.startup_disqualified:
                    pre_roll = sum(e - s for s, e, state, *_ in self.segments if state == "ad")
                    self.startup_time_ms = ts - self.view_start - pre_roll
                    first_any = self.first_any_frame_ts or ts
                    self.startup_with_ads_ms = first_any - self.view_start
        elif kind == "seek_start":
            self.state = "seeking"
            self.startup_disqualified |= not self.past_first_frame
        elif kind == "seek_end":
            if not opening:
                self.state = "playing" if self.past_first_frame else "startup"
        elif kind == "playback_pause":
            self.state = "paused"
            self.startup_disqualified |= not self.past_first_frame
        elif kind == "playback_stall":
            if self.past_first_frame:
                self.state = "stalled"
                self.stall_ts.append(ts)
        elif kind == "rendition_update" and self.past_first_frame:
            self.bitrate_switches += 1
        # heartbeat: no change

    # -- closing

    def _close(self, reason: str, closed_at: int) -> None:
        self.end_reason = reason
        self.closed_at = closed_at
        self.ended_before_first_frame = not self.past_first_frame

    def close_new_video(self, request_ts: int) -> None:
        self._spend(request_ts)
        self._close("new_video", request_ts)

    def close_timeout(self) -> None:
        tail = min(self.rules.max_event_gap_ms, self.rules.view_timeout_ms)
        self._spend(self.last_ts + tail)
        self._close("timeout", self.last_ts + self.rules.view_timeout_ms)

    @property
    def closed(self) -> bool:
        return self.end_reason is not None

    # -- rows

    def row(self) -> dict:
        watch = playing = stall = 0
        for start, end, state, _, _ in self.segments:
            w, p, s = STATES[state]
            length = end - start
            watch += length if w else 0
            playing += length if p else 0
            stall += length if s else 0
        picture = _picture(self.segments)
        ad_time = sum(end - start for start, end, state, *_ in self.segments if state == "ad")
        failed = self.end_reason == "fail"
        started = self.start_missing or self.first_frame_ts is not None
        row = {
            "view_id": self.view_id,
            "session_id": self.session_id,
            "viewer_id": self.fields.get("viewer_id"),
            "video_id": self.fields.get("video_id"),
            "stream_type": self.fields.get("stream_type"),
            "cdn": self.fields.get("cdn"),
            "started": started,
            "startup_time_ms": self.startup_time_ms,
            "startup_with_ads_ms": self.startup_with_ads_ms,
            "watch_time_ms": watch,
            "playing_time_ms": playing,
            "stall_count": len(self.stall_ts),
            "stall_time_ms": stall,
            "rebuffer_ratio": stall / watch if watch else None,
            "playback_failed": failed,
            "video_start_failure": failed and self.ended_before_first_frame,
            "exit_before_video_start": not failed and self.ended_before_first_frame,
            "avg_bitrate_kbps": _ratio(picture["bitrate_kbps_ms"], picture["bitrate_ms"]),
            "bitrate_switches": self.bitrate_switches,
            "bitrate_downshifts": len(self.downshift_ts),
            "upscale_pct": _pct_of_bp(picture["upscale_bp_ms"], picture["scaled_ms"]),
            "downscale_pct": _pct_of_bp(picture["downscale_bp_ms"], picture["scaled_ms"]),
            "max_upscale_pct": picture["max_upscale_bp"] / 100 if picture["scaled_ms"] else None,
            "ad_time_ms": ad_time,
            "ad_breaks": len(self.ad_break_ts),
            "ad_failures": len(self.ad_failure_ts),
            "view_start": self.view_start,
            "view_end": self.last_ts,
            "closed_at": self.closed_at,
            "end_reason": self.end_reason,
            "start_missing": self.start_missing,
        }
        return row | scores(row, started)

    def slices(self, row: dict) -> list[dict]:
        # A minute gets a slice when the view had an event or counted time in it (the capped
        # time after an event included, whatever the state), and the minute of closed_at does.
        first = minute_start(self.view_start)
        touched = {minute_start(ts) for ts in self.event_ts}
        for start, end, *_ in self.segments:
            touched.update(range(minute_start(start), minute_start(end - 1) + 1, MINUTE_MS))
        closing_minute = minute_start(self.closed_at)
        minutes = sorted(touched | {closing_minute})
        out = {
            m: {
                "view_id": self.view_id,
                "minute": m,
                "viewer_id": row["viewer_id"],
                "video_id": row["video_id"],
                "opened": m == first,
                "first_frame": False,
                "startup_time_ms": None,
                "watch_time_ms": 0,
                "playing_time_ms": 0,
                "stall_time_ms": 0,
                "stall_count": 0,
                "failed": False,
                "vsf": False,
                "ebvs": False,
                "ended": False,
                "active": False,
                "bitrate_downshifts": 0,
                "ad_time_ms": 0,
                "ad_breaks": 0,
                "ad_failures": 0,
            }
            for m in minutes
        }
        if self.first_frame_ts is not None:
            s = out[minute_start(self.first_frame_ts)]
            s["first_frame"] = True
            s["startup_time_ms"] = self.startup_time_ms
        pieces: dict[int, list[Segment]] = {m: [] for m in minutes}
        for start, end, state, bitrate, scale in self.segments:
            w, p, st = STATES[state]
            t = start
            while t < end:
                m = minute_start(t)
                piece = min(end, m + MINUTE_MS) - t
                s = out[m]
                s["watch_time_ms"] += piece if w else 0
                s["playing_time_ms"] += piece if p else 0
                s["stall_time_ms"] += piece if st else 0
                s["active"] |= p or st or state == "ad"
                s["ad_time_ms"] += piece if state == "ad" else 0
                pieces[m].append((t, t + piece, state, bitrate, scale))
                t += piece
        for m, segments in pieces.items():
            picture = _picture(segments)
            del picture["max_upscale_bp"]
            out[m].update(picture)
        for ts in self.stall_ts:
            out[minute_start(ts)]["stall_count"] += 1
        for ts in self.downshift_ts:
            out[minute_start(ts)]["bitrate_downshifts"] += 1
        for ts in self.ad_break_ts:
            out[minute_start(ts)]["ad_breaks"] += 1
        for ts in self.ad_failure_ts:
            out[minute_start(ts)]["ad_failures"] += 1
        s = out[closing_minute]
        s["ended"] = True
        s["failed"] = row["playback_failed"]
        s["vsf"] = row["video_start_failure"]
        s["ebvs"] = row["exit_before_video_start"]
        return [out[m] for m in minutes]


Segment = tuple[int, int, str, int | None, float | None]


def _size(event: dict, prefix: str) -> tuple[int, int] | None:
    """``<prefix>_width`` and ``<prefix>_height`` of ``event``, when it has both."""
    width, height = event.get(f"{prefix}_width"), event.get(f"{prefix}_height")
    if width is None or height is None:
        return None
    return int(float(width)), int(float(height))


def _picture(segments: Iterable[Segment]) -> dict:
    """What the viewer saw while playing, over ``segments``: time with a known bitrate and its
    kbps·ms, time with a known scale and its upscale and downscale in basis points (0.01 %,
    whole, rounded half up) · ms, the largest upscale (basis points)."""
    out = {
        "bitrate_kbps_ms": 0,
        "bitrate_ms": 0,
        "upscale_bp_ms": 0,
        "downscale_bp_ms": 0,
        "scaled_ms": 0,
        "max_upscale_bp": 0,
    }
    for start, end, state, bitrate, scale in segments:
        if not STATES[state][1]:
            continue
        length = end - start
        if bitrate is not None:
            out["bitrate_kbps_ms"] += bitrate * length
            out["bitrate_ms"] += length
        if scale is not None:
            up = math.floor(max(0.0, scale - 1) * 10_000 + 0.5)
            down = math.floor(max(0.0, 1 - scale) * 10_000 + 0.5)
            out["upscale_bp_ms"] += up * length
            out["downscale_bp_ms"] += down * length
            out["scaled_ms"] += length
            out["max_upscale_bp"] = max(out["max_upscale_bp"], up)
    return out


def _ratio(part: float, whole: float) -> float | None:
    return part / whole if whole else None


def _pct_of_bp(bp_ms: int, ms: int) -> float | None:
    """The mean in % of basis points · ms over ms."""
    return bp_ms / ms / 100 if ms else None


def minute_start(ts: int) -> int:
    return ts - ts % MINUTE_MS


@dataclass
class Truth:
    views: list[dict]
    slices: list[dict]


def compute(events: Iterable[dict], rules: Rules | None = None) -> Truth:
    """Views and view slices of accepted events (any order; ``ts`` in epoch ms).

    A view is placed in server time by the ``clock_offset`` its first event arrived with
    (:func:`classify`; none: 0): every event of the view at ``ts`` + that offset, so the
    device's durations within a view are kept.

    Views still open after the last event are closed by timeout, as the pipeline closes them
    once its watermark passes their last event + ``view_timeout``. Rows are ordered by
    ``view_id``'s session, then view number; slices by view, then minute.
    """
    views: list[dict] = []
    slices: list[dict] = []
    for view in closed_views(events, rules or Rules()):
        row = view.row()
        views.append(row)
        slices.extend(view.slices(row))
    return Truth(views, slices)


def closed_views(events: Iterable[dict], rules: Rules) -> Iterator[_View]:
    """The views of ``events`` (see :func:`compute`), each once it is closed, by session."""
    by_session: dict[str, list[dict]] = defaultdict(list)
    for event in events:
        by_session[str(event["session_id"])].append(event)
    for session_id in sorted(by_session):
        n = 0
        view: _View | None = None
        offset = 0  # the open view's clock offset
        for event in sorted(by_session[session_id], key=sort_key):
            # In the open view's time: the device's durations, shifted by the view's offset.
            at = {**event, "ts": event["ts"] + offset}
            if view is not None and at["ts"] - view.last_ts >= rules.view_timeout_ms:
                view.close_timeout()
                yield view
                view = None
            if (
                view is not None
                and at["event_type"] == "playback_request"
                and view.is_new_video(at)
            ):
                view.close_new_video(at["ts"])
                yield view
                view = None
            if view is None:
                n += 1
                offset = event.get("clock_offset", 0)
                view = _View(session_id, n, {**event, "ts": event["ts"] + offset}, rules)
            else:
                view.add(at)
            if view.closed:
                yield view
                view = None
        if view is not None:
            view.close_timeout()
            yield view


def scores(view: dict, started: bool) -> dict:
    """A view's experience scores, 0..100 or None where one does not apply (docs/kpis.md,
    "Scores"): Mux's four published formulas and vsa's overall score."""
    if view["playback_failed"]:
        success = 0.0
    elif view["exit_before_video_start"]:
        success = 50.0 if view["view_end"] - view["view_start"] >= 1_000 else None
    else:
        success = 100.0
    startup = smooth = None
    if started:
        if view["startup_time_ms"] is not None:
            startup = 800.0 / (8 + view["startup_time_ms"] / 1000)
        watch = view["watch_time_ms"]
        fraction = view["stall_time_ms"] / watch if watch else 0.0
        by_count = 100 / math.hypot(1, view["stall_count"] / 2)
        smooth = (by_count + 100 * math.exp(-10 * fraction)) / 2
    quality = None
    if view["max_upscale_pct"] is not None:
        weighted = 0.15 * view["max_upscale_pct"] + 0.85 * view["upscale_pct"]
        quality = 100 * math.exp(-0.33 * weighted / 100)
    experience = [x for x in (startup, smooth, quality) if x is not None]
    overall = success
    if success is not None and experience:
        overall = success * (sum(experience) / len(experience)) / 100
    return {
        "score_playback_success": success,
        "score_startup": startup,
        "score_smoothness": smooth,
        "score_video_quality": quality,
        "score_overall": overall,
    }
