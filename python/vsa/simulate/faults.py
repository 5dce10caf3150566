"""Delivery: the order in which events reach the pipeline, with duplicates, out-of-order and
late events, and malformed records mixed in.

The delivery model
------------------
Every event gets a delivery key on the event-time axis; records are delivered in key order
(ties in generation order, so a session's events keep their order). ``ts`` below is the event's
true time, its ``received_at`` (the device's ``ts`` may be off: the pipeline corrects it by the
receipt times, docs/views.md "Device clocks"):

- in order: key = ``ts``;
- out of order: key = ``ts`` + 1 s .. ``watermark / 4``;
- duplicate: the event in order, and a second copy (same ``event_id``, same bytes) at
  ``ts`` + 1 ms .. ``watermark / 4``;
- late: key = ``ts`` + ``4 × watermark`` + 10 s .. ``6 × watermark``.

Since nothing is delivered with a key below its ``ts``, the largest ``ts`` delivered before a
record is at most its key. The pipeline's watermark, as :func:`vsa.simulate.truth.classify`
models it, is that largest ``ts`` minus ``watermark``, advanced per record. Spark advances its
watermark once per micro-batch, from the events of earlier batches, so its watermark is never
ahead of the per-record one. Hence:

- an in-order, out-of-order or duplicate record is at most ``watermark / 4`` behind the largest
  ``ts`` before it: never late, for the model and for Spark, whatever the batch boundaries;
- a late event is delivered when the largest ``ts`` before it is at least ``4 × watermark``
  ahead of its own, and after a record of its session (a candidate for which the traffic is
  too thin to guarantee that, or the first of its session, is delivered in order instead: a
  session's first record sets its clock offset, so a late one would read as a slow clock).
  For the model it is late; Spark finds it late as soon as the events that carried the
  largest ``ts`` past ``ts + watermark`` were read in an earlier micro-batch, which any
  pipeline that reads the topic in more than one batch (for example with
  ``maxOffsetsPerTrigger``) does: a whole watermark of event time separates them.

Malformed records are inserted after a share of records; they never parse as valid events
(checked by the tests against :func:`vsa.simulate.truth.parse` and ``vsa.normalize``). A share
of valid events carries ``ts`` as ISO-8601 text with an offset instead of epoch ms (not a
fault: the event model allows both).
"""

from __future__ import annotations

import json
import random
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

ONE_SECOND = 1_000
# How far behind the newest delivered event a late event is, in watermarks. Spark judges
# lateness against the watermark of an earlier micro-batch, so a wide margin keeps the
# classification independent of batch sizes.
LATE_MIN_WATERMARKS = 4
LATE_MAX_WATERMARKS = 6


@dataclass(frozen=True)
class Faults:
    """Shares of records that are duplicated, out of order, late, malformed (0..1 each)."""

    duplicate: float = 0.01
    out_of_order: float = 0.02
    late: float = 0.005
    malformed: float = 0.005
    # Not a fault: valid events whose ts is ISO-8601 text with an offset instead of epoch ms.
    iso_ts: float = 0.02


@dataclass
class Delivery:
    records: list[tuple[str, str]]  # (key, value) in delivery order
    late_event_ids: list[str]  # in delivery order
    duplicate_event_ids: list[str]
    out_of_order_event_ids: list[str]
    malformed: int


def encode(event: dict) -> str:
    return json.dumps(event, separators=(",", ":"), ensure_ascii=False)


def decode_objects(records: Iterable[tuple[str | None, str]]) -> list[dict]:
    """The records (key, text) that are JSON objects, decoded, in order: what players sent,
    wrong beacons included; malformed ones left out."""
    out = []
    for _, value in records:
        try:
            event = json.loads(value)
        except ValueError:
            continue
        if isinstance(event, dict):
            out.append(event)
    return out


def deliver(events: list[dict], faults: Faults, watermark_ms: int, rng: random.Random) -> Delivery:
    """Orders ``events`` (in generation order) for delivery and adds the faults.

    The delivery key starts from an event's true send time (``received_at``; ``ts`` without
    one): the device's ``ts`` may be off. A late event is received late: its ``received_at``
    becomes its delivery key. Other events keep theirs: they are reordered behind the
    collector, which stamped them when they were sent."""
    quarter = max(2, watermark_ms // 4)
    # (key, seq, session_id, event, true time, event_id, kind, iso offset or None)
    items: list[list] = []
    for seq, event in enumerate(events):
        sent = event.get("received_at", event["ts"])
        iso = None
        if faults.iso_ts and rng.random() < faults.iso_ts:
            iso = rng.choice((0, 0, 60, -300, 330))
        row = [sent, seq, event["session_id"], event, sent, event["event_id"], "in_order", iso]
        roll = rng.random()
        if roll < faults.late:
            row[0] = sent + rng.randint(
                LATE_MIN_WATERMARKS * watermark_ms + 10 * ONE_SECOND,
                LATE_MAX_WATERMARKS * watermark_ms,
            )
            row[6] = "late"
        elif (roll := roll - faults.late) < faults.out_of_order:
            row[0] = sent + rng.randint(min(ONE_SECOND, quarter - 1), quarter)
            row[6] = "out_of_order"
        elif (roll := roll - faults.out_of_order) < faults.duplicate:
            copy = [sent + rng.randint(1, quarter), seq, *row[2:6], "duplicate", iso]
            items.append(copy)
        items.append(row)
    items.sort(key=lambda r: (r[0], r[1], r[6] == "duplicate"))

    # A late candidate must be far enough behind, and follow a record of its session: a
    # session's first record sets its clock offset (docs/views.md, "Device clocks"), so a late
    # receipt there reads as a slow clock, not as a late event. Else it is delivered in order.
    max_sent = None
    delivered_sessions: set[str] = set()
    demoted = False
    for row in items:
        if row[6] == "late" and (
            max_sent is None
            or max_sent - row[4] < LATE_MIN_WATERMARKS * watermark_ms
            or row[2] not in delivered_sessions
        ):
            row[0] = row[4]
            row[6] = "in_order"
            demoted = True
        if row[6] != "late":
            max_sent = row[4] if max_sent is None else max(max_sent, row[4])
            delivered_sessions.add(row[2])
    if demoted:
        items.sort(key=lambda r: (r[0], r[1], r[6] == "duplicate"))

    records = with_malformed([(row[2], _value(row)) for row in items], faults.malformed, rng)
    return Delivery(
        records=records,
        late_event_ids=[r[5] for r in items if r[6] == "late"],
        duplicate_event_ids=[r[5] for r in items if r[6] == "duplicate"],
        out_of_order_event_ids=[r[5] for r in items if r[6] == "out_of_order"],
        malformed=len(records) - len(items),
    )


def _value(row: list) -> str:
    """The record of a delivery row: a late event with its late receipt, ``ts`` as ISO-8601
    text when picked for it."""
    event = row[3]
    if row[6] == "late" and "received_at" in event:
        event = {**event, "received_at": row[0]}
    if row[7] is not None:
        event = {**event, "ts": iso_ts(event["ts"], row[7])}
    return encode(event)


def with_malformed(
    records: list[tuple[str, str]], share: float, rng: random.Random, key: str | None = None
) -> list[tuple[str, str]]:
    """``records`` (valid events) with a malformed record after a ``share`` of them, modelled
    on the event before it and under its key, or under ``key`` if given."""
    out: list[tuple[str, str]] = []
    for record_key, value in records:
        out.append((record_key, value))
        if share and rng.random() < share:
            bad = malformed_record(rng, json.loads(value))
            out.append((record_key if key is None else key, bad))
    return out


def iso_ts(ts: int, offset_minutes: int) -> str:
    """``ts`` (epoch ms) as ISO-8601 with milliseconds, in the zone ``offset_minutes`` east."""
    local = datetime.fromtimestamp(ts // 1000, UTC) + timedelta(minutes=offset_minutes)
    if offset_minutes == 0:
        zone = "Z"
    else:
        sign = "+" if offset_minutes > 0 else "-"
        zone = f"{sign}{abs(offset_minutes) // 60:02d}:{abs(offset_minutes) % 60:02d}"
    return f"{local:%Y-%m-%dT%H:%M:%S}.{ts % 1000:03d}{zone}"


def malformed_record(rng: random.Random, near: dict) -> str:
    """A record the pipeline must reject, modelled on the valid event ``near``."""
    event = {**near, "event_id": str(uuid.UUID(int=rng.getrandbits(128), version=4))}
    kind = rng.randrange(8)
    if kind == 0:  # cut off mid-record
        text = encode(event)
        return text[: rng.randint(1, len(text) - 2)]
    if kind == 1:
        del event["session_id"]
    elif kind == 2:
        del event["event_id"]
    elif kind == 3:
        event["ts"] = rng.choice(("yesterday", "", "17:00", None))
    elif kind == 4:
        event["event_type"] = rng.choice(("teleport", "PLAYBACK_START", "play"))
    elif kind == 5:
        event["event_type"] = "rendition_update"
        event["bitrate_kbps"] = rng.choice(("fast", 12.5, "3000 kbps"))
    elif kind == 6:
        return rng.choice(("[1, 2, 3]", "null", '"heartbeat"', "42"))
    else:
        return "{" + encode(event)[1:-1] + ",}"  # trailing comma
    return encode(event)
