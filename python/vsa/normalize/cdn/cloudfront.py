"""CloudFront standard logs: tab-separated, ``-`` for missing, in the order of the ``#Fields:``
line of the file (or of the multi-line record), else of ``VsaConfig.cloudfront_fields`` (default:
the documented 33 fields).

Each line is read in the jar, by ``vsa_parse_cloudfront`` (scala/.../cdn/CloudFront.scala):
the timestamp is ``date`` and ``time`` (UTC); the viewer's host is ``x-host-header`` (the
``cs(Host)`` field is the distribution's own domain), ``cs(Host)`` when it is missing; the user
agent is URL-decoded (twice when it was encoded twice), the times are seconds (as ms here), the
cache status is ``HIT`` for ``Hit`` and ``RefreshHit``, ``MISS`` for ``Miss``, else ``OTHER``.
"""

from __future__ import annotations

from pyspark.sql import Column
from pyspark.sql import functions as F

from vsa.config import VsaConfig
from vsa.functions import parse_cloudfront
from vsa.normalize.cdn.fields import VALUES, CdnFormat, Fields, Parsed, parsed_in_jar

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


def prepare(line: Column, config: VsaConfig) -> list[tuple[str, Column]]:
    """The line read by the jar, by the names of the record's or file's ``#Fields:`` line
    (``_header``) if it has one, else of the configured or documented list."""
    default = F.array(*map(F.lit, config.cloudfront_fields or CLOUDFRONT_FIELDS))
    return [(VALUES, parse_cloudfront(line, F.coalesce("_header", default)))]


def parse(fields: Fields, config: VsaConfig) -> Parsed:
    return parsed_in_jar(F.col(VALUES))


FORMAT = CdnFormat(cdn="cloudfront", prepare=prepare, parse=parse, checks_encoding=True)
