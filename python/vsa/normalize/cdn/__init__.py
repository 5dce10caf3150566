"""CDN access logs (docs/inputs.md; docs/cdn.md): six vendor formats into one normalized
request schema, the ``cdn_requests`` columns, and dead letters for the lines that are not.

Formats, one module each: ``cloudfront`` (CloudFront standard logs), ``cloudfront-realtime``
(CloudFront real-time logs), ``akamai-ds2`` (Akamai DataStream 2), ``edgecast`` (Edgio RTLD),
``fastly`` (Fastly, vsa's JSON preset) and ``nginx`` (combined, optionally extended). The
registry of formats is :data:`vsa.normalize.cdn.parse.FORMATS`; :mod:`.fields` holds what
their parsers share, :mod:`.cmcd` the CMCD columns.
"""

from vsa.normalize.cdn.cloudfront_realtime import CLOUDFRONT_REALTIME_FIELDS
from vsa.normalize.cdn.cmcd import with_cmcd
from vsa.normalize.cdn.parse import (
    DOCUMENT_FORMATS,
    cdn_log_dead_letters,
    field_names,
    parse_cdn_logs,
    valid_cdn_requests,
)

__all__ = [
    "CLOUDFRONT_REALTIME_FIELDS",
    "DOCUMENT_FORMATS",
    "cdn_log_dead_letters",
    "field_names",
    "parse_cdn_logs",
    "valid_cdn_requests",
    "with_cmcd",
]
