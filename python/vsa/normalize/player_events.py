"""Player events (the event model of docs/events.md): JSON text in, typed rows out.

Each record is first read as a map of its top-level fields, so that one wrong field names its
own reason instead of blanking the whole record, and unknown fields survive in ``extra``.
"""

from __future__ import annotations

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

from vsa import jvm
from vsa.functions import json_object_fields, map_without, parse_cmcd
from vsa.normalize import cmcd_reports

# The detail of a `bad_encoding` dead letter, player record or CDN line alike.
NOT_UTF8 = "not valid UTF-8 (raw shows the invalid bytes as U+FFFD)"

REQUIRED_FIELDS = ("event_id", "event_type", "ts", "session_id")
STRING_FIELDS = (
    "event_id",
    "event_type",
    "session_id",
    "viewer_id",
    "video_id",
    "stream_type",
    "player_name",
    "player_version",
    "user_agent",
    "client_ip",
    "cdn",
    "error_code",
    "error_message",
    # The CMCD session id the player sends its CDN requests with, when it is not session_id.
    "cmcd_sid",
)
INTEGER_FIELDS = (
    "bitrate_kbps",
    "video_width",
    "video_height",
    # The player's display size, on any event, held until an event says otherwise.
    "player_width",
    "player_height",
    "playhead_ms",
)
KNOWN_FIELDS = (*STRING_FIELDS, *INTEGER_FIELDS, "ts")
# Events stamped further ahead of the clock than this are a broken clock, not the future.
MAX_FUTURE_SKEW = "1 hour"
# Events stamped before this are a broken clock (0, -1000, year 0000) or seconds sent as ms
# (1.7e9 ms is January 1970), not history: `vsa batch` can backfill anything after it.
MIN_EVENT_TIME = "2000-01-01T00:00:00Z"
# Limits of what one record may store: a larger record, or one with more top-level fields, is
# a dead letter (`too_large`) whose raw is cut (vsa.normalize.dead_letter.RAW_LIMIT_CHARS).
MAX_RECORD_BYTES = 65_536
MAX_FIELDS = 100

_EPOCH_MS = r"^-?[0-9]{1,15}$"
_ISO_WITH_OFFSET = r"^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}(:?\d{2})?)$"


def parse_player_events(raw: DataFrame) -> DataFrame:
    """Adds the parsed event (struct ``event``) and, for bad records, ``reason`` and ``detail``.

    ``raw`` has the columns of :mod:`vsa.sources.kafka`: a JSON event, or a CMCD v2 event
    report (:mod:`vsa.normalize.cmcd_reports`). ``ignored`` is true for a report of no use to
    the model: neither an event nor a dead letter.
    Reasons, in order: ``bad_encoding``
    (not UTF-8), ``too_large`` (over :data:`MAX_RECORD_BYTES`), ``malformed_json`` (not one
    JSON object), ``malformed_cmcd`` (a report that is not a CMCD dictionary),
    ``too_large`` (over :data:`MAX_FIELDS` fields), ``missing_field``,
    ``bad_timestamp``, ``bad_type``, ``unknown_event_type``, ``future_timestamp``; ``reason``
    is null for a valid event.
    """
    size = F.octet_length("raw")
    utf8 = F.is_valid_utf8("raw")
    readable = utf8 & (size <= MAX_RECORD_BYTES)
    json_fields = F.when(readable, json_object_fields("raw"))
    # A CMCD v2 event report (an envelope of vsa collect, or a bare line) becomes the fields a
    # JSON event would have; a report of no use to the model is ignored (cmcd_reports).
    text = cmcd_reports.report_text(F.col("_json"), F.col("raw"))
    parsed = (
        raw.withColumn("_json", json_fields)
        .withColumn("_cmcd", F.when(readable, parse_cmcd(text)))
        .withColumn(
            "_report",
            F.coalesce(cmcd_reports.is_report(F.col("_json"), F.col("_cmcd")), F.lit(False)),
        )
        .withColumn(
            "_fields",
            F.when(
                F.col("_report"), cmcd_reports.report_fields(text, F.col("_cmcd"), F.col("_json"))
            ).otherwise(F.col("_json")),
        )
    )
    # Not a filter: Spark would push it below this projection and parse every record again for
    # each reference; the sessionizer drops a row that carries nothing (pipeline.player_records).
    ignored = F.col("_report") & F.col("_fields").isNull()
    field = parsed["_fields"].getItem

    ts_text = F.trim(field("ts"))
    ts = _timestamp(ts_text)
    integers = {name: _integer(field(name)) for name in INTEGER_FIELDS}
    event = F.struct(
        *[field(name).alias(name) for name in STRING_FIELDS],
        *[value.alias(name) for name, value in integers.items()],
        ts.alias("ts"),
        map_without("_fields", KNOWN_FIELDS).alias("extra"),
    )

    missing = [F.when(field(n).isNull(), F.lit(n)) for n in REQUIRED_FIELDS]
    # The event types the sessionizer knows, as the jar lists them.
    event_types = jvm.row_schemas(raw.sparkSession).event_types
    bad_types = [F.when(field(n).isNotNull() & v.isNull(), F.lit(n)) for n, v in integers.items()]
    reason_and_detail = (
        F.when(ignored, F.lit(None))
        .when(
            ~utf8,
            _rejection("bad_encoding", F.lit(NOT_UTF8)),
        )
        .when(
            size > MAX_RECORD_BYTES,
            _rejection(
                "too_large",
                F.format_string(f"record of %d bytes, limit {MAX_RECORD_BYTES}", size),
            ),
        )
        .when(
            parsed["_fields"].isNull(),
            _rejection("malformed_json", F.lit("not one JSON object")),
        )
        .when(
            field("cmcd_error").isNotNull(),
            _rejection("malformed_cmcd", F.concat(F.lit("CMCD: "), field("cmcd_error"))),
        )
        .when(
            F.size(parsed["_fields"]) > MAX_FIELDS,
            _rejection(
                "too_large",
                F.format_string(f"%d fields, limit {MAX_FIELDS}", F.size(parsed["_fields"])),
            ),
        )
        .when(
            F.concat_ws(",", *missing) != "",
            _rejection("missing_field", F.concat(F.lit("missing: "), F.concat_ws(", ", *missing))),
        )
        .when(
            ts.isNull(),
            _rejection(
                "bad_timestamp",
                F.concat(
                    F.lit("ts is not epoch ms (an integer) or ISO-8601 with offset: "),
                    _as_sent(ts_text),
                ),
            ),
        )
        .when(
            ts < F.lit(MIN_EVENT_TIME).cast("timestamp"),
            _rejection(
                "bad_timestamp",
                F.concat(
                    F.lit(f"ts before {MIN_EVENT_TIME} (seconds instead of ms?): "),
                    _as_sent(ts_text),
                ),
            ),
        )
        .when(
            F.concat_ws(",", *bad_types) != "",
            _rejection(
                "bad_type",
                F.concat(F.lit("not a 64-bit integer: "), F.concat_ws(", ", *bad_types)),
            ),
        )
        .when(
            ~field("event_type").isin(*event_types),
            _rejection(
                "unknown_event_type",
                F.concat(F.lit("event_type "), F.left(field("event_type"), F.lit(64))),
            ),
        )
        .when(
            ts > _latest_event_time(),
            _rejection("future_timestamp", F.concat(F.lit("ts in the future: "), ts_text)),
        )
    )
    return (
        parsed.withColumn("event", event)
        .withColumn("_rejection", reason_and_detail)
        .select(
            *raw.columns,
            "event",
            F.col("_rejection.reason"),
            F.col("_rejection.detail"),
            ignored.alias("ignored"),
        )
    )


def receipt_time(raw: Column, kafka_timestamp: Column) -> Column:
    """When a player record was received: its ``received_at`` (the collector's stamp, epoch
    ms or ISO-8601 with an offset, as ``ts``), else the Kafka record's timestamp (CreateTime as
    its producer set it, or LogAppendTime); null when it has neither. A ``received_at`` that
    is not a time is no stamp."""
    stamped = _timestamp(F.trim(F.get_json_object(raw, "$.received_at")))
    return F.coalesce(stamped, kafka_timestamp)


def clock_offset_ms(ts: Column, received: Column, bound_seconds: int) -> Column:
    """``received - ts`` in ms when it is within ``bound_seconds`` either way: what this
    record says of its device's clock offset (docs/views.md, "Device clocks"); null beyond
    the bound (a replay, a backfill) or without a receipt time."""
    offset = F.unix_millis(received) - F.unix_millis(ts)
    return F.when(F.abs(offset) <= bound_seconds * 1000, offset)


def event_time(raw: Column, kafka_timestamp: Column, bound_seconds: int) -> Column:
    """What a source's watermark follows, per raw player-event record (JSON text), without
    parsing the rest: its receipt time (:func:`receipt_time`) when that is within
    ``bound_seconds`` of its ``ts``, so that a device clock that runs fast cannot move the
    watermark; else its ``ts`` (a replay keeps its own time). Null when the record has no
    ``ts`` or the time is out of bounds (before :data:`MIN_EVENT_TIME`, or in the future), so
    one absurd record cannot move the watermark."""
    ts_text = F.coalesce(F.get_json_object(raw, "$.ts"), cmcd_reports.report_time(raw))
    ts = _timestamp(F.trim(ts_text))
    received = receipt_time(raw, kafka_timestamp)
    time = F.when(clock_offset_ms(ts, received, bound_seconds).isNotNull(), received).otherwise(ts)
    return F.when(time.between(F.lit(MIN_EVENT_TIME).cast("timestamp"), _latest_event_time()), time)


def _timestamp(ts_text: Column) -> Column:
    """Epoch milliseconds (an integer) or ISO-8601 with an offset; else null."""
    return F.when(ts_text.rlike(_EPOCH_MS), F.timestamp_millis(ts_text.cast("long"))).when(
        ts_text.rlike(_ISO_WITH_OFFSET), F.try_to_timestamp(ts_text)
    )


def _latest_event_time() -> Column:
    # The batch's time by reference: written into generated code, it made the stage that reads
    # Kafka new code (and a new compile) every micro-batch.
    return jvm.batch_now() + F.expr(f"INTERVAL {MAX_FUTURE_SKEW}")


def _as_sent(ts_text: Column) -> Column:
    """A bad ``ts`` for its detail, as the record wrote it: the map of fields renders a JSON
    fraction as a double (``1.7961112862005E12``), so a number is taken from the raw text."""
    number = F.regexp_extract("raw", r'"ts"\s*:\s*(-?[0-9][0-9.eE+-]*)', 1)
    return F.left(F.coalesce(F.nullif(number, F.lit("")), ts_text), F.lit(64))


def _integer(text: Column) -> Column:
    """A JSON number (or numeric string) that is a whole number within a long's range, as a
    long; else null (2^63 is not clamped to the largest long)."""
    as_double = text.try_cast("double")
    whole = (as_double == F.floor(as_double)) & (F.abs(as_double) < float(2**63))
    return F.coalesce(text.try_cast("long"), F.when(whole, as_double.cast("long")))


def _rejection(reason: str, detail: Column) -> Column:
    """Why a record is not a valid event: its ``reason`` (tables.md) and ``detail``."""
    return F.struct(F.lit(reason).alias("reason"), detail.alias("detail"))
