"""CloudFront standard logs: tab-separated, ``-`` for missing, in the order of the ``#Fields:``
line of the file (or of the multi-line record), else of ``VsaConfig.cloudfront_fields`` (default:
the documented 33 fields)."""

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
    normalized,
    positional,
    seconds_to_ms,
    tab_separated,
    target_path,
    target_query,
    validate,
)
from vsa.normalize.cdn.fields import user_agent as decoded_user_agent

# CloudFront standard logs, the 33 fields of the documented order (used when a file or record
# has no `#Fields:` line of its own and `VsaConfig.cloudfront_fields` names none).
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


def with_names(
    default: Callable[[VsaConfig], list[str]],
) -> Callable[[Column, VsaConfig], list[tuple[str, Column]]]:
    """A CloudFront format's ``prepare``: the line's values and their names, the record's or
    file's ``#Fields:`` line (``_header``) if it has one, else ``default(config)``."""

    def prepare(line: Column, config: VsaConfig) -> list[tuple[str, Column]]:
        names = F.array(*map(F.lit, default(config)))
        return [*tab_separated(line), ("_names", F.coalesce("_header", names))]

    return prepare


def parse(fields: Fields, config: VsaConfig) -> Parsed:
    get, too_short = positional(fields, F.col("_names"), "its field list")
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
    return validate(request, too_short, text)


def edge_request(
    get: Getter,
    timestamp_text: Column,
    timestamp: Callable[[Column], Column],
    user_agent: str,
    host: str,
) -> tuple[Column, dict[str, Column]]:
    """(the request, the text of its checked fields) of a CloudFront line, standard or real-time:
    the same fields but the timestamp (its text, read by ``timestamp``) and the names of the user
    agent and host fields. The viewer's host is ``x-host-header`` (the host field is the
    distribution's own domain); a real-time ``cs-uri-stem`` holds the query too, which
    ``cs-uri-query`` repeats: the path stops at the ``?``."""
    stem = get("cs-uri-stem")
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
        user_agent=decoded_user_agent(get(user_agent)),
        host=F.coalesce(get("x-host-header"), get(host)),
        path=target_path(stem),
        query=F.coalesce(get("cs-uri-query"), target_query(stem)),
        status=text["status"].try_cast("int"),
        bytes=text["bytes"].try_cast("bigint"),
        ttfb_ms=seconds_to_ms(text["ttfb_ms"]),
        download_ms=seconds_to_ms(text["download_ms"]),
        cache_status=cache(get("x-edge-result-type"), ("HIT", "REFRESHHIT"), ("MISS",)),
        pop=get("x-edge-location"),
    )
    return request, text


FORMAT = CdnFormat(
    cdn="cloudfront",
    prepare=with_names(lambda config: list(config.cloudfront_fields or CLOUDFRONT_FIELDS)),
    parse=parse,
)
