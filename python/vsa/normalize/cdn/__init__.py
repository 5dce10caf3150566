"""CDN access logs (docs/inputs.md; docs/cdn.md): six vendor formats into one normalized
request schema, the ``cdn_requests`` columns, and dead letters for the lines that are not.

Formats: ``cloudfront`` (CloudFront standard logs), ``cloudfront-realtime`` (CloudFront
real-time logs), ``akamai-ds2`` (Akamai DataStream 2), ``edgecast`` (Edgio RTLD), ``fastly``
(Fastly, vsa's JSON preset) and ``nginx`` (combined, optionally extended). Every format is
parsed in the jar (``vsa_parse_*``, scala/.../cdn/), with one set of checks; here are the
registry of formats and their settings (:mod:`.formats`), the wiring of records to lines to
requests (:mod:`.parse`) and the CMCD columns (:mod:`.cmcd`).
"""

from vsa.normalize.cdn.cmcd import with_cmcd
from vsa.normalize.cdn.formats import (
    CLOUDFRONT_FIELDS,
    CLOUDFRONT_REALTIME_FIELDS,
    DOCUMENT_FORMATS,
    FORMATS,
)
from vsa.normalize.cdn.parse import field_names, parse_cdn_logs

__all__ = [
    "CLOUDFRONT_FIELDS",
    "CLOUDFRONT_REALTIME_FIELDS",
    "DOCUMENT_FORMATS",
    "FORMATS",
    "field_names",
    "parse_cdn_logs",
    "with_cmcd",
]
