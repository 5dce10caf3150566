"""nginx: the combined log format, optionally extended with
``rt=$request_time ut="$upstream_response_time" cs=$upstream_cache_status``."""

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
# nginx combined, with the extended variant's `rt=... ut="..." cs=...` optional at the end.
# Possessive quantifiers: a line that does not match fails at once, without backtracking.
_LINE = (
    r'^(\S++) \S++ \S++ \[([^\]]++)\] "((?:[^"\\]++|\\.)*+)" (\d{3}) (\d++|-) '
    r'"((?:[^"\\]++|\\.)*+)" "((?:[^"\\]++|\\.)*+)"'
    r'(?: rt=(\S++) ut="?([^"]*?)"? cs=(\S++))?\s*$'
)
_GROUPS = [
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


def prepare(line: Column) -> list[tuple[str, Column]]:
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


def parse(fields: Fields, config: VsaConfig) -> Parsed:
    parts = F.col(VALUES)
    matched = parts.isNotNull()

    get = fields.read(lambda name: F.when(matched, F.get(parts, _GROUPS.index(name))))

    request_line = F.split(get("request"), " ")
    target = F.get(request_line, 1)
    upstream = F.trim(F.substring_index(get("upstream_response_time"), ",", 1))
    text = {
        "timestamp": get("time_local"),
        "status": get("status"),
        "bytes": get("body_bytes_sent"),
        "ttfb_ms": dash(upstream),
        "download_ms": get("request_time"),
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
