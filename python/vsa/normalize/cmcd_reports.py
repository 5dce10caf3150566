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

from vsa.functions import map_without

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


def report_text(json_fields: Column, raw: Column) -> Column:
    """The CMCD line a record may hold: an envelope's ``cmcd``, or the record itself when it
    is not JSON (``json_fields`` is null)."""
    return F.coalesce(json_fields["cmcd"], F.when(json_fields.isNull(), raw))


def is_report(json_fields: Column, cmcd: Column) -> Column:
    """Whether a record is a CMCD report: an envelope, or a bare line that reads as a CMCD
    dictionary with an event key ``e`` (anything else that is not JSON stays malformed JSON).
    ``cmcd``: :func:`vsa.functions.parse_cmcd` of :func:`report_text`."""
    bare = cmcd["error"].isNull() & cmcd["e"].isNotNull()
    return json_fields["cmcd"].isNotNull() | (json_fields.isNull() & bare)


def report_fields(text: Column, cmcd: Column, envelope: Column) -> Column:
    """A CMCD report as the ``map<string,string>`` of fields a vsa JSON event would have:
    ``event_type`` by the rules of :data:`STATE_EVENTS` and :data:`REPORT_EVENTS`, ``sid`` as
    ``session_id``, ``cid`` as ``video_id``, ``ts``, ``br`` as ``bitrate_kbps``, ``pt`` as
    ``playhead_ms``, ``ec`` as ``error_code``; the envelope's ``received_at``, ``client_ip``
    and ``user_agent``; ``event_id`` a digest of the line, so a report the player sent twice
    (its reporter retries) counts once. Every other key is kept as ``cmcd_<key>``.

    Null for a report the model has no use for (docs/views.md, "CMCD v2 event reports"): an
    event such as ``rr``, ``m`` or ``b``, a heartbeat after the view ended, and any report
    but the error itself that carries ``ec`` (the error closed the view as failed; a player
    keeps reporting it). A map holding only ``cmcd_error`` for a line that is not a CMCD
    dictionary, or that has no ``e``. ``cmcd``: :func:`vsa.functions.parse_cmcd` of ``text``.
    """
    event, state, other = cmcd["e"], cmcd["sta"], cmcd["other"]
    event_type = (
        F.when(other["ec"].isNotNull() & (event != "e"), F.lit(None))
        .when(event == "ps", F.create_map(*_pairs(STATE_EVENTS))[state])
        .when(event.isin(*REPORT_EVENTS), F.create_map(*_pairs(REPORT_EVENTS))[event])
        # The view starts at its first report: a heartbeat before any play state, or a new
        # content id (which closes the view of the previous one).
        .when((event == "t") & state.isNull(), F.lit("playback_request"))
        .when((event == "t") & state.isin(*LIVE_STATES), F.lit("heartbeat"))
        .when(event == "c", F.lit("playback_request"))
    )
    fields = _present(
        {
            "event_id": F.sha2(text, 256).substr(1, 32),
            "event_type": event_type,
            "ts": cmcd["ts"].cast("string"),
            "session_id": cmcd["sid"],
            "video_id": cmcd["cid"],
            "bitrate_kbps": cmcd["br"].cast("string"),
            "playhead_ms": other["pt"],
            "error_code": other["ec"],
            "client_ip": envelope["client_ip"],
            "user_agent": envelope["user_agent"],
            "received_at": envelope["received_at"],
            "cmcd_e": event,
            "cmcd_sta": state,
        }
    )
    # The parser's `other` has no null value.
    rest = map_without(F.coalesce(other, _empty()), FIELD_KEYS, prefix="cmcd_")
    kept = F.map_concat(fields, rest)
    error = F.coalesce(
        cmcd["error"], F.when(event.isNull(), F.lit("no event key e: not an event report"))
    )
    return F.when(error.isNotNull(), F.create_map(F.lit("cmcd_error"), error)).when(
        event_type.isNotNull(), kept
    )


def report_time(raw: Column) -> Column:
    """The ``ts`` text of a CMCD report (an envelope's line, or a bare line), found without
    parsing the dictionary: what a source's watermark follows, as ``$.ts`` of a JSON event."""
    line = F.coalesce(F.get_json_object(raw, "$.cmcd"), raw)
    return F.nullif(F.regexp_extract(line, r"(?:^|,)ts=(-?[0-9]{1,15})(?:,|;|$)", 1), F.lit(""))


def _present(fields: dict[str, Column]) -> Column:
    """The map of ``fields`` whose value is not null: a map per field, concatenated, where
    ``map_filter`` would take the projection out of generated code (docs/performance.md)."""
    return F.map_concat(
        *[
            F.when(v.isNotNull(), F.create_map(F.lit(k), v)).otherwise(_empty())
            for k, v in fields.items()
        ]
    )


def _empty() -> Column:
    return F.create_map().cast("map<string,string>")


def _pairs(mapping: dict[str, str]) -> list[Column]:
    return [F.lit(x) for pair in mapping.items() for x in pair]
