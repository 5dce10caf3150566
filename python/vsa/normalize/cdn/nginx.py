"""nginx: the combined log format, optionally extended with
``rt=$request_time ut="$upstream_response_time" cs=$upstream_cache_status`` (and
``uht="$upstream_header_time"``), as lines in the wild have it: more fields before the
``[time]`` and after the user agent, ``key=value`` fields in any order and quoted or not, ``-``
or ``"-"`` for none, several upstreams in one value, an empty or malformed request."""

from __future__ import annotations

from pyspark.sql import Column
from pyspark.sql import functions as F

from vsa.config import VsaConfig
from vsa.normalize.cdn.fields import (
    VALUES,
    CdnFormat,
    Fields,
    Parsed,
    cache,
    dash,
    normalized,
    seconds_to_ms,
    target_path,
    target_query,
    validate,
)

_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
# nginx combined; what follows the user agent (the extended fields, any others) is the tail.
# The request splits into method and target only when it is `METHOD target ...`.
# Possessive quantifiers: a line that does not match fails at once, without backtracking.
_QUOTED = r'"((?:[^"\\]++|\\.)*+)"'
_LINE = (
    r'^(\S++) [^\[]*+\[([^\]]++)\] ++"(?:[A-Z]++ ++([^\s"]++)[^"]*+|(?:[^"\\]++|\\.)*+)" ++'
    r"(\d{3}) ++(\d++|-) ++" + _QUOTED + " ++" + _QUOTED + r"(.*+)$"
)
_GROUPS = [
    "remote_addr",
    "time_local",
    "target",
    "status",
    "body_bytes_sent",
    "http_referer",
    "http_user_agent",
    "tail",
]
# The tail's `key=value` fields that are read, by their names in the extended format.
_TAIL_KEYS = {
    "request_time": "rt",
    "upstream_response_time": "ut",
    "upstream_header_time": "uht",
    "upstream_cache_status": "cs",
}


def prepare(line: Column, config: VsaConfig) -> list[tuple[str, Column]]:
    """One regex pass: the groups joined by \\u0001 (nginx escapes control bytes as \\xHH, so it
    never occurs in a line) behind a \\u0002 marker, then split; null when the line does not
    match."""
    joined = F.col("_joined")
    return [
        (
            "_joined",
            F.regexp_replace(
                line, _LINE, "\u0002" + "\u0001".join(f"${i + 1}" for i in range(len(_GROUPS)))
            ),
        ),
        (
            VALUES,
            F.when(joined.startswith("\u0002"), F.split(F.substring(joined, 2, 1 << 30), "\u0001")),
        ),
    ]


def _tail_value(tail: Column, key: str) -> Column:
    """The value of the tail's ``key=value`` field, without its quotes (empty when absent)."""
    value = F.regexp_extract(tail, rf'(?:^|\s){key}=("[^"]*+"|\S*+)', 1)
    return F.btrim(value, F.lit('"'))


def _upstream_times(value: Column) -> Column:
    """The times of an upstream list (``2.001, 0.345``; `` : `` between upstream groups)."""
    return F.split(value, r"\s*[,:]\s*")


def _seconds_or_zero(time: Column) -> Column:
    return F.coalesce(time.try_cast("double"), F.lit(0.0))


def parse(fields: Fields, config: VsaConfig) -> Parsed:
    parts = F.col(VALUES)
    matched = parts.isNotNull()

    def group(name: str) -> Column:
        return F.when(matched, F.get(parts, _GROUPS.index(name)))

    def lookup(name: str) -> Column:
        if name in _TAIL_KEYS:
            return _tail_value(group("tail"), _TAIL_KEYS[name])
        return group(name)

    get = fields.read(lookup)
    target = get("target")
    upstream = _upstream_times(get("upstream_response_time"))
    # $upstream_header_time, when the format has it, is the time to the first byte; else the
    # first upstream's response time. The upstream total (the sum) is the download time when
    # the format has no $request_time.
    has_header_time = F.coalesce(get("tail").contains(" uht="), F.lit(False))
    ttfb = F.when(
        has_header_time, dash(F.get(_upstream_times(get("upstream_header_time")), 0))
    ).otherwise(dash(F.get(upstream, 0)))
    upstream_total = F.when(
        get("upstream_response_time").isNotNull(),
        F.aggregate(upstream, F.lit(0.0), lambda total, t: total + _seconds_or_zero(t)),
    )
    text = {
        "timestamp": get("time_local"),
        "status": get("status"),
        "bytes": get("body_bytes_sent"),
        "ttfb_ms": ttfb,
        "download_ms": F.coalesce(get("request_time"), upstream_total.cast("string")),
    }
    request = normalized(
        timestamp=_time_local(text["timestamp"]),
        client_ip=get("remote_addr"),
        user_agent=get("http_user_agent"),
        path=target_path(target),
        query=target_query(target),
        status=text["status"].try_cast("int"),
        bytes=text["bytes"].try_cast("bigint"),
        ttfb_ms=seconds_to_ms(text["ttfb_ms"]),
        download_ms=seconds_to_ms(text["download_ms"]),
        cache_status=cache(
            get("upstream_cache_status"),
            ("HIT", "STALE", "UPDATING", "REVALIDATED"),
            ("MISS", "EXPIRED"),
        ),
        pop=F.lit(config.cdn_pop),
    )
    first = [
        (
            ~matched,
            "malformed_line",
            F.lit("not an nginx combined (or extended) log line"),
        )
    ]
    return validate(request, first, text)


def _time_local(text: Column) -> Column:
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


FORMAT = CdnFormat(cdn="nginx", prepare=prepare, parse=parse)
