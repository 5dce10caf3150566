"""Edgio (Edgecast) RTLD: one JSON object per line, a JSON array of them, or the envelope
``{"agent_id": ..., "logs": [...]}`` (one request per element), compact or pretty-printed."""

from __future__ import annotations

from pyspark.sql import functions as F

from vsa.config import VsaConfig
from vsa.normalize.cdn.fields import (
    CdnFormat,
    Fields,
    Parsed,
    cache,
    epoch_seconds,
    json_entries,
    json_fields,
    json_object,
    normalized,
    seconds_to_ms,
    validate,
)

_CACHE_HITS = ("TCP_HIT", "TCP_MEM_HIT", "TCP_EXPIRED_HIT", "TCP_PARTIAL_HIT", "TCP_REFRESH_HIT")
_CACHE_MISSES = ("TCP_MISS", "TCP_EXPIRED_MISS", "TCP_CLIENT_REFRESH_MISS", "TCP_REFRESH_MISS")


def parse(fields: Fields, config: VsaConfig) -> Parsed:
    get, malformed = json_fields(fields)
    text = {
        "timestamp": get("timestamp"),
        "status": get("status_code"),
        "bytes": get("bytes_out"),
        # prewrite_time: request received to response start; total_time: to the last byte
        # (write_time is only the write phase, not a download time).
        "ttfb_ms": get("prewrite_time"),
        "download_ms": get("total_time"),
    }
    request = normalized(
        timestamp=epoch_seconds(text["timestamp"]),
        client_ip=get("client_ip"),
        user_agent=get("user_agent"),
        host=get("host"),
        path=get("path"),
        query=F.regexp_replace(get("query"), r"^\?", ""),
        status=text["status"].try_cast("int"),
        bytes=text["bytes"].try_cast("bigint"),
        ttfb_ms=seconds_to_ms(text["ttfb_ms"]),
        download_ms=seconds_to_ms(text["download_ms"]),
        cache_status=cache(get("cache_status"), _CACHE_HITS, _CACHE_MISSES),
        pop=get("pop"),
        cmcd_text=get("cmcd"),
    )
    return validate(request, malformed, text)


FORMAT = CdnFormat(
    cdn="edgecast",
    prepare=lambda line, config: json_object(line),
    parse=parse,
    unbatch=json_entries(envelope="logs"),
)
