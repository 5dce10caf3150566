"""The CDN log formats: each one's jar parser (``vsa_parse_*``, scala/.../cdn/: one parser per
format, one normalized request and one set of checks, ``LineRequest``), the configuration it
reads, and how a record of many requests is split. docs/cdn.md gives each format's mapping.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F
from pyspark.sql.types import ArrayType, StringType, StructField, StructType

from vsa.config import VsaConfig
from vsa.functions import (
    parse_akamai,
    parse_cloudfront,
    parse_cloudfront_realtime,
    parse_edgecast,
    parse_fastly,
    parse_nginx,
)

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


@dataclass(frozen=True)
class CdnFormat:
    """One log format: the jar's parser of its lines, and how a record becomes lines."""

    # The `cdn` column when the configuration names none.
    cdn: str
    # The jar parser's struct of a line (column `line`; `_header`: the names of the record's or
    # file's `#Fields:` line, null without one): the request's columns, `reason`, `detail`.
    parse: Callable[[Column, VsaConfig], Column]
    # One line per request, for a format whose line may hold many.
    unbatch: Callable[[DataFrame], DataFrame] | None = None
    # Request columns the line does not say, from the configuration (nginx's PoP).
    given: Callable[[VsaConfig], dict[str, Column]] | None = None


def _listed(default: list[str], configured: tuple[str, ...] | None) -> Column:
    """A line's field names: its record's or file's ``#Fields:`` line, else the configured or
    documented list."""
    return F.coalesce(F.col("_header"), F.array(*map(F.lit, configured or default)))


def json_entries(envelope: str | None = None) -> Callable[[DataFrame], DataFrame]:
    """The ``unbatch`` of a JSON format: a line that is a JSON array (``[{...}, ...]``, one line
    or a whole pretty-printed document) gives one line per element, as do the ``envelope`` key's
    array of an object that has one; any other line stays as it is."""
    array_schema = ArrayType(StringType())
    envelope_schema = StructType([StructField(envelope or "_", array_schema)])

    def unbatch(lines: DataFrame) -> DataFrame:
        line = F.col("line")
        start = F.ltrim(F.substring(line, 1, 64))  # the first characters: cheap on every line
        entries = F.when(start.startswith("["), F.from_json(line, array_schema))
        if envelope:
            batch = F.from_json(line, envelope_schema).getField(envelope)
            entries = entries.when(line.contains(f'"{envelope}"'), batch)
        return lines.withColumn("line", F.explode(F.coalesce(entries, F.array(line))))

    return unbatch


# Every format by its name, the names of vsa.config.CDN_LOG_FORMATS (which the configuration is
# checked against).
FORMATS: dict[str, CdnFormat] = {
    "cloudfront": CdnFormat(
        cdn="cloudfront",
        parse=lambda line, config: parse_cloudfront(
            line, _listed(CLOUDFRONT_FIELDS, config.cloudfront_fields)
        ),
    ),
    "cloudfront-realtime": CdnFormat(
        cdn="cloudfront",
        parse=lambda line, config: parse_cloudfront_realtime(
            line, _listed(CLOUDFRONT_REALTIME_FIELDS, config.cloudfront_realtime_fields)
        ),
    ),
    "akamai-ds2": CdnFormat(
        cdn="akamai", parse=lambda line, config: parse_akamai(line), unbatch=json_entries()
    ),
    # Edgio RTLD: one object per line, a JSON array of them, or the envelope
    # {"agent_id": ..., "logs": [...]} (one request per element), compact or pretty-printed.
    "edgecast": CdnFormat(
        cdn="edgecast",
        parse=lambda line, config: parse_edgecast(line),
        unbatch=json_entries(envelope="logs"),
    ),
    "fastly": CdnFormat(
        cdn="fastly",
        parse=lambda line, config: parse_fastly(line, config.fastly_field_map),
        unbatch=json_entries(),
    ),
    "nginx": CdnFormat(
        cdn="nginx",
        parse=lambda line, config: parse_nginx(line),
        given=lambda config: {"pop": F.lit(config.cdn_pop).cast("string")},
    ),
}
# The formats whose records may be JSON documents of many requests (arrays, envelopes): their
# files are read with `vsa.sources.files.read_cdn_files(..., documents=True)`.
DOCUMENT_FORMATS = tuple(name for name, spec in FORMATS.items() if spec.unbatch)
