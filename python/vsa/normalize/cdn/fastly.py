"""Fastly: one JSON object per line (or a JSON array of them). Fastly has no fixed format: the
preset reads the names real formats use (``start_time``, ``client_ip``, ``req_uri``,
``resp_status``, ...) and those of vsa's own VCL format (docs/cdn.md), and
``VsaConfig.fastly_field_map`` names your own keys."""

from __future__ import annotations

from pyspark.sql import Column
from pyspark.sql import functions as F

from vsa.config import VsaConfig
from vsa.normalize.cdn.fields import (
    CdnFormat,
    Fields,
    Parsed,
    epoch_seconds,
    finite,
    json_entries,
    json_fields,
    json_object,
    normalized,
    seconds_to_ms,
    target_path,
    target_query,
    validate,
)

# The preset: normalized name → the JSON keys read for it, the first present wins (the names of
# real Fastly formats first, then those of vsa's VCL format in docs/cdn.md).
# `VsaConfig.fastly_field_map` replaces a name's keys with the one key it gives.
FASTLY_PRESET = {
    "timestamp": ("start_time", "timestamp"),  # epoch seconds, or ISO-8601 with offset
    "client_ip": ("client_ip",),
    "user_agent": ("req_h_user_agent", "user_agent"),
    "host": ("req_h_host", "host"),
    "url": ("req_uri", "url"),  # path and query
    "status": ("resp_status", "status"),
    "bytes": ("resp_bytes", "bytes"),
    "elapsed_us": ("time_elapsed",),  # time.elapsed.usec
    "ttfb_s": ("time_to_first_byte",),  # time.to_first_byte, seconds
    "cache_state": ("fastly_info", "fastly_info_state"),  # fastly_info.state
    "pop": ("datacenter", "pop"),  # server.datacenter
    "cmcd": ("cmcd",),  # any of the four CMCD headers, joined by ","
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
    keys = {**FASTLY_PRESET, **{name: (key,) for name, key in config.fastly_field_map.items()}}

    def get(name: str) -> Column:
        found = [get_key(key) for key in keys[name]]
        return F.coalesce(*found) if len(found) > 1 else found[0]

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
        download_ms=finite(text["download_ms"].try_cast("double") / 1000),
        # fastly_info.state: HIT, HIT-STALE, HIT-CLUSTER, MISS, MISS-CLUSTER, PASS, ERROR, ...
        cache_status=F.when(F.upper(get("cache_state")).startswith("HIT"), F.lit("HIT"))
        .when(F.upper(get("cache_state")).startswith("MISS"), F.lit("MISS"))
        .when(get("cache_state").isNotNull(), F.lit("OTHER")),
        pop=get("pop"),
        cmcd_text=get("cmcd"),
    )
    return validate(request, malformed, text)


FORMAT = CdnFormat(
    cdn="fastly",
    prepare=lambda line, config: json_object(line),
    parse=parse,
    unbatch=json_entries(),
    check=check,
)
