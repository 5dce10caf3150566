"""CMCD v2 event reports (CTA-5004-B event mode) as player events.

A CMCD v2 player POSTs reports of its play state to a collector (``vsa collect``): one CMCD
dictionary a line. The collector writes each line to the player topic as a JSON envelope,
``{"cmcd": "<the line>", "received_at": <ms>, "client_ip": "...", "user_agent": "..."}``, since a
report carries neither the client's address nor its user agent; a bare line (another producer,
a file of lines) is read too. :func:`report_fields` maps a report onto the fields of vsa's own
JSON events, so one validation reads both (docs/views.md, "CMCD v2 event reports").
"""

from __future__ import annotations

from pyspark.sql import Column
from pyspark.sql import functions as F

from vsa.functions import parse_cmcd

# The play states (`sta`) of an `e=ps` report, as event types of the event model.
STATE_EVENTS = {
    "s": "playback_request",  # starting
    "p": "playback_start",  # playing: the first frame, or the end of a stall, pause or seek
    "r": "playback_stall",  # rebuffering (before the first frame: startup, not a stall)
    "a": "playback_pause",
    "k": "seek_start",
    "e": "playback_finish",
    "f": "playback_fail",
    "q": "view_end",
}
# The other events (`e`) that become events of the model; `t` and `c` are ruled below.
REPORT_EVENTS = {
    "e": "playback_fail",  # an error, with `ec`
    "bc": "rendition_update",  # a bitrate change, with `br`
    "abs": "ad_break_start",
    "abe": "ad_break_end",
}
# Play states a heartbeat (`e=t`) may carry while its view lasts. One that carries an end state
# (e, f, q) is a report after the view closed: it must not open a view of its own.
LIVE_STATES = ("s", "p", "r", "a", "k", "w", "d")
# Report keys that are fields of the model; every other key is kept in `extra` as `cmcd_<key>`.
FIELD_KEYS = ("sid", "cid", "ts", "br", "pt", "ec")


def is_report(json_fields: Column, raw: Column) -> Column:
    """Whether a record is a CMCD report: an envelope (its JSON has ``cmcd``), or text that is
    not JSON at all (a bare line)."""
    bare = ~F.ltrim(raw).startswith("{") & ~F.ltrim(raw).startswith("[")
    return json_fields["cmcd"].isNotNull() | (json_fields.isNull() & bare)


def report_text(json_fields: Column, raw: Column) -> Column:
    """The CMCD line of a report (:func:`is_report`)."""
    return F.coalesce(json_fields["cmcd"], raw)


def report_fields(text: Column, envelope: Column) -> Column:
    """A CMCD report as the ``map<string,string>`` of fields a vsa JSON event would have:
    ``event_type`` by the rules of :data:`STATE_EVENTS` and :data:`REPORT_EVENTS`, ``sid`` as
    ``session_id``, ``cid`` as ``video_id``, ``ts``, ``br`` as ``bitrate_kbps``, ``pt`` as
    ``playhead_ms``, ``ec`` as ``error_code``; the envelope's ``received_at``, ``client_ip``
    and ``user_agent``; ``event_id`` a digest of the line, so a report the player sent twice
    (its reporter retries) counts once. Null for a report of an event the model has no use
    for (``rr``, ``m``, ``b``…: docs/views.md), and a map holding only ``cmcd_error`` for a line
    that is not a CMCD dictionary."""
    cmcd = parse_cmcd(text)
    event, state = cmcd["e"], cmcd["sta"]
    event_type = (
        F.when(event == "ps", F.create_map(*_pairs(STATE_EVENTS))[state])
        .when(event.isin(*REPORT_EVENTS), F.create_map(*_pairs(REPORT_EVENTS))[event])
        # The view starts at its first report: a heartbeat before any play state, or a new
        # content id (which closes the view of the previous one).
        .when((event == "t") & state.isNull(), F.lit("playback_request"))
        .when((event == "t") & state.isin(*LIVE_STATES), F.lit("heartbeat"))
        .when(event == "c", F.lit("playback_request"))
    )
    other = cmcd["other"]
    fields = F.create_map(
        *[F.lit("event_id"), F.sha2(text, 256).substr(1, 32)],
        *[F.lit("event_type"), event_type],
        *[F.lit("ts"), cmcd["ts"].cast("string")],
        *[F.lit("session_id"), cmcd["sid"]],
        *[F.lit("video_id"), cmcd["cid"]],
        *[F.lit("bitrate_kbps"), cmcd["br"].cast("string")],
        *[F.lit("playhead_ms"), other["pt"]],
        *[F.lit("error_code"), other["ec"]],
        *[F.lit("client_ip"), envelope["client_ip"]],
        *[F.lit("user_agent"), envelope["user_agent"]],
        *[F.lit("received_at"), envelope["received_at"]],
        *[F.lit("cmcd_e"), event],
        *[F.lit("cmcd_sta"), state],
    )
    kept = F.map_filter(
        F.map_concat(
            fields,
            F.transform_keys(
                F.map_filter(F.coalesce(other, F.create_map()), lambda k, _: ~k.isin(*FIELD_KEYS)),
                lambda k, _: F.concat(F.lit("cmcd_"), k),
            ),
        ),
        lambda _, v: v.isNotNull(),
    )
    error = F.create_map(F.lit("cmcd_error"), cmcd["error"])
    return F.when(cmcd["error"].isNotNull(), error).when(event_type.isNotNull(), kept)


def _pairs(mapping: dict[str, str]) -> list[Column]:
    return [F.lit(x) for pair in mapping.items() for x in pair]
