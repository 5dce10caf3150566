"""CloudFront real-time logs: tab-separated and positional, the fields of the real-time log
configuration in CloudFront's order (``VsaConfig.cloudfront_realtime_fields``; a record's own
``#Fields:`` line, if it has one, wins); its ``cmcd-*`` fields fill the request's
``cmcd_fields``, and CMCD headers in ``cs-headers`` its ``cmcd_text``."""

from __future__ import annotations

from pyspark.sql import Column
from pyspark.sql import functions as F

from vsa.config import VsaConfig
from vsa.normalize.cdn.cmcd import CLOUDFRONT_CMCD_FIELDS, CMCD_FIELDS_TYPE
from vsa.normalize.cdn.fields import (
    CdnFormat,
    Fields,
    Getter,
    Parsed,
    cache,
    decode,
    epoch_seconds,
    normalized,
    positional,
    seconds_to_ms,
    tab_separated,
    target_path,
    target_query,
    validate,
)
from vsa.normalize.cdn.fields import user_agent as decoded_user_agent

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


def _configured(config: VsaConfig) -> list[str]:
    return list(config.cloudfront_realtime_fields or CLOUDFRONT_REALTIME_FIELDS)


def prepare(line: Column, config: VsaConfig) -> list[tuple[str, Column]]:
    """The line's values and their names: the record's or file's ``#Fields:`` line
    (``_header``) if it has one, else the configured list."""
    names = F.array(*map(F.lit, _configured(config)))
    return [*tab_separated(line), ("_names", F.coalesce("_header", names))]


def parse(fields: Fields, config: VsaConfig) -> Parsed:
    """The viewer's host is ``x-host-header`` (``cs-host`` is the distribution's own domain);
    ``cs-uri-stem`` holds the query too, which ``cs-uri-query`` repeats: the path stops at the
    ``?``."""
    configured = _configured(config)
    get, too_short = positional(fields, F.col("_names"), "its field list")
    stem = get("cs-uri-stem")
    text = {
        "timestamp": get("timestamp"),
        "status": get("sc-status"),
        "bytes": get("sc-bytes"),
        "ttfb_ms": get("time-to-first-byte"),
        "download_ms": get("time-taken"),
    }
    request = normalized(
        timestamp=epoch_seconds(text["timestamp"]),
        client_ip=get("c-ip"),
        user_agent=decoded_user_agent(get("cs-user-agent")),
        host=F.coalesce(get("x-host-header"), get("cs-host")),
        path=target_path(stem),
        query=F.coalesce(get("cs-uri-query"), target_query(stem)),
        status=text["status"].try_cast("int"),
        bytes=text["bytes"].try_cast("bigint"),
        ttfb_ms=seconds_to_ms(text["ttfb_ms"]),
        download_ms=seconds_to_ms(text["download_ms"]),
        cache_status=cache(get("x-edge-result-type"), ("HIT", "REFRESHHIT"), ("MISS",)),
        pop=get("x-edge-location"),
    )
    request = request.withField("cmcd_fields", _cmcd_fields(get, configured))
    if "cs-headers" in configured:
        # The request's headers (`Name:value` lines joined by %0A): vsa_parse_cmcd reads the
        # CMCD ones.
        headers = get("cs-headers")
        request = request.withField(
            "cmcd_text", F.when(F.lower(headers).contains("cmcd-"), decode(headers))
        )
    return validate(request, too_short, text)


def _cmcd_fields(get: Getter, configured: list[str]) -> Column:
    """The cmcd-* fields, typed as vsa_parse_cmcd types them (with_cmcd coalesces them in);
    null when the line has none."""
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
    return F.when(any_cmcd, F.struct(*[v.alias(k) for k, v in cmcd.items()])).cast(CMCD_FIELDS_TYPE)


FORMAT = CdnFormat(cdn="cloudfront", prepare=prepare, parse=parse)
