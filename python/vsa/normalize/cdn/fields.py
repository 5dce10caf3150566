"""What every format's parser is built of: a line's fields, read once each; their values; the
normalized request and its checks; :class:`CdnFormat`, what a format module provides.

Each format first becomes a lookup of its own field names (a tab-split line with its field
list, a JSON object read as a map, or the groups of one regular expression), then the same
mapping to the normalized columns, so a missing or broken field names its own reason.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F
from pyspark.sql.types import ArrayType, MapType, StringType, StructField, StructType

from vsa.config import VsaConfig
from vsa.normalize.cdn.cmcd import CMCD_FIELDS_TYPE

# The normalized request (docs/inputs.md), as each parser builds it.
REQUEST_FIELDS = (
    ("timestamp", "timestamp"),
    ("client_ip", "string"),
    ("user_agent", "string"),
    ("host", "string"),
    ("path", "string"),
    ("query", "string"),
    ("status", "int"),
    ("bytes", "bigint"),
    ("ttfb_ms", "double"),
    ("download_ms", "double"),
    ("cache_status", "string"),
    ("pop", "string"),
    ("cdn", "string"),
    ("cmcd_text", "string"),  # CMCD header values, joined (a dictionary), or null
)
JSON_MAP = MapType(StringType(), StringType())
# The column a format prepares from each line and reads its fields from.
VALUES = "_v"
# The fewest fields a CloudFront row may have: the 2016 layout's 23 (newer layouts add fields at
# the end, so an older row is read by position, its missing fields null).
MIN_TAB_FIELDS = 23

# (request, reason, detail): the request struct, and why the line is rejected (null if not).
Parsed = tuple[Column, Column, Column]
Check = tuple[Column, str, Column]  # (condition, reason, detail)
Getter = Callable[[str], Column]  # a line's field by its name


class Fields:
    """The raw fields a parser reads, each computed once per line: a column of its own
    (``columns``, added before the request is built) that the request's expressions read. Spark
    does not inline an expression that several others read, so a field read by the timestamp,
    its check and its dead-letter detail is looked up, and its ``-`` tested, once."""

    def __init__(self) -> None:
        self.columns: dict[str, Column] = {}
        self._names: dict[str, str] = {}

    def read(self, lookup: Getter) -> Getter:
        """A getter of fields by name: ``lookup(name)`` with the missing-value markers null."""

        def get(name: str) -> Column:
            if name not in self._names:
                column = f"_field{len(self._names)}"
                self._names[name] = column
                self.columns[column] = dash(lookup(name))
            return F.col(self._names[name])

        return get


@dataclass(frozen=True)
class CdnFormat:
    """One log format: how its lines become normalized requests."""

    # The `cdn` column when the configuration names none.
    cdn: str
    # The columns computed once per line (from the line's text) before the fields are read.
    prepare: Callable[[Column, VsaConfig], list[tuple[str, Column]]]
    # Reads the prepared line's fields into the request, its reason and detail.
    parse: Callable[[Fields, VsaConfig], Parsed]
    # One line per request, for a format whose line may hold many.
    unbatch: Callable[[DataFrame], DataFrame] | None = None
    # Raises ValueError for settings the format cannot use, whether or not it is parsed.
    check: Callable[[VsaConfig], None] | None = None
    # Whether `parse` itself rejects a line that is not valid UTF-8 (reason `bad_encoding`, no
    # detail), as the jar parsers do.
    checks_encoding: bool = False


# --- reading a line's fields -------------------------------------------------------------------


def tab_separated(line: Column) -> list[tuple[str, Column]]:
    """A tab-separated line's prepared column: its values."""
    return [(VALUES, F.split(line, "\t"))]


def positional(fields: Fields, names: Column, listed_by: str) -> tuple[Getter, list[Check]]:
    """(a getter of a tab-separated line's fields by their ``names``, the check that the line has
    fields enough). A row may be shorter than its list (an older layout: the fields it lacks are
    null) or longer (a trailing TAB, fields added since: ignored), but not shorter than
    :data:`MIN_TAB_FIELDS` unless its list is."""
    values = F.col(VALUES)
    too_short = (
        F.size(values) < F.least(F.size(names), F.lit(MIN_TAB_FIELDS)),
        "bad_field_count",
        F.format_string(
            f"%d tab-separated fields, fewer than the oldest layout's {MIN_TAB_FIELDS} "
            f"({listed_by} has %d)",
            F.size(values),
            F.size(names),
        ),
    )
    get = fields.read(lambda name: F.get(values, F.array_position(names, name).cast("int") - 1))
    return get, [too_short]


def json_object(line: Column) -> list[tuple[str, Column]]:
    """A JSON line's prepared column: the object, read as a map (null if it is not one)."""
    return [(VALUES, F.from_json(line, JSON_MAP))]


def json_fields(fields: Fields) -> tuple[Getter, list[Check]]:
    """(a getter of a JSON line's fields by key, the check that the line is a JSON object)."""
    values = F.col(VALUES)
    malformed = (values.isNull(), "malformed_json", F.lit("not a JSON object"))
    return fields.read(values.getItem), [malformed]


def json_entries(envelope: str | None = None) -> Callable[[DataFrame], DataFrame]:
    """The ``unbatch`` of a JSON format: a line that is a JSON array (``[{...}, ...]``, one line
    or a whole pretty-printed document) gives one line per element, as do the ``envelope`` key's
    array of an object that has one; any other line stays as it is."""
    array_schema = ArrayType(StringType())
    envelope_schema = StructType([StructField(envelope or "_", array_schema)])

    def unbatch(lines: DataFrame) -> DataFrame:
        line = F.col("line")
        start = F.ltrim(F.substring(line, 1, 64))  # the first characters: cheap on every line
        entries = F.when(start.startswith("["), F.from_json(line, array_schema))
        if envelope:
            batch = F.from_json(line, envelope_schema).getField(envelope)
            entries = entries.when(line.contains(f'"{envelope}"'), batch)
        return lines.withColumn("line", F.explode(F.coalesce(entries, F.array(line))))

    return unbatch


# --- values ------------------------------------------------------------------------------------


def dash(value: Column) -> Column:
    """Null for the formats' missing-value markers (``-`` and empty)."""
    return F.when(~value.isin("-", ""), value)


def decode(value: Column) -> Column:
    """URL-decoded text (a literal ``+`` stays a plus), the text itself if malformed."""
    return F.when(
        value.contains("%"),
        F.coalesce(F.try_url_decode(F.replace(value, F.lit("+"), F.lit("%2B"))), value),
    ).otherwise(value)


def user_agent(value: Column) -> Column:
    """A URL-encoded user agent: decoded, twice when it was encoded twice (``%2520``), without a
    literal ``User-Agent:`` prefix."""
    agent = F.ltrim(decode(decode(value)))
    prefix = "User-Agent:"
    return F.when(
        agent.startswith(prefix), F.ltrim(F.substring(agent, len(prefix) + 1, 1 << 30))
    ).otherwise(agent)


def target_path(target: Column) -> Column:
    """The path of a request target (``/a/b.ts?x=1`` → ``/a/b.ts``). substring_index, not
    split_part: Spark's split_part compiles a regular expression per row."""
    return F.substring_index(target, "?", 1)


def target_query(target: Column) -> Column:
    """The query of a request target, after its first ``?`` (null when it has none)."""
    start = F.locate("?", target)
    return F.when(start > 0, target.substr(start + 1, F.lit(1 << 30)))


def seconds_to_ms(value: Column) -> Column:
    return finite(value.try_cast("double") * 1000)


def finite(duration: Column) -> Column:
    """A duration, null unless finite: ``NaN``, ``Infinity`` and ``1e999`` (or a finite value
    that overflows when scaled) are not durations, and :func:`validate` rejects their text as
    ``bad_type`` (no KPI can use them: a percentile of Infinity, a chart's axis)."""
    return F.when(F.abs(duration) < F.lit(float("inf")), duration)


def epoch_seconds(value: Column) -> Column:
    micros = (value.try_cast("decimal(20,6)") * 1_000_000).try_cast("long")
    return F.timestamp_micros(micros)


def cache(value: Column, hits: Sequence[str], misses: Sequence[str]) -> Column:
    """``HIT``, ``MISS`` or ``OTHER`` from a format's cache result (case-insensitive)."""
    upper = F.upper(value)
    return (
        F.when(upper.isin(*hits), F.lit("HIT"))
        .when(upper.isin(*misses), F.lit("MISS"))
        .when(value.isNotNull(), F.lit("OTHER"))
    )


# --- the request -------------------------------------------------------------------------------


def normalized(**columns: Column) -> Column:
    """The normalized struct, in :data:`REQUEST_FIELDS` order, nulls for what a format lacks."""
    return F.struct(
        *[
            columns.get(name, F.lit(None)).cast(kind).alias(name)
            for name, kind in REQUEST_FIELDS
            if name != "cdn"
        ],
        F.lit(None).cast("string").alias("cdn"),
        F.lit(None).cast(CMCD_FIELDS_TYPE).alias("cmcd_fields"),
    )


def parsed_in_jar(parsed: Column, **given: Column) -> Parsed:
    """(request, reason, detail) of a jar parser's struct (``vsa_parse_cloudfront``, ...): its
    request fields in :data:`REQUEST_FIELDS` order (``given`` ones replaced: what the line does
    not say, such as nginx's PoP), its checks already made."""
    names = [name for name, _ in REQUEST_FIELDS if name != "cdn"]
    request = normalized(**{name: given.get(name, parsed.getField(name)) for name in names})
    return request, parsed.getField("reason"), parsed.getField("detail")


def validate(request: Column, first: list[Check], text: dict[str, Column]) -> Parsed:
    """(request, reason, detail): ``first`` are format-level checks (condition, reason,
    detail); then the shared ones: a timestamp and a status must be there and be valid, and
    the numbers must be numbers (durations finite ones, see :func:`finite`)."""
    checks = list(first)
    for name in ("timestamp", "status"):
        checks.append((text[name].isNull(), "missing_field", F.lit(f"missing: {name}")))
    checks.append(
        (
            request.getField("timestamp").isNull(),
            "bad_timestamp",
            F.concat(F.lit("not a timestamp: "), F.left(text["timestamp"], F.lit(64))),
        )
    )
    for name in ("status", "bytes", "ttfb_ms", "download_ms"):
        if name in text:
            checks.append(
                (
                    text[name].isNotNull() & request.getField(name).isNull(),
                    "bad_type",
                    F.concat(F.lit(f"{name} is not a number: "), F.left(text[name], F.lit(64))),
                )
            )
    reason = detail = None
    for condition, code, why in checks:
        if reason is None:
            reason, detail = F.when(condition, F.lit(code)), F.when(condition, why)
        else:
            reason, detail = reason.when(condition, F.lit(code)), detail.when(condition, why)
    return request, reason, detail
