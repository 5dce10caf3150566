"""Player events (the event model of docs/events.md): raw records in, typed rows out.

The jar reads each record in one pass (:func:`vsa.functions.parse_player_event`): a JSON event,
or a CMCD v2 event report (an envelope of ``vsa collect``, or a bare line) mapped onto the
fields a JSON event would have (docs/views.md, "CMCD v2 event reports"). A JSON record is read as
a map of its top-level fields, so that one wrong field names its own reason instead of blanking
the whole record, and unknown fields survive in ``extra``.
"""

from __future__ import annotations

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from vsa.config import VsaConfig
from vsa.functions import parse_player_event

# The column a stream's records carry their parse in when it was made before the watermark,
# which follows the parse's event_time (vsa.pipeline.job).
PARSED = "parsed"


def with_parse(
    raw: DataFrame, clock_offset_bound_seconds: int = VsaConfig.clock_offset_bound_seconds
) -> DataFrame:
    """``raw`` (the columns of :mod:`vsa.sources`; ``kafka_timestamp`` may be left out) with
    each record's parse in ``parsed``."""
    received = (
        F.col("kafka_timestamp")
        if "kafka_timestamp" in raw.columns
        else F.lit(None).cast("timestamp")
    )
    parse = parse_player_event(F.col("raw"), received, clock_offset_bound_seconds)
    return raw.withColumn(PARSED, parse)


def parse_player_events(
    raw: DataFrame, clock_offset_bound_seconds: int = VsaConfig.clock_offset_bound_seconds
) -> DataFrame:
    """``raw`` with the parse of each record flattened into its columns: the event (struct
    ``event``); ``reason`` and ``detail`` for a bad record; ``ignored``, true for a CMCD report
    of no use to the model (neither an event nor a dead letter); ``clock_offset`` (what the
    record says of its device's clock, docs/views.md "Device clocks") and ``event_time`` (what a
    source's watermark follows). A ``raw`` parsed already (:func:`with_parse`) is not parsed
    again.

    Reasons, in order (docs/tables.md): ``bad_encoding`` (not UTF-8), ``too_large`` (over
    64 KiB), ``malformed_json`` (not one JSON object), ``malformed_cmcd`` (a report that is not
    a CMCD dictionary), ``too_large`` (over 100 fields), ``missing_field``, ``bad_timestamp``,
    ``bad_type``, ``unknown_event_type``, ``future_timestamp``; ``reason`` is null for a valid
    event.
    """
    parsed = raw if PARSED in raw.columns else with_parse(raw, clock_offset_bound_seconds)
    kept = [c for c in raw.columns if c != PARSED]
    fields = parsed.schema[PARSED].dataType.fieldNames()  # type: ignore[attr-defined]
    # A stream's event_time stays its own column: it carries the watermark.
    added = [F.col(PARSED)[f].alias(f) for f in fields if f not in kept]
    return parsed.select(*kept, *added)
