"""CDN access logs (spec/inputs.md): six vendor formats into one normalized request schema.

Each format first becomes a lookup of its own field names (a tab-split line with its field
list, a JSON object read as a map, or the groups of one regular expression), then the same
mapping to the normalized columns, so a missing or broken field names its own reason. Header
and comment lines (``#Version``, ``#Fields``) are not requests and are dropped; a record may
hold several lines (a whole log file sent as one Kafka record): the ``#Fields`` line inside it
then gives the field order of the lines after it.

CMCD (from the ``CMCD`` query argument or the CMCD request headers) is parsed in the jar by
``vsa_parse_cmcd``; see :func:`with_cmcd`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F
from pyspark.sql.types import ArrayType, MapType, StringType, StructField, StructType

from vsa.config import CDN_LOG_FORMATS as FORMATS
from vsa.config import VsaConfig
from vsa.functions import parse_cmcd

# The `cdn` column when the configuration names none.
DEFAULT_CDN = {
    "cloudfront": "cloudfront",
    "cloudfront-realtime": "cloudfront",
    "akamai-ds2": "akamai",
    "edgecast": "edgecast",
    "fastly": "fastly",
    "nginx": "nginx",
}

# CloudFront standard logs, the 33 fields of the documented order (used when a file or record
# has no `#Fields:` line of its own).
CLOUDFRONT_FIELDS = [
    "date",
    "time",
    "x-edge-location",
    "sc-bytes",
    "c-ip",
    "cs-method",
    "cs(Host)",
    "cs-uri-stem",
    "sc-status",
    "cs(Referer)",
    "cs(User-Agent)",
    "cs-uri-query",
    "cs(Cookie)",
    "x-edge-result-type",
    "x-edge-request-id",
    "x-host-header",
    "cs-protocol",
    "cs-bytes",
    "time-taken",
    "x-forwarded-for",
    "ssl-protocol",
    "ssl-cipher",
    "x-edge-response-result-type",
    "cs-protocol-version",
    "fle-status",
    "fle-encrypted-fields",
    "c-port",
    "time-to-first-byte",
    "x-edge-detailed-result-type",
    "sc-content-type",
    "sc-content-len",
    "sc-range-start",
    "sc-range-end",
]

# CloudFront real-time logs are positional: the fields chosen in the real-time log
# configuration, in CloudFront's order. This default is that order for the fields the
# normalized schema reads plus the CMCD fields; set `VsaConfig.cloudfront_realtime_fields` to
# the configuration's own list.
CLOUDFRONT_REALTIME_FIELDS = [
    "timestamp",
    "c-ip",
    "time-to-first-byte",
    "sc-status",
    "sc-bytes",
    "cs-method",
    "cs-protocol",
    "cs-host",
    "cs-uri-stem",
    "cs-bytes",
    "x-edge-location",
    "x-edge-request-id",
    "x-host-header",
    "time-taken",
    "cs-protocol-version",
    "c-ip-version",
    "cs-user-agent",
    "cs-referer",
    "cs-cookie",
    "cs-uri-query",
    "x-edge-response-result-type",
    "x-forwarded-for",
    "ssl-protocol",
    "ssl-cipher",
    "x-edge-result-type",
    "fle-encrypted-fields",
    "fle-status",
    "sc-content-type",
    "sc-content-len",
    "sc-range-start",
    "sc-range-end",
    "c-port",
    "x-edge-detailed-result-type",
    "c-country",
    "cs-accept-encoding",
    "cs-accept",
    "cache-behavior-path-pattern",
    "cs-headers",
    "cs-header-names",
    "cs-headers-count",
    "primary-distribution-id",
    "primary-distribution-dns-name",
    "origin-fbl",
    "origin-lbl",
    "asn",
    "cmcd-encoded-bitrate",
    "cmcd-buffer-length",
    "cmcd-buffer-starvation",
    "cmcd-content-id",
    "cmcd-object-duration",
    "cmcd-deadline",
    "cmcd-measured-throughput",
    "cmcd-next-object-request",
    "cmcd-next-range-request",
    "cmcd-object-type",
    "cmcd-playback-rate",
    "cmcd-requested-maximum-throughput",
    "cmcd-streaming-format",
    "cmcd-session-id",
    "cmcd-stream-type",
    "cmcd-startup",
    "cmcd-top-bitrate",
    "cmcd-version",
]

# The CloudFront real-time CMCD fields and the CMCD key each carries.
CLOUDFRONT_CMCD_FIELDS = {
    "cmcd-encoded-bitrate": "br",
    "cmcd-buffer-length": "bl",
    "cmcd-buffer-starvation": "bs",
    "cmcd-content-id": "cid",
    "cmcd-object-duration": "d",
    "cmcd-deadline": "dl",
    "cmcd-measured-throughput": "mtp",
    "cmcd-next-object-request": "nor",
    "cmcd-next-range-request": "nrr",
    "cmcd-object-type": "ot",
    "cmcd-playback-rate": "pr",
    "cmcd-requested-maximum-throughput": "rtp",
    "cmcd-streaming-format": "sf",
    "cmcd-session-id": "sid",
    "cmcd-stream-type": "st",
    "cmcd-startup": "su",
    "cmcd-top-bitrate": "tb",
    "cmcd-version": "v",
}

# vsa's Fastly JSON preset (docs/cdn.md gives the VCL log format that writes it): normalized
# name → JSON key. `VsaConfig.fastly_field_map` overrides any of these keys.
FASTLY_PRESET = {
    "timestamp": "timestamp",  # ISO-8601 with offset, or epoch seconds
    "client_ip": "client_ip",
    "user_agent": "user_agent",
    "host": "host",
    "url": "url",  # path and query
    "status": "status",
    "bytes": "bytes",
    "elapsed_us": "time_elapsed",  # time.elapsed.usec
    "ttfb_s": "time_to_first_byte",  # time.to_first_byte, seconds
    "cache_state": "fastly_info_state",  # fastly_info.state
    "pop": "pop",  # server.datacenter
    "cmcd": "cmcd",  # any of the four CMCD headers, joined by ","
}

# The normalized request (inputs.md), as each parser builds it.
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
_CMCD_FIELD_TYPES = {"bs": "boolean", "su": "boolean", "pr": "double"}
_CMCD_TEXT_KEYS = ("cid", "nor", "nrr", "ot", "sf", "sid", "st")
# CloudFront real-time's cmcd-* fields, typed as vsa_parse_cmcd types the same keys; null in
# the other formats.
CMCD_FIELDS_TYPE = "struct<{}>".format(
    ",".join(
        f"{key}:{_CMCD_FIELD_TYPES.get(key, 'string' if key in _CMCD_TEXT_KEYS else 'bigint')}"
        for key in CLOUDFRONT_CMCD_FIELDS.values()
    )
)
# CMCD keys with a typed column (the fields of `vsa_parse_cmcd`'s struct but `other`, `error`).
CMCD_KEYS = [
    "br",
    "bl",
    "bs",
    "bsd",
    "cdn",
    "cid",
    "d",
    "dl",
    "e",
    "msd",
    "mtp",
    "nor",
    "nrr",
    "ot",
    "pr",
    "rtp",
    "sf",
    "sid",
    "st",
    "sta",
    "su",
    "tb",
    "ts",
    "ttfb",
    "ttlb",
    "v",
]
CMCD_OBJECT_TYPES = {
    "m": "manifest",
    "a": "audio",
    "v": "video",
    "av": "muxed",
    "i": "init",
    "c": "caption",
    "tt": "timed_text",
    "k": "key",
    "o": "other",
}

_MAP = MapType(StringType(), StringType())
_DATE = r"^\d{4}-\d{2}-\d{2}$"
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
_EDGECAST_BATCH = StructType([StructField("logs", ArrayType(_MAP))])
# nginx combined, with the extended variant's `rt=... ut="..." cs=...` optional at the end.
# Possessive quantifiers: a line that does not match fails at once, without backtracking.
_NGINX = (
    r'^(\S++) \S++ \S++ \[([^\]]++)\] "((?:[^"\\]++|\\.)*+)" (\d{3}) (\d++|-) '
    r'"((?:[^"\\]++|\\.)*+)" "((?:[^"\\]++|\\.)*+)"'
    r'(?: rt=(\S++) ut="?([^"]*?)"? cs=(\S++))?\s*$'
)
_NGINX_GROUPS = [
    "remote_addr",
    "time_local",
    "request",
    "status",
    "body_bytes_sent",
    "http_referer",
    "http_user_agent",
    "request_time",
    "upstream_response_time",
    "upstream_cache_status",
]


def parse_cdn_logs(
    raw: DataFrame, config: VsaConfig, formats: Mapping[str | None, str] | None = None
) -> DataFrame:
    """CDN log records → one row per log line: ``line`` (the line's text), ``request`` (a
    struct of :data:`REQUEST_FIELDS`), ``reason`` and ``detail`` (null for a good line).

    ``raw`` has the columns of :mod:`vsa.sources` and, for files, optionally ``file_fields``
    (the names of the file's ``#Fields:`` line, :func:`field_names`). ``formats`` maps a Kafka
    topic to its format; the key ``None`` is the format of records without a topic (files)
    and of topics not listed.
    Default: ``config.cdn_formats`` and ``config.cdn_log_format`` for the rest.
    Reasons: ``malformed_json``, ``malformed_line``, ``bad_field_count``, ``missing_field``,
    ``bad_timestamp``, ``bad_type``.
    """
    if formats is None:
        formats = {**config.cdn_formats, None: config.cdn_log_format}
    unknown = set(formats.values()) - set(FORMATS)
    if unknown:
        raise ValueError(f"unknown CDN log format(s) {sorted(unknown)}; formats are {FORMATS}")
    unknown_keys = set(config.fastly_field_map) - set(FASTLY_PRESET)
    if unknown_keys:
        raise ValueError(
            f"fastly field map: unknown names {sorted(unknown_keys)}; names are "
            f"{', '.join(FASTLY_PRESET)}"
        )
    names = {f: config.cdn_name or DEFAULT_CDN[f] for f in FORMATS}
    lines = _lines(raw)
    options = {
        "pop": config.cdn_pop,
        "realtime_fields": list(config.cloudfront_realtime_fields or CLOUDFRONT_REALTIME_FIELDS),
        "fastly_fields": {**FASTLY_PRESET, **config.fastly_field_map},
    }
    by_topic = {t: f for t, f in formats.items() if t is not None}
    default = formats.get(None)
    topic = F.col("kafka_topic")
    # Each format parses its own rows, and the results are unioned: one CASE WHEN over the
    # formats would hide each field's expression from subexpression elimination.
    parts = []
    for fmt in dict.fromkeys(formats.values()):
        mine = [t for t, f in by_topic.items() if f == fmt]
        others = [t for t, f in by_topic.items() if f != fmt]
        if fmt == default:
            rows = lines if not others else lines.where(topic.isNull() | ~topic.isin(*others))
        else:
            rows = lines.where(topic.isin(*mine))
        if fmt == "edgecast":  # its batched form holds many requests in one record
            rows = _unbatch_edgecast(rows)
        # The split line (or JSON map) as a column of its own: Spark does not inline an
        # expensive expression that many others read, so it is computed once per line.
        prepared = dict(_PREPARE[fmt](F.col("line")))
        for name, column in prepared.items():
            rows = rows.withColumn(name, column)
        fields = _Fields()
        request, reason, detail = _PARSERS[fmt](fields, options)
        request = request.withField("cdn", F.lit(names[fmt]))
        rows = rows.withColumns(fields.columns)
        parsed = rows.withColumns({"request": request, "reason": reason, "detail": detail})
        parts.append(parsed.drop(*prepared, *fields.columns))
    out = parts[0]
    for part in parts[1:]:
        out = out.unionByName(part)
    keep = [c for c in raw.columns if c not in ("raw", "file_fields")]
    return out.select(*keep, "line", "request", "reason", "detail")


def field_names(header: Column) -> Column:
    """The names of a ``#Fields:`` header line, as an array (null for null)."""
    return F.split(F.trim(F.regexp_replace(header, "^#Fields:", "")), r"\s+")


def _nginx_parts() -> Column:
    joined = F.col("_joined")
    return F.when(joined.startswith("\u0002"), F.split(F.substring(joined, 2, 1 << 30), "\u0001"))


# Per format, the columns computed once per line before the fields are read.
_PREPARE: dict[str, Callable[[Column], list[tuple[str, Column]]]] = {
    "cloudfront": lambda line: [
        ("_v", F.split(line, "\t")),
        ("_names", F.coalesce("_header", F.array(*map(F.lit, CLOUDFRONT_FIELDS)))),
    ],
    "cloudfront-realtime": lambda line: [("_v", F.split(line, "\t"))],
    "akamai-ds2": lambda line: [("_v", F.from_json(line, _MAP))],
    "edgecast": lambda line: [("_v", F.from_json(line, _MAP))],
    "fastly": lambda line: [("_v", F.from_json(line, _MAP))],
    "nginx": lambda line: [
        (
            "_joined",
            F.regexp_replace(
                line,
                _NGINX,
                "\u0002" + "\u0001".join(f"${i + 1}" for i in range(len(_NGINX_GROUPS))),
            ),
        ),
        ("_v", _nginx_parts()),
    ],
}


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


def with_cmcd(requests: DataFrame) -> DataFrame:
    """Adds the typed CMCD columns ``cmcd_<key>``, ``cmcd_other`` (map of the other keys) and
    ``cmcd_error`` (why a request's CMCD could not be read), then ``object_type``.

    CMCD comes from the ``CMCD`` query argument when there is one, else from the CMCD header
    values the format carries (``cmcd_text``, a dictionary); CloudFront real-time's
    ``cmcd-*`` fields fill the keys neither had (``cmcd_fields``, when present).
    """
    query = F.col("query")
    # One call per row: the query (as a query string) if it has CMCD, else the header values.
    text = F.coalesce(F.when(query.contains("CMCD="), F.concat(F.lit("?"), query)), "cmcd_text")
    cmcd = parse_cmcd(text)
    out = requests.withColumn("_cmcd", cmcd)
    fields = "cmcd_fields" in requests.columns  # absent when a caller built its own rows
    columns = {}
    for key in CMCD_KEYS:
        value = F.col("_cmcd").getField(key)
        if fields and key in CLOUDFRONT_CMCD_FIELDS.values():
            value = F.coalesce(value, F.col("cmcd_fields").getField(key))
        if fields and key == "v":  # 1 when omitted, as vsa_parse_cmcd has it
            value = F.coalesce(value, F.when(F.col("cmcd_fields").isNotNull(), F.lit(1)))
        columns[f"cmcd_{key}"] = value
    columns["cmcd_other"] = F.col("_cmcd.other")
    columns["cmcd_error"] = F.col("_cmcd.error")
    out = out.withColumns(columns).drop("_cmcd", "cmcd_text", *(["cmcd_fields"] if fields else []))
    return out.withColumn("object_type", object_type(F.col("cmcd_ot"), F.col("path")))


def object_type(cmcd_ot: Column, path: Column) -> Column:
    """The CMCD object type's name when ``ot`` is given, else one guessed from the path:
    manifest, video, audio, muxed, init, caption, timed_text, key or other."""
    named = F.lit(None).cast("string")
    for token, name in CMCD_OBJECT_TYPES.items():
        named = F.when(cmcd_ot == token, F.lit(name)).otherwise(named)
    # String functions rather than regular expressions: this runs for every request.
    p = F.lower(path)
    name = F.substring_index(p, "/", -1)
    ext = F.substring_index(name, ".", -1)
    segment = ext.isin("ts", "m4s", "mp4", "cmfv", "cmfa", "m4v", "webm", "m2ts", "m4f")
    guessed = (
        F.when(ext.isin("m3u8", "mpd", "f4m") | name.startswith("manifest"), F.lit("manifest"))
        .when(name.contains("init") | ext.isin("m4i", "mp4i"), F.lit("init"))
        .when(ext.isin("vtt", "webvtt", "srt", "ttml", "dfxp"), F.lit("caption"))
        .when(ext == "key", F.lit("key"))
        .when(ext.isin("aac", "m4a", "mp3", "ac3", "ec3", "opus", "cmfa"), F.lit("audio"))
        .when(segment & p.contains("audio"), F.lit("audio"))
        .when(segment, F.lit("video"))
        .when(p.isNotNull(), F.lit("other"))
    )
    return F.when(cmcd_ot.isNotNull(), F.coalesce(named, F.lit("other"))).otherwise(guessed)


# --- one record → lines ------------------------------------------------------------------------


def _lines(raw: DataFrame) -> DataFrame:
    """One row per non-blank, non-comment line, with the record's (or file's) #Fields line."""
    text = F.col("raw")
    split = F.when(text.contains("\n"), F.split(text, r"\r?\n")).otherwise(F.array(text))
    # Only a record of several lines (a whole file sent as one record) can hold a header.
    header = F.when(
        text.contains("\n"),
        field_names(
            F.try_element_at(F.filter(split, lambda line: line.startswith("#Fields:")), F.lit(1))
        ),
    )
    if "file_fields" in raw.columns:
        header = F.coalesce(header, F.col("file_fields"))
    keep = [c for c in raw.columns if c not in ("raw", "file_fields")]
    return (
        raw.select(*keep, header.alias("_header"), F.explode(split).alias("line"))
        .withColumn(
            "line",
            F.when(
                F.col("line").endswith("\r"), F.expr("substring(line, 1, length(line) - 1)")
            ).otherwise(F.col("line")),
        )
        .where((F.trim("line") != "") & ~F.col("line").startswith("#"))
    )


def _unbatch_edgecast(lines: DataFrame) -> DataFrame:
    """RTLD's batched form (``{"logs": [...], ...}``) → one line per request, as JSON."""
    batch = F.from_json("line", _EDGECAST_BATCH).getField("logs")
    many = F.col("line").contains('"logs"') & batch.isNotNull()
    items = F.when(many, F.transform(batch, lambda m: F.to_json(m))).otherwise(
        F.array(F.col("line"))
    )
    return lines.withColumn("line", F.explode(items))


# --- one parser per format ----------------------------------------------------------------------


class _Fields:
    """The raw fields a parser reads, each computed once per line: a column of its own
    (``columns``, added before the request is built) that the request's expressions read. Spark
    does not inline an expression that several others read, so a field read by the timestamp,
    its check and its dead-letter detail is looked up, and its ``-`` tested, once."""

    def __init__(self) -> None:
        self.columns: dict[str, Column] = {}
        self._names: dict[str, str] = {}

    def read(self, lookup: Callable[[str], Column]) -> Callable[[str], Column]:
        """A getter of fields by name: ``lookup(name)`` with the missing-value markers null."""

        def get(name: str) -> Column:
            if name not in self._names:
                column = f"_field{len(self._names)}"
                self._names[name] = column
                self.columns[column] = _dash(lookup(name))
            return F.col(self._names[name])

        return get


def _dash(value: Column) -> Column:
    """Null for the formats' missing-value markers (``-`` and empty)."""
    return F.when(~value.isin("-", ""), value)


def _decode(value: Column) -> Column:
    """URL-decoded text (a literal ``+`` stays a plus), the text itself if malformed."""
    return F.when(
        value.contains("%"),
        F.coalesce(F.try_url_decode(F.replace(value, F.lit("+"), F.lit("%2B"))), value),
    ).otherwise(value)


def _path(target: Column) -> Column:
    """The path of a request target (``/a/b.ts?x=1`` → ``/a/b.ts``). substring_index, not
    split_part: Spark's split_part compiles a regular expression per row."""
    return F.substring_index(target, "?", 1)


def _query(target: Column) -> Column:
    """The query of a request target, after its first ``?`` (null when it has none)."""
    start = F.locate("?", target)
    return F.when(start > 0, target.substr(start + 1, F.lit(1 << 30)))


def _seconds_to_ms(value: Column) -> Column:
    return value.try_cast("double") * 1000


def _epoch_seconds(value: Column) -> Column:
    micros = (value.try_cast("decimal(20,6)") * 1_000_000).try_cast("long")
    return F.timestamp_micros(micros)


def _cache(value: Column, hits: Sequence[str], misses: Sequence[str]) -> Column:
    upper = F.upper(value)
    return (
        F.when(upper.isin(*hits), F.lit("HIT"))
        .when(upper.isin(*misses), F.lit("MISS"))
        .when(value.isNotNull(), F.lit("OTHER"))
    )


def _nginx_time(text: Column) -> Column:
    """``$time_local`` (``10/Oct/2000:13:55:36 -0700``) as ISO-8601 text, read by a cast (a
    datetime pattern costs ~20x more per row)."""
    month = F.lit(None).cast("string")
    for n, name in enumerate(_MONTHS, 1):
        month = F.when(F.substring(text, 4, 3) == name, F.lit(f"{n:02d}")).otherwise(month)
    iso = F.concat(
        F.substring(text, 8, 4),
        F.lit("-"),
        month,
        F.lit("-"),
        F.substring(text, 1, 2),
        F.lit("T"),
        F.substring(text, 13, 8),
        F.substring(text, 22, 3),
        F.lit(":"),
        F.substring(text, 25, 2),
    )
    shape = r"^\d{2}/[A-Z][a-z]{2}/\d{4}:\d{2}:\d{2}:\d{2} [+-]\d{4}$"
    return F.when(text.rlike(shape), iso.try_cast("timestamp"))


def _request(**columns: Column) -> Column:
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


def _validate(
    request: Column,
    first: list[tuple[Column, str, Column]],
    text: dict[str, Column],
) -> tuple[Column, Column, Column]:
    """(request, reason, detail): ``first`` are format-level checks (condition, reason,
    detail); then the shared ones: a timestamp and a status must be there and be valid, and
    the numbers must be numbers."""
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


def _positional(fields: _Fields, names: Column) -> tuple[Callable[[str], Column], Column]:
    values = F.col("_v")
    return (
        fields.read(lambda name: F.get(values, F.array_position(names, name).cast("int") - 1)),
        F.size(values) != F.size(names),
    )


def _cloudfront(fields: _Fields, options: dict) -> tuple[Column, Column, Column]:
    names = F.col("_names")
    get, wrong_count = _positional(fields, names)
    date, time = get("date"), get("time")
    # ISO-8601 text read by a cast: ~20x cheaper per row than a datetime pattern.
    stamp = F.concat(date, F.lit("T"), time, F.lit("Z"))
    text = {
        "timestamp": F.when(date.isNotNull() & time.isNotNull(), stamp),
        "status": get("sc-status"),
        "bytes": get("sc-bytes"),
        "ttfb_ms": get("time-to-first-byte"),
        "download_ms": get("time-taken"),
    }
    request = _request(
        timestamp=F.when(date.rlike(_DATE), text["timestamp"].try_cast("timestamp")),
        client_ip=get("c-ip"),
        user_agent=_decode(get("cs(User-Agent)")),
        host=F.coalesce(get("x-host-header"), get("cs(Host)")),
        path=get("cs-uri-stem"),
        query=get("cs-uri-query"),
        status=text["status"].try_cast("int"),
        bytes=text["bytes"].try_cast("bigint"),
        ttfb_ms=_seconds_to_ms(text["ttfb_ms"]),
        download_ms=_seconds_to_ms(text["download_ms"]),
        cache_status=_cache(get("x-edge-result-type"), ("HIT", "REFRESHHIT"), ("MISS",)),
        pop=get("x-edge-location"),
    )
    first = [
        (
            wrong_count,
            "bad_field_count",
            F.format_string(
                "%d tab-separated fields, the #Fields list has %d",
                F.size(F.col("_v")),
                F.size(names),
            ),
        )
    ]
    return _validate(request, first, text)


def _cloudfront_realtime(fields: _Fields, options: dict) -> tuple[Column, Column, Column]:
    configured = options["realtime_fields"]
    names = F.array(*map(F.lit, configured))
    get, wrong_count = _positional(fields, names)
    text = {
        "timestamp": get("timestamp"),
        "status": get("sc-status"),
        "bytes": get("sc-bytes"),
        "ttfb_ms": get("time-to-first-byte"),
        "download_ms": get("time-taken"),
    }
    request = _request(
        timestamp=_epoch_seconds(text["timestamp"]),
        client_ip=get("c-ip"),
        user_agent=_decode(get("cs-user-agent")),
        host=F.coalesce(get("x-host-header"), get("cs-host")),
        path=get("cs-uri-stem"),
        query=get("cs-uri-query"),
        status=text["status"].try_cast("int"),
        bytes=text["bytes"].try_cast("bigint"),
        ttfb_ms=_seconds_to_ms(text["ttfb_ms"]),
        download_ms=_seconds_to_ms(text["download_ms"]),
        cache_status=_cache(get("x-edge-result-type"), ("HIT", "REFRESHHIT"), ("MISS",)),
        pop=get("x-edge-location"),
    )
    # The cmcd-* fields, typed as vsa_parse_cmcd types them (with_cmcd coalesces them in).
    cmcd = {}
    for field, key in CLOUDFRONT_CMCD_FIELDS.items():
        value = get(field) if field in configured else F.lit(None).cast("string")
        if key in ("bs", "su"):
            value = F.coalesce(F.lower(value).isin("true", "1"), F.lit(False))
        elif key == "pr":
            value = value.try_cast("double")
        elif key in ("br", "bl", "d", "dl", "mtp", "rtp", "tb", "v"):
            value = value.try_cast("bigint")
        cmcd[key] = value
    any_cmcd = F.lit(False)
    for field in CLOUDFRONT_CMCD_FIELDS:
        if field in configured:
            any_cmcd = any_cmcd | get(field).isNotNull()
    cmcd_fields = F.when(any_cmcd, F.struct(*[v.alias(k) for k, v in cmcd.items()])).cast(
        CMCD_FIELDS_TYPE
    )
    request = request.withField("cmcd_fields", cmcd_fields)
    first = [
        (
            wrong_count,
            "bad_field_count",
            F.format_string(
                "%d tab-separated fields, the configured real-time field list has %d",
                F.size(F.col("_v")),
                F.lit(len(configured)),
            ),
        )
    ]
    return _validate(request, first, text)


def _json_fields(fields: _Fields) -> tuple[Callable[[str], Column], Column]:
    values = F.col("_v")
    return fields.read(values.getItem), values.isNull()


def _malformed_json(bad: Column) -> list[tuple[Column, str, Column]]:
    return [(bad, "malformed_json", F.lit("not a JSON object"))]


def _akamai(fields: _Fields, options: dict) -> tuple[Column, Column, Column]:
    get, bad = _json_fields(fields)
    turnaround, transfer = get("turnAroundTimeMSec"), get("transferTimeMSec")
    text = {
        "timestamp": get("reqTimeSec"),
        "status": get("statusCode"),
        "bytes": F.coalesce(get("bytes"), get("totalBytes")),
        "ttfb_ms": F.coalesce(get("timeToFirstByte"), turnaround),
        "download_ms": F.coalesce(turnaround, transfer),
    }
    request = _request(
        timestamp=_epoch_seconds(text["timestamp"]),
        client_ip=get("cliIP"),
        user_agent=_decode(get("UA")),
        host=get("reqHost"),
        path=_decode(get("reqPath")),
        query=get("queryStr"),
        status=text["status"].try_cast("int"),
        bytes=text["bytes"].try_cast("bigint"),
        ttfb_ms=text["ttfb_ms"].try_cast("double"),
        # Turnaround (to the first byte) plus transfer (first to last byte).
        download_ms=F.coalesce(turnaround.try_cast("double"), F.lit(0.0))
        + F.coalesce(transfer.try_cast("double"), F.lit(0.0)),
        cache_status=_cache(get("cacheStatus"), ("1",), ("0",)),
        pop=F.coalesce(get("serverCountry"), get("edgeIP")),
        cmcd_text=_decode(get("cmcd")),
    )
    request = request.withField(
        "download_ms",
        F.when(text["download_ms"].isNotNull(), request.getField("download_ms")),
    )
    return _validate(request, _malformed_json(bad), text)


def _edgecast(fields: _Fields, options: dict) -> tuple[Column, Column, Column]:
    get, bad = _json_fields(fields)
    text = {
        "timestamp": get("timestamp"),
        "status": get("status_code"),
        "bytes": get("bytes_out"),
        "download_ms": get("write_time"),
    }
    hits = ("TCP_HIT", "TCP_MEM_HIT", "TCP_EXPIRED_HIT", "TCP_PARTIAL_HIT", "TCP_REFRESH_HIT")
    misses = ("TCP_MISS", "TCP_EXPIRED_MISS", "TCP_CLIENT_REFRESH_MISS", "TCP_REFRESH_MISS")
    request = _request(
        timestamp=_epoch_seconds(text["timestamp"]),
        client_ip=get("client_ip"),
        user_agent=get("user_agent"),
        host=get("host"),
        path=get("path"),
        query=F.regexp_replace(get("query"), r"^\?", ""),
        status=text["status"].try_cast("int"),
        bytes=text["bytes"].try_cast("bigint"),
        download_ms=_seconds_to_ms(text["download_ms"]),
        cache_status=_cache(get("cache_status"), hits, misses),
        pop=get("pop"),
        cmcd_text=get("cmcd"),
    )
    return _validate(request, _malformed_json(bad), text)


def _fastly(fields: _Fields, options: dict) -> tuple[Column, Column, Column]:
    get_key, bad = _json_fields(fields)
    keys = options["fastly_fields"]

    def get(name: str) -> Column:
        return get_key(keys[name])

    url = get("url")
    stamp = get("timestamp")
    text = {
        "timestamp": stamp,
        "status": get("status"),
        "bytes": get("bytes"),
        "ttfb_ms": get("ttfb_s"),
        "download_ms": get("elapsed_us"),
    }
    request = _request(
        timestamp=F.coalesce(_epoch_seconds(stamp), F.try_to_timestamp(stamp)),
        client_ip=get("client_ip"),
        user_agent=get("user_agent"),
        host=get("host"),
        path=_path(url),
        query=_query(url),
        status=text["status"].try_cast("int"),
        bytes=text["bytes"].try_cast("bigint"),
        ttfb_ms=_seconds_to_ms(text["ttfb_ms"]),
        download_ms=text["download_ms"].try_cast("double") / 1000,
        # fastly_info.state: HIT, HIT-STALE, HIT-CLUSTER, MISS, MISS-CLUSTER, PASS, ERROR, ...
        cache_status=F.when(F.upper(get("cache_state")).startswith("HIT"), F.lit("HIT"))
        .when(F.upper(get("cache_state")).startswith("MISS"), F.lit("MISS"))
        .when(get("cache_state").isNotNull(), F.lit("OTHER")),
        pop=get("pop"),
        cmcd_text=get("cmcd"),
    )
    return _validate(request, _malformed_json(bad), text)


def _nginx(fields: _Fields, options: dict) -> tuple[Column, Column, Column]:
    # One regex pass (_PREPARE): the groups joined by \u0001 (nginx escapes control bytes as
    # \xHH, so it never occurs in a line), then a split; null when the line does not match.
    parts = F.col("_v")
    matched = parts.isNotNull()

    get = fields.read(lambda name: F.when(matched, F.get(parts, _NGINX_GROUPS.index(name))))

    request_line = F.split(get("request"), " ")
    target = F.get(request_line, 1)
    upstream = F.trim(F.substring_index(get("upstream_response_time"), ",", 1))
    text = {
        "timestamp": get("time_local"),
        "status": get("status"),
        "bytes": get("body_bytes_sent"),
        "ttfb_ms": _dash(upstream),
        "download_ms": get("request_time"),
    }
    request = _request(
        timestamp=_nginx_time(text["timestamp"]),
        client_ip=get("remote_addr"),
        user_agent=get("http_user_agent"),
        path=_path(target),
        query=_query(target),
        status=text["status"].try_cast("int"),
        bytes=text["bytes"].try_cast("bigint"),
        ttfb_ms=_seconds_to_ms(text["ttfb_ms"]),
        download_ms=_seconds_to_ms(text["download_ms"]),
        cache_status=_cache(
            get("upstream_cache_status"),
            ("HIT", "STALE", "UPDATING", "REVALIDATED"),
            ("MISS", "EXPIRED"),
        ),
        pop=F.lit(options["pop"]),
    )
    first = [
        (
            ~matched,
            "malformed_line",
            F.lit("not an nginx combined (or extended) log line"),
        )
    ]
    return _validate(request, first, text)


_PARSERS: dict[str, Callable[[_Fields, dict], tuple[Column, Column, Column]]] = {
    "cloudfront": _cloudfront,
    "cloudfront-realtime": _cloudfront_realtime,
    "akamai-ds2": _akamai,
    "edgecast": _edgecast,
    "fastly": _fastly,
    "nginx": _nginx,
}
