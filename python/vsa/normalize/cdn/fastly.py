"""Fastly: one JSON object per line, in vsa's preset (docs/cdn.md gives the VCL log format
that writes it) or with the keys of ``VsaConfig.fastly_field_map``."""

from __future__ import annotations

from pyspark.sql import Column
from pyspark.sql import functions as F

from vsa.config import VsaConfig
from vsa.normalize.cdn.fields import (
    CdnFormat,
    Fields,
    Parsed,
    epoch_seconds,
    json_fields,
    json_object,
    normalized,
    seconds_to_ms,
    target_path,
    target_query,
    validate,
)

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


def check(config: VsaConfig) -> None:
    """Raises ValueError when ``config.fastly_field_map`` names a field the preset lacks."""
    unknown_keys = set(config.fastly_field_map) - set(FASTLY_PRESET)
    if unknown_keys:
        raise ValueError(
            f"fastly field map: unknown names {sorted(unknown_keys)}; names are "
            f"{', '.join(FASTLY_PRESET)}"
        )


def parse(fields: Fields, config: VsaConfig) -> Parsed:
    get_key, malformed = json_fields(fields)
    keys = {**FASTLY_PRESET, **config.fastly_field_map}

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
    request = normalized(
        timestamp=F.coalesce(epoch_seconds(stamp), F.try_to_timestamp(stamp)),
        client_ip=get("client_ip"),
        user_agent=get("user_agent"),
        host=get("host"),
        path=target_path(url),
        query=target_query(url),
        status=text["status"].try_cast("int"),
        bytes=text["bytes"].try_cast("bigint"),
        ttfb_ms=seconds_to_ms(text["ttfb_ms"]),
        download_ms=text["download_ms"].try_cast("double") / 1000,
        # fastly_info.state: HIT, HIT-STALE, HIT-CLUSTER, MISS, MISS-CLUSTER, PASS, ERROR, ...
        cache_status=F.when(F.upper(get("cache_state")).startswith("HIT"), F.lit("HIT"))
        .when(F.upper(get("cache_state")).startswith("MISS"), F.lit("MISS"))
        .when(get("cache_state").isNotNull(), F.lit("OTHER")),
        pop=get("pop"),
        cmcd_text=get("cmcd"),
    )
    return validate(request, malformed, text)


FORMAT = CdnFormat(cdn="fastly", prepare=json_object, parse=parse, check=check)
