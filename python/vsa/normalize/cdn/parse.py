"""Log records → lines → one request (or one reason to reject the line) per line, each format
by its jar parser (:data:`vsa.normalize.cdn.formats.FORMATS`); then the good lines and the dead
letters.

Header and comment lines (``#Version``, ``#Fields``) are not requests and are dropped; a record
may hold several lines (a whole log file sent as one Kafka record): the ``#Fields`` line inside
it then gives the field order of the lines after it.
"""

from __future__ import annotations

from collections.abc import Mapping

from pyspark.errors import AnalysisException
from pyspark.sql import Column, DataFrame, SparkSession
from pyspark.sql import functions as F

from vsa.config import CDN_LOG_FORMATS, VsaConfig
from vsa.functions import log_lines
from vsa.normalize.cdn.formats import FORMATS, CdnFormat

# The jar parser's struct: the request's columns, then why the line is rejected (null if not).
_VERDICT = ("reason", "detail")
# The parsed line, a column of its own: Spark does not inline an expensive expression that many
# others read, so each line is parsed once.
_PARSED = "_parsed"


def parse_cdn_logs(
    raw: DataFrame, config: VsaConfig, formats: Mapping[str | None, str] | None = None
) -> DataFrame:
    """CDN log records → one row per log line: ``line`` (the line's text), ``request`` (the
    normalized request: the columns of the jar parsers' struct, docs/inputs.md, and ``cdn``),
    ``reason`` and ``detail`` (null for a good line).

    ``raw`` has the columns of :mod:`vsa.sources` and, for files, optionally ``file_fields``
    (the names of the file's ``#Fields:`` line, :func:`field_names`). ``formats`` maps a Kafka
    topic to its format; the key ``None`` is the format of records without a topic (files)
    and of topics not listed.
    Default: ``config.cdn_formats`` and ``config.cdn_log_format`` for the rest.
    Reasons: ``bad_encoding`` (a line that is not valid UTF-8: no table may hold a string
    some Parquet readers cannot decode), ``malformed_json``, ``malformed_line``,
    ``bad_field_count``, ``missing_field``, ``bad_timestamp``, ``bad_type``.
    Raises ValueError for an unknown format, or settings a format cannot use (such as a
    ``fastly_field_map`` name the preset lacks), whether or not that format is parsed.
    """
    if formats is None:
        formats = {**config.cdn_formats, None: config.cdn_log_format}
    unknown = set(formats.values()) - set(CDN_LOG_FORMATS)
    if unknown:
        raise ValueError(
            f"unknown CDN log format(s) {sorted(unknown)}; formats are {CDN_LOG_FORMATS}"
        )
    _check_settings(raw.sparkSession, config)
    lines = _lines(raw)
    by_topic = {t: f for t, f in formats.items() if t is not None}
    default = formats.get(None)
    topic = F.col("kafka_topic")
    # Each format parses its own rows, and the results are unioned: one CASE WHEN over the
    # formats would make every row pay for the check of each.
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
        rows = rows.withColumn(_PARSED, spec.parse(F.col("line"), config))
        parsed = F.col(_PARSED)
        reason = parsed.getField("reason")
        # The detail names the format: a topic or a file may not say which one it was read as.
        detail = F.concat(F.lit(f"{fmt}: "), parsed.getField("detail"))
        request = _request(rows, spec, config)
        rows = rows.withColumns({"request": request, "reason": reason, "detail": detail})
        parts.append(rows.drop(_PARSED))
    out = parts[0]
    for part in parts[1:]:
        out = out.unionByName(part)
    keep = [c for c in raw.columns if c not in ("raw", "file_fields")]
    return out.select(*keep, "line", "request", "reason", "detail")


def _request(rows: DataFrame, spec: CdnFormat, config: VsaConfig) -> Column:
    """The normalized request of the parsed line: the parser's columns but its verdict, those
    the configuration gives instead, and ``cdn`` after ``pop``."""
    given = spec.given(config) if spec.given else {}
    names = [n for n in rows.schema[_PARSED].dataType.names if n not in _VERDICT]
    columns = []
    for name in names:
        columns.append(given.get(name, F.col(_PARSED).getField(name)).alias(name))
        if name == "pop":
            columns.append(F.lit(config.cdn_name or spec.cdn).alias("cdn"))
    return F.struct(*columns)


def _check_settings(spark: SparkSession, config: VsaConfig) -> None:
    """Raises ValueError for settings a format's parser cannot use: each parser is analyzed
    with the configuration (no data read), so a wrong setting fails before any stream starts."""
    empty = spark.range(0).select(
        F.lit(None).cast("string").alias("line"),
        F.lit(None).cast("array<string>").alias("_header"),
    )
    for name, spec in FORMATS.items():
        try:
            empty.select(spec.parse(F.col("line"), config)).schema  # noqa: B018 (analyzes it)
        except AnalysisException as error:
            raise ValueError(f"{name}: {error}") from None


def field_names(header: Column) -> Column:
    """The names of a ``#Fields:`` header line, separated by spaces or TABs, as an array (null for
    null)."""
    return F.split(_trim(F.regexp_replace(header, r"^#Fields:", "")), r"\s+")


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
