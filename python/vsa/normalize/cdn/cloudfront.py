"""CloudFront standard logs: tab-separated, ``-`` for missing, in the order of the ``#Fields:``
line of the file (or of the multi-line record), else of the documented 33 fields."""

from __future__ import annotations

from collections.abc import Callable

from pyspark.sql import Column
from pyspark.sql import functions as F

from vsa.config import VsaConfig
from vsa.normalize.cdn.fields import (
    CdnFormat,
    Fields,
    Getter,
    Parsed,
    cache,
    decode,
    normalized,
    positional,
    seconds_to_ms,
    tab_separated,
    validate,
)

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
_DATE = r"^\d{4}-\d{2}-\d{2}$"


def prepare(line: Column) -> list[tuple[str, Column]]:
    """The line's values, and the field names: the record's or file's ``#Fields:`` line
    (``_header``), else the documented order."""
    return [
        *tab_separated(line),
        ("_names", F.coalesce("_header", F.array(*map(F.lit, CLOUDFRONT_FIELDS)))),
    ]


def parse(fields: Fields, config: VsaConfig) -> Parsed:
    names = F.col("_names")
    get, wrong_count = positional(fields, names, "the #Fields list")
    date, time = get("date"), get("time")
    # ISO-8601 text read by a cast: ~20x cheaper per row than a datetime pattern.
    stamp = F.concat(date, F.lit("T"), time, F.lit("Z"))
    request, text = edge_request(
        get,
        F.when(date.isNotNull() & time.isNotNull(), stamp),
        lambda iso: F.when(date.rlike(_DATE), iso.try_cast("timestamp")),
        user_agent="cs(User-Agent)",
        host="cs(Host)",
    )
    return validate(request, wrong_count, text)


def edge_request(
    get: Getter,
    timestamp_text: Column,
    timestamp: Callable[[Column], Column],
    user_agent: str,
    host: str,
) -> tuple[Column, dict[str, Column]]:
    """(the request, the text of its checked fields) of a CloudFront line, standard or real-time:
    the same fields but the timestamp (its text, read by ``timestamp``) and the names of the user
    agent and host fields."""
    text = {
        "timestamp": timestamp_text,
        "status": get("sc-status"),
        "bytes": get("sc-bytes"),
        "ttfb_ms": get("time-to-first-byte"),
        "download_ms": get("time-taken"),
    }
    request = normalized(
        timestamp=timestamp(text["timestamp"]),
        client_ip=get("c-ip"),
        user_agent=decode(get(user_agent)),
        host=F.coalesce(get("x-host-header"), get(host)),
        path=get("cs-uri-stem"),
        query=get("cs-uri-query"),
        status=text["status"].try_cast("int"),
        bytes=text["bytes"].try_cast("bigint"),
        ttfb_ms=seconds_to_ms(text["ttfb_ms"]),
        download_ms=seconds_to_ms(text["download_ms"]),
        cache_status=cache(get("x-edge-result-type"), ("HIT", "REFRESHHIT"), ("MISS",)),
        pop=get("x-edge-location"),
    )
    return request, text


FORMAT = CdnFormat(cdn="cloudfront", prepare=prepare, parse=parse)
