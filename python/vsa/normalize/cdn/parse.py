"""Log records → lines → one request (or one reason to reject the line) per line, each format
by its own module of :data:`FORMATS`; then the good lines and the dead letters.

Header and comment lines (``#Version``, ``#Fields``) are not requests and are dropped; a record
may hold several lines (a whole log file sent as one Kafka record): the ``#Fields`` line inside
it then gives the field order of the lines after it.
"""

from __future__ import annotations

from collections.abc import Mapping

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

from vsa.config import CDN_LOG_FORMATS, VsaConfig
from vsa.functions import log_lines
from vsa.normalize.cdn import (
    akamai_ds2,
    cloudfront,
    cloudfront_realtime,
    edgecast,
    fastly,
    nginx,
)
from vsa.normalize.cdn.fields import CdnFormat, Fields
from vsa.normalize.player_events import NOT_UTF8

# Every format by its name, the names of vsa.config.CDN_LOG_FORMATS (which the configuration is
# checked against): a format is its module and its line here.
FORMATS: dict[str, CdnFormat] = {
    "cloudfront": cloudfront.FORMAT,
    "cloudfront-realtime": cloudfront_realtime.FORMAT,
    "akamai-ds2": akamai_ds2.FORMAT,
    "edgecast": edgecast.FORMAT,
    "fastly": fastly.FORMAT,
    "nginx": nginx.FORMAT,
}
# The formats whose records may be JSON documents of many requests (arrays, envelopes): their
# files are read with `vsa.sources.files.read_cdn_files(..., documents=True)`.
DOCUMENT_FORMATS = tuple(name for name, spec in FORMATS.items() if spec.unbatch)


def parse_cdn_logs(
    raw: DataFrame, config: VsaConfig, formats: Mapping[str | None, str] | None = None
) -> DataFrame:
    """CDN log records → one row per log line: ``line`` (the line's text), ``request`` (a
    struct of :data:`vsa.normalize.cdn.fields.REQUEST_FIELDS`), ``reason`` and ``detail``
    (null for a good line).

    ``raw`` has the columns of :mod:`vsa.sources` and, for files, optionally ``file_fields``
    (the names of the file's ``#Fields:`` line, :func:`field_names`). ``formats`` maps a Kafka
    topic to its format; the key ``None`` is the format of records without a topic (files)
    and of topics not listed.
    Default: ``config.cdn_formats`` and ``config.cdn_log_format`` for the rest.
    Reasons: ``bad_encoding`` (a line that is not valid UTF-8: no table may hold a string
    some Parquet readers cannot decode), ``malformed_json``, ``malformed_line``,
    ``bad_field_count``, ``missing_field``, ``bad_timestamp``, ``bad_type``.
    """
    if formats is None:
        formats = {**config.cdn_formats, None: config.cdn_log_format}
    unknown = set(formats.values()) - set(CDN_LOG_FORMATS)
    if unknown:
        raise ValueError(
            f"unknown CDN log format(s) {sorted(unknown)}; formats are {CDN_LOG_FORMATS}"
        )
    for spec in FORMATS.values():
        if spec.check:
            spec.check(config)
    lines = _lines(raw)
    by_topic = {t: f for t, f in formats.items() if t is not None}
    default = formats.get(None)
    topic = F.col("kafka_topic")
    # Each format parses its own rows, and the results are unioned: one CASE WHEN over the
    # formats would hide each field's expression from subexpression elimination.
    parts = []
    for fmt in dict.fromkeys(formats.values()):
        spec = FORMATS[fmt]
        mine = [t for t, f in by_topic.items() if f == fmt]
        others = [t for t, f in by_topic.items() if f != fmt]
        if fmt == default:
            rows = lines if not others else lines.where(topic.isNull() | ~topic.isin(*others))
        else:
            rows = lines.where(topic.isin(*mine))
        if spec.unbatch:
            rows = spec.unbatch(rows)
        # The split line (or JSON map) as a column of its own: Spark does not inline an
        # expensive expression that many others read, so it is computed once per line.
        prepared = dict(spec.prepare(F.col("line"), config))
        for name, column in prepared.items():
            rows = rows.withColumn(name, column)
        fields = Fields()
        request, reason, detail = spec.parse(fields, config)
        request = request.withField("cdn", F.lit(config.cdn_name or spec.cdn))
        rows = rows.withColumns(fields.columns)
        if spec.checks_encoding:
            # The jar parser rejected a line that is not UTF-8 itself (its reason, no detail),
            # faster than is_valid_utf8 over every line.
            not_utf8 = F.equal_null(reason, F.lit("bad_encoding"))
            detail = F.when(not_utf8, F.lit(NOT_UTF8)).otherwise(detail)
        else:
            utf8 = F.is_valid_utf8("line")
            reason = F.when(utf8, reason).otherwise(F.lit("bad_encoding"))
            detail = F.when(utf8, detail).otherwise(F.lit(NOT_UTF8))
        # The detail names the format: a topic or a file may not say which one it was read as.
        detail = F.concat(F.lit(f"{fmt}: "), detail)
        parsed = rows.withColumns({"request": request, "reason": reason, "detail": detail})
        parts.append(parsed.drop(*prepared, *fields.columns))
    out = parts[0]
    for part in parts[1:]:
        out = out.unionByName(part)
    keep = [c for c in raw.columns if c not in ("raw", "file_fields")]
    return out.select(*keep, "line", "request", "reason", "detail")


def field_names(header: Column) -> Column:
    """The names of a ``#Fields:`` header line, separated by spaces or TABs, as an array (null for
    null)."""
    return F.split(_trim(F.regexp_replace(header, r"^#Fields:", "")), r"\s+")


def valid_cdn_requests(parsed: DataFrame) -> DataFrame:
    """The good lines of :func:`parse_cdn_logs`, flattened, with their Kafka coordinates."""
    return parsed.where(F.col("reason").isNull()).select(
        "request.*", "kafka_topic", "kafka_partition", "kafka_offset"
    )


def cdn_log_dead_letters(parsed: DataFrame) -> DataFrame:
    """The rejected lines of :func:`parse_cdn_logs` as ``dead_letter`` rows (``raw``: the line)."""
    return parsed.where(F.col("reason").isNotNull()).select(
        F.lit("cdn_logs").alias("source"),
        "reason",
        "detail",
        F.col("line").alias("raw"),
        "kafka_topic",
        "kafka_partition",
        "kafka_offset",
        F.current_timestamp().alias("received_at"),
    )


# What `\s` matches in a Java regular expression.
_WHITESPACE = " \t\n\x0b\f\r"


def _trim(text: Column) -> Column:
    r"""``text`` without leading and trailing whitespace, in one pass from each end. Not
    ``regexp_replace(text, "^\s+|\s+$", "")``: that tries ``\s+$`` from each space of an inner
    run to its end, quadratic in the run (a record of 1 MB of spaces stalled a task)."""
    return F.btrim(text, F.lit(_WHITESPACE))


def _lines(raw: DataFrame) -> DataFrame:
    """One row per non-blank, non-comment line, with the record's (or file's) #Fields line
    (``_header``, read by the CloudFront formats). A record that is one JSON document over
    several lines (a pretty-printed array or object: its first line is ``[...`` or a lone ``{``)
    stays whole, for its format's ``unbatch``."""
    text = F.col("raw")
    lines = F.col("_lines")
    multi = F.size(lines) > 1
    document = multi & lines[0].rlike(r"^\s*(\[|\{\s*$)")
    split = F.when(document, F.array(_trim(text))).otherwise(lines)
    # Only a record of several lines (a whole file sent as one record) can hold a header. A
    # regular expression, not a filter over the lines: a lambda would take the projection out of
    # generated code.
    fields_line = F.regexp_extract(text, r"(?m)^#Fields:[^\r\n]*", 0)
    header = F.when(multi & ~document & (fields_line != ""), field_names(fields_line))
    if "file_fields" in raw.columns:
        header = F.coalesce(header, F.col("file_fields"))
    keep = [c for c in raw.columns if c not in ("raw", "file_fields")]
    # The lines as a column of their own: split once per record (in the jar: one scan for
    # newlines, where most records have none), however many expressions read them.
    return (
        raw.withColumn("_lines", log_lines(text))
        .select(*keep, header.alias("_header"), F.explode(split).alias("line"))
        .where(~F.col("line").startswith("#"))
    )
