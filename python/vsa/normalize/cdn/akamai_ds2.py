"""Akamai DataStream 2: one JSON object per line (or a JSON array of them). Empty fields are
omitted or arrive as ``-``, ``""`` or ``^``; any value may be a string or a number; keys may
arrive lower-cased after a logging pipeline, so they are read case-insensitively.

Each line is read in the jar, by ``vsa_parse_akamai`` (scala/.../cdn/AkamaiDs2.scala): Jackson's
streaming parser over the line's UTF-8 bytes, reading only the keys below, with the values
``from_json(line, 'map<string,string>')`` would give (a number's JSON text, a nested value's JSON
text, what follows the object ignored). A key given twice, in any case, keeps its last value.

- ``timestamp``: ``reqTimeSec``, epoch seconds with decimals; ``client_ip``: ``cliIP``;
  ``user_agent``: ``UA``, URL-decoded; ``host``: ``reqHost``; ``path``: ``reqPath``, URL-decoded
  (given a leading ``/`` when it has none); ``query``: ``queryStr``; ``status``: ``statusCode``;
- ``bytes``: ``bytes``, else ``totalBytes``; ``ttfb_ms``: ``timeToFirstByte``, else
  ``turnAroundTimeMSec``; ``download_ms``: turnaround (to the first byte) plus
  ``transferTimeMSec`` (first to last byte);
- ``cache_status``: ``cacheStatus`` ``1`` is a hit, ``0`` a miss; ``pop``: ``serverCountry``, else
  ``edgeIP``; ``cmcd_text``: ``cmcd``, URL-decoded.
"""

from __future__ import annotations

from pyspark.sql import Column
from pyspark.sql import functions as F

from vsa.config import VsaConfig
from vsa.functions import parse_akamai
from vsa.normalize.cdn.fields import VALUES, CdnFormat, Fields, Parsed, json_entries, parsed_in_jar


def prepare(line: Column, config: VsaConfig) -> list[tuple[str, Column]]:
    return [(VALUES, parse_akamai(line))]


def parse(fields: Fields, config: VsaConfig) -> Parsed:
    return parsed_in_jar(F.col(VALUES))


FORMAT = CdnFormat(
    cdn="akamai", prepare=prepare, parse=parse, unbatch=json_entries(), checks_encoding=True
)
