r"""nginx: the combined log format, optionally extended with
``rt=$request_time ut="$upstream_response_time" cs=$upstream_cache_status`` (and
``uht="$upstream_header_time"``), as lines in the wild have it: more fields before the
``[time]`` and after the user agent, ``key=value`` fields in any order and quoted or not, ``-``
or ``"-"`` for none, several upstreams in one value, an empty or malformed request.

Each line is read in the jar, by ``vsa_parse_nginx`` (scala/.../cdn/Nginx.scala): it matches
the line as this regular expression would (possessive, so a line that does not match fails at
once)::

    ^(\S++) [^\[]*+\[([^\]]++)\] ++"(?:[A-Z]++ ++([^\s"]++)[^"]*+|(?:[^"\\]++|\\.)*+)" ++
    (\d{3}) ++(\d++|-) ++"((?:[^"\\]++|\\.)*+)" ++"((?:[^"\\]++|\\.)*+)"(.*+)$

(address, time, target when the request is ``METHOD target ...``, status, bytes, referer, user
agent, then the tail's ``key=value`` fields). ``$upstream_header_time``, when the line has it,
is the time to the first byte, else the first upstream's response time; the download time is
``$request_time``, else the sum of the upstream times. The PoP is ``VsaConfig.cdn_pop``.
"""

from __future__ import annotations

from pyspark.sql import Column
from pyspark.sql import functions as F

from vsa.config import VsaConfig
from vsa.functions import parse_nginx
from vsa.normalize.cdn.fields import VALUES, CdnFormat, Fields, Parsed, parsed_in_jar


def prepare(line: Column, config: VsaConfig) -> list[tuple[str, Column]]:
    return [(VALUES, parse_nginx(line))]


def parse(fields: Fields, config: VsaConfig) -> Parsed:
    return parsed_in_jar(F.col(VALUES), pop=F.lit(config.cdn_pop))


FORMAT = CdnFormat(cdn="nginx", prepare=prepare, parse=parse, checks_encoding=True)
