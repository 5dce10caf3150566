"""Akamai DataStream 2: one JSON object per line, empty fields omitted."""

from __future__ import annotations

from pyspark.sql import functions as F

from vsa.config import VsaConfig
from vsa.normalize.cdn.fields import (
    CdnFormat,
    Fields,
    Parsed,
    cache,
    decode,
    epoch_seconds,
    json_fields,
    json_object,
    normalized,
    validate,
)


def parse(fields: Fields, config: VsaConfig) -> Parsed:
    get, malformed = json_fields(fields)
    turnaround, transfer = get("turnAroundTimeMSec"), get("transferTimeMSec")
    text = {
        "timestamp": get("reqTimeSec"),
        "status": get("statusCode"),
        "bytes": F.coalesce(get("bytes"), get("totalBytes")),
        "ttfb_ms": F.coalesce(get("timeToFirstByte"), turnaround),
        "download_ms": F.coalesce(turnaround, transfer),
    }
    request = normalized(
        timestamp=epoch_seconds(text["timestamp"]),
        client_ip=get("cliIP"),
        user_agent=decode(get("UA")),
        host=get("reqHost"),
        path=decode(get("reqPath")),
        query=get("queryStr"),
        status=text["status"].try_cast("int"),
        bytes=text["bytes"].try_cast("bigint"),
        ttfb_ms=text["ttfb_ms"].try_cast("double"),
        # Turnaround (to the first byte) plus transfer (first to last byte).
        download_ms=F.coalesce(turnaround.try_cast("double"), F.lit(0.0))
        + F.coalesce(transfer.try_cast("double"), F.lit(0.0)),
        cache_status=cache(get("cacheStatus"), ("1",), ("0",)),
        pop=F.coalesce(get("serverCountry"), get("edgeIP")),
        cmcd_text=decode(get("cmcd")),
    )
    request = request.withField(
        "download_ms",
        F.when(text["download_ms"].isNotNull(), request.getField("download_ms")),
    )
    return validate(request, malformed, text)


FORMAT = CdnFormat(cdn="akamai", prepare=json_object, parse=parse)
