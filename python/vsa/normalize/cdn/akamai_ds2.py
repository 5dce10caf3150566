"""Akamai DataStream 2: one JSON object per line (or a JSON array of them). Empty fields are
omitted or arrive as ``-``, ``""`` or ``^``; any value may be a string or a number; keys may
arrive lower-cased after a logging pipeline, so they are read case-insensitively."""

from __future__ import annotations

from pyspark.sql import Column
from pyspark.sql import functions as F

from vsa.config import VsaConfig
from vsa.normalize.cdn.fields import (
    JSON_MAP,
    VALUES,
    CdnFormat,
    Fields,
    Parsed,
    cache,
    decode,
    epoch_seconds,
    json_entries,
    normalized,
    user_agent,
    validate,
)


def prepare(line: Column, config: VsaConfig) -> list[tuple[str, Column]]:
    """The object as a map with lower-case keys (null if the line is not a JSON object)."""
    values = F.from_json(line, JSON_MAP)
    return [(VALUES, F.transform_keys(values, lambda key, _: F.lower(key)))]


def parse(fields: Fields, config: VsaConfig) -> Parsed:
    values = F.col(VALUES)
    # DataStream's placeholders for an empty value, besides omitting it (`-` and the empty
    # string are everyone's: Fields.read nulls them).
    get = fields.read(
        lambda name: F.when(
            ~values.getItem(name.lower()).isin("^", '""'), values.getItem(name.lower())
        )
    )
    malformed = (values.isNull(), "malformed_json", F.lit("not a JSON object"))
    turnaround, transfer = get("turnAroundTimeMSec"), get("transferTimeMSec")
    path = get("reqPath")
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
        user_agent=user_agent(get("UA")),
        host=get("reqHost"),
        # reqPath may come without its leading '/'.
        path=decode(F.when(path.startswith("/"), path).otherwise(F.concat(F.lit("/"), path))),
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
    return validate(request, [malformed], text)


FORMAT = CdnFormat(cdn="akamai", prepare=prepare, parse=parse, unbatch=json_entries())
