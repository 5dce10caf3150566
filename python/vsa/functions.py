"""vsa's column functions: each calls a function of the vsa-spark jar by its SQL name.

They work with the classic DataFrame API and with Spark Connect alike, since the JVM side is
reached only through ``call_function``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from pyspark.sql import Column
from pyspark.sql import functions as F

ColumnOrName = Column | str


def parse_user_agent(ua: ColumnOrName) -> Column:
    """Parses a user agent into browser, OS and device (SQL: ``vsa_parse_ua``).

    Parameters
    ----------
    ua
        A string column holding the User-Agent header.

    Returns
    -------
    Column
        A struct of ``browser_family``, ``browser_major``, ``browser_minor``, ``browser_patch``,
        ``os_family``, ``os_major``, ``os_minor``, ``os_patch``, ``os_patch_minor``,
        ``device_family``, ``device_brand``, ``device_model`` and ``device_type`` (desktop,
        mobile, tablet, tv, console, bot or other). Unknown agents give families ``"Other"``;
        a null agent gives a struct of nulls.

    Examples
    --------
    >>> df = spark.createDataFrame([("Mozilla/5.0 (iPad; CPU OS 16_6 like Mac OS X) "
    ...     "AppleWebKit/605.1.15 (KHTML, like Gecko) Version/16.6 Mobile/15E148 Safari/604.1",)],
    ...     ["ua"])
    >>> df.select(parse_user_agent("ua").alias("p")).select("p.os_family", "p.device_type").show()
    +---------+-----------+
    |os_family|device_type|
    +---------+-----------+
    |      iOS|     tablet|
    +---------+-----------+
    <BLANKLINE>
    """
    return F.call_function("vsa_parse_ua", _col(ua))


def mask_ip(ip: ColumnOrName) -> Column:
    """Truncates a client's IP address to its network: /24 for IPv4, /48 for IPv6 (SQL:
    ``vsa_mask_ip``).

    The address may carry a port (``203.0.113.7:8443``, ``[2001:db8::1]:443``), brackets or a
    zone (``fe80::1%eth0``), or come first in a comma-separated list (X-Forwarded-For); the
    result is the masked address alone. Anything else gives null; host names are never
    resolved.

    Examples
    --------
    >>> spark.createDataFrame([("203.0.113.77",), ("2001:db8:1:2::9",)], ["ip"]).select(
    ...     mask_ip("ip").alias("net")).show()
    +------------+
    |         net|
    +------------+
    | 203.0.113.0|
    |2001:db8:1::|
    +------------+
    <BLANKLINE>
    """
    return F.call_function("vsa_mask_ip", _col(ip))


def mask_ips_in_text(text: ColumnOrName) -> Column:
    """Free text with every IPv4 and IPv6 address in it truncated as :func:`mask_ip` truncates
    one, ports, brackets and zones kept (SQL: ``vsa_mask_ips_in_text``). Given a
    ``map<string,string>``, masks its keys and values. Text without three ``.`` or two ``:``
    is returned after one byte scan.

    Examples
    --------
    >>> df = spark.createDataFrame([('{"ip": "203.0.113.77", "at": "12:30:45"}',),
    ...                             ("peer [2001:db8:1:2::9]:443",)], ["raw"])
    >>> df.select(mask_ips_in_text("raw").alias("masked")).show(truncate=False)
    +---------------------------------------+
    |masked                                 |
    +---------------------------------------+
    |{"ip": "203.0.113.0", "at": "12:30:45"}|
    |peer [2001:db8:1::]:443                |
    +---------------------------------------+
    <BLANKLINE>
    """
    return F.call_function("vsa_mask_ips_in_text", _col(text))


def is_json_object(text: ColumnOrName) -> Column:
    """Whether the text is one JSON object with only whitespace around it (SQL:
    ``vsa_is_json_object``): false for two objects, trailing garbage, an array or a bare value.

    ``from_json`` reads a record's first value and ignores the rest; this is the check it lacks.
    It balances braces and brackets outside strings in one byte scan and does not validate the
    object's content (``from_json`` does).

    Examples
    --------
    >>> spark.createDataFrame([('{"a": 1}',), ('{"a": 1}{"b": 2}',), ('{"a": 1} xx',)],
    ...     ["raw"]).select(is_json_object("raw").alias("one")).show()
    +-----+
    |  one|
    +-----+
    | true|
    |false|
    |false|
    +-----+
    <BLANKLINE>
    """
    return F.call_function("vsa_is_json_object", _col(text))


def json_object_fields(text: ColumnOrName) -> Column:
    """The top-level fields of the text, when it is one JSON object (:func:`is_json_object`), as
    a ``map<string,string>``; null for anything else (SQL: ``vsa_json_object_fields``).

    Each value is what ``from_json(text, 'map<string,string>')`` makes of it: a string's text,
    any other value as JSON (``null`` a null). It is Spark's ``from_json`` that reads the
    object, called from generated code: ``from_json`` itself has none, and takes the
    projection it sits in out of whole-stage code generation.

    Examples
    --------
    >>> df = spark.createDataFrame([('{"a": "x", "n": 1, "o": {"b": [2]}}',), ('{"a": 1} xx',)],
    ...     ["raw"])
    >>> df.select(json_object_fields("raw").alias("fields")).show(truncate=False)
    +--------------------------------+
    |fields                          |
    +--------------------------------+
    |{a -> x, n -> 1, o -> {"b":[2]}}|
    |NULL                            |
    +--------------------------------+
    <BLANKLINE>
    """
    return F.call_function("vsa_json_object_fields", _col(text))


def parse_player_event(
    raw: ColumnOrName,
    received: ColumnOrName,
    clock_offset_bound_seconds: int,
    now: ColumnOrName | None = None,
) -> Column:
    """A player record read in one pass (SQL: ``vsa_parse_player_event``): a JSON event of
    docs/events.md, or a CMCD v2 event report (docs/views.md, "CMCD v2 event reports").

    Parameters
    ----------
    raw
        A string column: the record's text.
    received
        A timestamp column: when the record's transport received it (Kafka's timestamp), which
        the record's own ``received_at`` overrides; may be null.
    clock_offset_bound_seconds
        The largest device clock offset believed (docs/views.md, "Device clocks").
    now
        The batch's time, which ``future_timestamp`` is judged by; default
        ``current_timestamp()``.

    Returns
    -------
    Column
        A struct of ``event`` (the typed event: its string fields, its integer fields as
        long, ``ts`` and ``extra``, the fields it does not know; null where absent or not of
        their type), ``reason`` and ``detail`` (why the record is not a valid event, in
        docs/tables.md's order; null for a valid one), ``ignored`` (a CMCD report of no use to
        the model), ``clock_offset`` (the record's receipt minus its ``ts`` in ms, null beyond
        the bound) and ``event_time`` (what a source's watermark follows).

    Examples
    --------
    >>> df = spark.createDataFrame([
    ...     ('{"event_id": "e1", "event_type": "heartbeat", "ts": 1764000000000, '
    ...      '"session_id": "s1", "bitrate_kbps": "3000", "x": 1}',),
    ...     ('{"event_id": "e2", "event_type": "heartbeat", "ts": 1764000000, '
    ...      '"session_id": "s1"}',),
    ...     ("e=ps,sta=p,sid=\\"s2\\",ts=1764000000000",)], ["raw"])
    >>> p = parse_player_event("raw", F.lit(None).cast("timestamp"), 3600).alias("p")
    >>> df.select(p).select("p.event.event_type", "p.event.bitrate_kbps", "p.event.extra",
    ...     "p.reason").show(truncate=False)
    +--------------+------------+-----------------------------+-------------+
    |event_type    |bitrate_kbps|extra                        |reason       |
    +--------------+------------+-----------------------------+-------------+
    |heartbeat     |3000        |{x -> 1}                     |NULL         |
    |heartbeat     |NULL        |{}                           |bad_timestamp|
    |playback_start|NULL        |{cmcd_e -> ps, cmcd_sta -> p}|NULL         |
    +--------------+------------+-----------------------------+-------------+
    <BLANKLINE>
    """
    args = [_col(raw), _col(received), F.lit(clock_offset_bound_seconds)]
    return F.call_function("vsa_parse_player_event", *args, *([] if now is None else [_col(now)]))


def geo_lookup(ip: ColumnOrName) -> Column:
    """Country, region, city, location and autonomous system of an IP address (SQL:
    ``vsa_geoip``).

    The MaxMind DB files come from the Spark conf keys ``spark.vsa.geoip.cityDb`` and
    ``spark.vsa.geoip.asnDb`` (``VsaConfig.geoip_city_db`` / ``geoip_asn_db``); they are opened
    and verified when the query is analysed, so a missing or corrupt file fails the query at
    once, naming the file.

    Parameters
    ----------
    ip
        A string column holding an IPv4 or IPv6 address.

    Returns
    -------
    Column
        A struct of ``country`` (ISO 3166-1 alpha-2), ``region`` (ISO code of the first
        subdivision), ``city`` (English name), ``latitude``, ``longitude`` (doubles), ``asn``
        (long) and ``as_org``. A null input gives null; otherwise fields are null where unknown:
        not an IP literal (host names are never resolved), an address the databases do not
        hold, or a database that is not configured.

    Examples
    --------
    >>> spark.createDataFrame([("81.2.69.142",), ("1.128.0.0",), ("localhost",)], ["ip"]).select(
    ...     geo_lookup("ip").alias("g")).select("g.country", "g.region", "g.city", "g.asn").show()
    +-------+------+------+----+
    |country|region|  city| asn|
    +-------+------+------+----+
    |     GB|   ENG|London|NULL|
    |   NULL|  NULL|  NULL|1221|
    |   NULL|  NULL|  NULL|NULL|
    +-------+------+------+----+
    <BLANKLINE>
    """
    return F.call_function("vsa_geoip", _col(ip))


def viewer_key(viewer_id: ColumnOrName, secret: str | None = None) -> Column:
    """A keyed pseudonym of an id (SQL: ``vsa_viewer_key``).

    HMAC-SHA256 of the id's UTF-8 bytes under the secret, cut to its first 16 bytes and written
    as 32 lower-case hex digits: the same id gives the same key under one secret, and nobody
    without the secret can link a key to its id.

    Parameters
    ----------
    viewer_id
        The column to pseudonymize (cast to string).
    secret
        The key, a constant string. None (the default): the session's
        ``spark.vsa.viewer.secret``, which keeps the secret out of the query's text; no resolved
        plan shows it either way.

    Examples
    --------
    >>> spark.createDataFrame([("viewer-1",)], ["id"]).select(
    ...     viewer_key("id", "s3cret").alias("key")).first()["key"]
    'f0142901aef8ce1e659f1c668359da9c'
    """
    return F.call_function("vsa_viewer_key", _col(viewer_id), *_secret(secret))


def viewer_keys_in_json(text: ColumnOrName, secret: str | None = None) -> Column:
    """JSON text, well-formed or not, with the value of every ``viewer_id`` key replaced by its
    :func:`viewer_key` under the same secret (SQL: ``vsa_viewer_keys_in_json``): a dead letter's
    raw record then holds the pseudonym the tables hold, never the id.

    Examples
    --------
    >>> spark.createDataFrame([('{"viewer_id": "viewer-1", "ts": 1',)], ["raw"]).select(
    ...     viewer_keys_in_json("raw", "s3cret").alias("raw")).first()["raw"]
    '{"viewer_id": "f0142901aef8ce1e659f1c668359da9c", "ts": 1'
    """
    return F.call_function("vsa_viewer_keys_in_json", _col(text), *_secret(secret))


def viewer_sketch(viewer_id: ColumnOrName, lg_k: int | None = None) -> Column:
    """Aggregate: a HyperLogLog sketch of the distinct ids (SQL: ``vsa_viewer_sketch``).

    The sketch is Spark's own ``hll_sketch_agg`` (Apache DataSketches HLL_8), byte for byte, so
    Spark's ``hll_*`` functions read it too. Store it and merge with :func:`sketch_union`; never
    add estimates.

    Parameters
    ----------
    viewer_id
        The viewer id column (string, int, long or binary).
    lg_k
        log2 of the number of buckets, 4..21 (default 12: relative standard error about
        1.04 / sqrt(2 ** lg_k) = 1.6%).

    Examples
    --------
    >>> df = spark.createDataFrame([("a",), ("b",), ("a",)], ["viewer_id"])
    >>> df.select(sketch_estimate(viewer_sketch("viewer_id"))).first()[0]
    2
    """
    args = [_col(viewer_id)] if lg_k is None else [_col(viewer_id), F.lit(lg_k)]
    return F.call_function("vsa_viewer_sketch", *args)


def sketch_union(sketch: ColumnOrName, allow_different_lg_k: bool = False) -> Column:
    """Aggregate: the union of the sketches of a group (SQL: ``vsa_sketch_union``).

    Parameters
    ----------
    sketch
        A binary column of :func:`viewer_sketch` results.
    allow_different_lg_k
        Whether sketches of different ``lg_k`` may be merged (the union takes the smallest);
        otherwise that is an error.

    Examples
    --------
    >>> df = spark.createDataFrame([(1, "a"), (1, "b"), (2, "a")], ["minute", "viewer_id"])
    >>> per_minute = df.groupBy("minute").agg(viewer_sketch("viewer_id").alias("s"))
    >>> per_minute.select(sketch_estimate(sketch_union("s"))).first()[0]
    2
    """
    return F.call_function("vsa_sketch_union", _col(sketch), F.lit(allow_different_lg_k))


def sketch_estimate(sketch: ColumnOrName) -> Column:
    """The distinct count a sketch estimates, a long (SQL: ``vsa_sketch_estimate``).

    Examples
    --------
    >>> spark.range(100).select(sketch_estimate(viewer_sketch("id"))).first()[0]
    100
    """
    return F.call_function("vsa_sketch_estimate", _col(sketch))


def sketch_lower_bound(sketch: ColumnOrName, num_std_dev: int) -> Column:
    """The lower confidence bound of a sketch's estimate (SQL: ``vsa_sketch_lower_bound``).

    Parameters
    ----------
    sketch
        A binary column of sketches.
    num_std_dev
        1, 2 or 3 standard deviations (about 68.3%, 95.4%, 99.7% confidence).

    Examples
    --------
    >>> s = spark.range(100000).select(viewer_sketch("id").alias("s"))
    >>> s.select(sketch_lower_bound("s", 3) < 100000).first()[0]
    True
    """
    return F.call_function("vsa_sketch_lower_bound", _col(sketch), F.lit(num_std_dev))


def sketch_upper_bound(sketch: ColumnOrName, num_std_dev: int) -> Column:
    """The upper confidence bound of a sketch's estimate (SQL: ``vsa_sketch_upper_bound``).

    Parameters
    ----------
    sketch
        A binary column of sketches.
    num_std_dev
        1, 2 or 3 standard deviations (about 68.3%, 95.4%, 99.7% confidence).

    Examples
    --------
    >>> s = spark.range(100000).select(viewer_sketch("id").alias("s"))
    >>> s.select(sketch_upper_bound("s", 3) > 100000).first()[0]
    True
    """
    return F.call_function("vsa_sketch_upper_bound", _col(sketch), F.lit(num_std_dev))


def parse_cmcd(text: ColumnOrName) -> Column:
    """The CMCD (CTA-5004) keys of a request, typed (SQL: ``vsa_parse_cmcd``).

    Parameters
    ----------
    text
        A string column holding either a query string or URL (its ``CMCD`` argument is read
        and URL-decoded) or a CMCD header value (``CMCD-Object``, ``CMCD-Request``,
        ``CMCD-Status``, ``CMCD-Session``, or several joined by ``","``). Text that starts
        with ``CMCD=`` or has a ``?`` or ``&`` outside quoted strings is a query string.

    Returns
    -------
    Column
        A struct with one field per key of docs/inputs.md (``br``, ``bl``, ``bs``, ``bsd``,
        ``cdn``, ``cid``, ``d``, ``dl``, ``e``, ``msd``, ``mtp``, ``nor``, ``nrr``, ``ot``,
        ``pr``, ``rtp``, ``sf``, ``sid``, ``st``, ``sta``, ``su``, ``tb``, ``ts``, ``ttfb``,
        ``ttlb``, ``v``): integers as long, ``pr`` as double, ``bs``/``su`` as booleans
        (false when absent, as CMCD omits false), ``v`` 1 when omitted; for v2 inner lists the
        first item. ``other`` maps every other key (and whole inner lists) to its text;
        ``error`` says why a malformed dictionary could not be read (then every other field
        is null). Null when the text carries no CMCD.

    Examples
    --------
    >>> df = spark.createDataFrame([
    ...     ("/v/seg_12.m4s?CMCD=bl%3D21300%2Cbr%3D3200%2Cbs%2Cot%3Dv%2Csid%3D%22s-1%22",),
    ...     (r'br=3200,sid="say \\"hi\\"",com.example-k=7',),
    ...     ("br=3200,",)], ["t"])
    >>> df.select(parse_cmcd("t").alias("c")).select(
    ...     "c.br", "c.bl", "c.bs", "c.sid", "c.other", "c.error").show(truncate=False)
    +----+-----+-----+--------+--------------------+--------------------------------+
    |br  |bl   |bs   |sid     |other               |error                           |
    +----+-----+-----+--------+--------------------+--------------------------------+
    |3200|21300|true |s-1     |{}                  |NULL                            |
    |3200|NULL |false|say "hi"|{com.example-k -> 7}|NULL                            |
    |NULL|NULL |NULL |NULL    |NULL                |trailing ',', found end of input|
    +----+-----+-----+--------+--------------------+--------------------------------+
    <BLANKLINE>
    """
    return F.call_function("vsa_parse_cmcd", _col(text))


def log_lines(record: ColumnOrName) -> Column:
    """A CDN log record's lines (SQL: ``vsa_log_lines``): a record may be one line or a whole
    log file sent as one Kafka message.

    Parameters
    ----------
    record
        The record's text.

    Returns
    -------
    Column
        ``array<string>``: the lines, split at ``\\n``, each without a trailing ``\\r``;
        lines of spaces only are left out.

    Examples
    --------
    >>> record = "#Fields: date time\\r\\n\\n2025-11-24 16:18:30\\r\\n"
    >>> df = spark.createDataFrame([(record,)], ["r"])
    >>> df.select(log_lines("r").alias("lines")).show(truncate=False)
    +-----------------------------------------+
    |lines                                    |
    +-----------------------------------------+
    |[#Fields: date time, 2025-11-24 16:18:30]|
    +-----------------------------------------+
    <BLANKLINE>
    """
    return F.call_function("vsa_log_lines", _col(record))


def parse_cloudfront(line: ColumnOrName, names: ColumnOrName) -> Column:
    """One CloudFront standard log line as a normalized request (SQL: ``vsa_parse_cloudfront``).

    Parameters
    ----------
    line
        A tab-separated line, ``-`` for a missing value.
    names
        The line's field names, in order (its file's ``#Fields:`` list, as an array).

    Returns
    -------
    Column
        A struct: ``timestamp``, ``client_ip``, ``user_agent`` (URL-decoded), ``host``, ``path``,
        ``query``, ``status``, ``bytes``, ``ttfb_ms``, ``download_ms``, ``cache_status`` (``HIT``,
        ``MISS``, ``OTHER``), ``pop``, ``cmcd_text``, then ``reason`` and ``detail``: null for a
        good line, else why it is rejected (``bad_encoding``: the line is not UTF-8, without a
        detail; ``bad_field_count``, ``missing_field``, ``bad_timestamp``, ``bad_type``). Null for
        a null line or list.

    Examples
    --------
    >>> names = ["date", "time", "x-edge-location", "sc-bytes", "c-ip", "cs-method",
    ...          "cs(Host)", "cs-uri-stem", "sc-status", "cs(User-Agent)"]
    >>> start = "2025-11-24\\t16:18:30\\tFRA56-P4\\t"
    >>> df = spark.createDataFrame([
    ...     (start + "800\\t81.2.69.1\\tGET\\td.example\\t/a.ts\\t200\\tMy%20Player",),
    ...     (start + "many\\t81.2.69.1\\tGET\\td.example\\t/a.ts\\t200\\t-",)], ["line"])
    >>> df.select(parse_cloudfront("line", F.array(*map(F.lit, names))).alias("r")).select(
    ...     "r.timestamp", "r.user_agent", "r.bytes", "r.reason").show(truncate=False)
    +-------------------+----------+-----+--------+
    |timestamp          |user_agent|bytes|reason  |
    +-------------------+----------+-----+--------+
    |2025-11-24 16:18:30|My Player |800  |NULL    |
    |2025-11-24 16:18:30|NULL      |NULL |bad_type|
    +-------------------+----------+-----+--------+
    <BLANKLINE>
    """
    return F.call_function("vsa_parse_cloudfront", _col(line), _col(names))


def parse_nginx(line: ColumnOrName) -> Column:
    """One nginx log line, combined or extended, as a normalized request (SQL:
    ``vsa_parse_nginx``).

    Parameters
    ----------
    line
        An nginx ``combined`` line, optionally followed by ``rt=$request_time
        ut="$upstream_response_time" cs=$upstream_cache_status`` (and
        ``uht="$upstream_header_time"``), in any order, quoted or not.

    Returns
    -------
    Column
        The struct of :func:`parse_cloudfront` (``host`` and ``pop`` null: the line has
        neither); ``reason`` ``malformed_line`` for a line that is not combined.

    Examples
    --------
    >>> df = spark.createDataFrame([
    ...     ('203.0.113.7 - - [24/Nov/2025:17:18:30 +0100] "GET /a.ts?x=1 HTTP/1.1" 200 800 '
    ...      '"-" "Player/1" rt=0.500 ut="0.100, 0.300" cs=HIT',),
    ...     ("not nginx",)], ["line"])
    >>> df.select(parse_nginx("line").alias("r")).select(
    ...     "r.timestamp", "r.query", "r.ttfb_ms", "r.download_ms", "r.reason").show()
    +-------------------+-----+-------+-----------+--------------+
    |          timestamp|query|ttfb_ms|download_ms|        reason|
    +-------------------+-----+-------+-----------+--------------+
    |2025-11-24 16:18:30|  x=1|  100.0|      500.0|          NULL|
    |               NULL| NULL|   NULL|       NULL|malformed_line|
    +-------------------+-----+-------+-----------+--------------+
    <BLANKLINE>
    """
    return F.call_function("vsa_parse_nginx", _col(line))


def parse_akamai(line: ColumnOrName) -> Column:
    """One Akamai DataStream 2 line (a JSON object) as a normalized request (SQL:
    ``vsa_parse_akamai``).

    Parameters
    ----------
    line
        A JSON object of DataStream's fields (``reqTimeSec``, ``cliIP``, ``statusCode``, ...),
        keys in any case, values strings or numbers; ``-``, ``^``, ``""`` or an empty string for
        none.

    Returns
    -------
    Column
        The struct of :func:`parse_cloudfront`; ``reason`` ``malformed_json`` for a line that is
        not a JSON object.

    Examples
    --------
    >>> df = spark.createDataFrame([
    ...     ('{"reqTimeSec": "1700000000.25", "statusCode": 206, "reqPath": "a%20b.ts", '
    ...      '"turnAroundTimeMSec": "11", "transferTimeMSec": "125", "cacheStatus": "1"}',),
    ...     ('{"reqtimesec": "1700000000", "statuscode": "2xx", "cacheStatus": "^"}',),
    ...     ("not json",)], ["line"])
    >>> df.select(parse_akamai("line").alias("r")).select(
    ...     "r.timestamp", "r.status", "r.path", "r.download_ms", "r.cache_status", "r.reason"
    ... ).show(truncate=False)
    +----------------------+------+-------+-----------+------------+--------------+
    |timestamp             |status|path   |download_ms|cache_status|reason        |
    +----------------------+------+-------+-----------+------------+--------------+
    |2023-11-14 22:13:20.25|206   |/a b.ts|136.0      |HIT         |NULL          |
    |2023-11-14 22:13:20   |NULL  |NULL   |NULL       |NULL        |bad_type      |
    |NULL                  |NULL  |NULL   |NULL       |NULL        |malformed_json|
    +----------------------+------+-------+-----------+------------+--------------+
    <BLANKLINE>
    """
    return F.call_function("vsa_parse_akamai", _col(line))


def parse_cloudfront_realtime(line: ColumnOrName, names: ColumnOrName) -> Column:
    """One CloudFront real-time log line, read by the names of its fields, as a normalized
    request (SQL: ``vsa_parse_cloudfront_realtime``).

    Parameters
    ----------
    line
        A tab-separated, positional line (``-`` for none).
    names
        The fields of the real-time log configuration, in CloudFront's order (an array of
        strings).

    Returns
    -------
    Column
        The struct of :func:`parse_cloudfront`, its ``cmcd_fields`` the line's ``cmcd-*``
        fields, typed as :func:`parse_cmcd` types their keys (null when it has none), its
        ``cmcd_text`` the CMCD headers of ``cs-headers``.

    Examples
    --------
    >>> names = ["timestamp", "c-ip", "sc-status", "cs-uri-stem", "cmcd-encoded-bitrate"]
    >>> df = spark.createDataFrame([
    ...     ("1700000000.123\\t81.2.69.1\\t200\\t/a.ts?x=1\\t2400",),
    ...     ("yesterday\\t81.2.69.1\\t200\\t/a.ts\\t-",)], ["line"])
    >>> df.select(parse_cloudfront_realtime("line", F.array(*map(F.lit, names))).alias("r")).select(
    ...     "r.timestamp", "r.path", "r.query", "r.cmcd_fields.br", "r.reason").show(truncate=False)
    +-----------------------+-----+-----+----+-------------+
    |timestamp              |path |query|br  |reason       |
    +-----------------------+-----+-----+----+-------------+
    |2023-11-14 22:13:20.123|/a.ts|x=1  |2400|NULL         |
    |NULL                   |/a.ts|NULL |NULL|bad_timestamp|
    +-----------------------+-----+-----+----+-------------+
    <BLANKLINE>
    """
    return F.call_function("vsa_parse_cloudfront_realtime", _col(line), _col(names))


def parse_edgecast(line: ColumnOrName) -> Column:
    """One Edgio (Edgecast) RTLD log entry (a JSON object) as a normalized request (SQL:
    ``vsa_parse_edgecast``).

    Parameters
    ----------
    line
        A JSON object of RTLD's fields (``timestamp``, ``client_ip``, ``status_code``,
        ``prewrite_time``, ``total_time``, ...); ``-`` or an empty string for none.

    Returns
    -------
    Column
        The struct of :func:`parse_cloudfront`; ``reason`` ``malformed_json`` for a line that is
        not a JSON object.

    Examples
    --------
    >>> df = spark.createDataFrame([
    ...     ('{"timestamp": 1700000000.5, "status_code": 200, "path": "/a.ts", "query": "?x=1", '
    ...      '"prewrite_time": 0.012, "total_time": 0.8, "cache_status": "TCP_MISS"}',),
    ...     ("not json",)], ["line"])
    >>> df.select(parse_edgecast("line").alias("r")).select(
    ...     "r.query", "r.ttfb_ms", "r.download_ms", "r.cache_status", "r.reason").show()
    +-----+-------+-----------+------------+--------------+
    |query|ttfb_ms|download_ms|cache_status|        reason|
    +-----+-------+-----------+------------+--------------+
    |  x=1|   12.0|      800.0|        MISS|          NULL|
    | NULL|   NULL|       NULL|        NULL|malformed_json|
    +-----+-------+-----------+------------+--------------+
    <BLANKLINE>
    """
    return F.call_function("vsa_parse_edgecast", _col(line))


def parse_fastly(line: ColumnOrName, field_map: Mapping[str, str] | None = None) -> Column:
    """One Fastly log line (a JSON object) as a normalized request (SQL:
    ``vsa_parse_fastly``).

    Parameters
    ----------
    line
        A JSON object with the keys of real Fastly formats (``start_time``, ``req_uri``,
        ``resp_status``, ``time_elapsed``, ``fastly_info``, ...) or of vsa's VCL format
        (docs/cdn.md).
    field_map
        Your own key for a name of the preset (``timestamp``, ``client_ip``, ``user_agent``,
        ``host``, ``url``, ``status``, ``bytes``, ``elapsed_us``, ``ttfb_s``, ``cache_state``,
        ``pop``, ``cmcd``); a name the preset lacks is an error.

    Returns
    -------
    Column
        The struct of :func:`parse_cloudfront`; ``reason`` ``malformed_json`` for a line that is
        not a JSON object.

    Examples
    --------
    >>> df = spark.createDataFrame([
    ...     ('{"start_time": "2024-05-01T10:00:00+0000", "req_uri": "/a.m4s?x=1", '
    ...      '"resp_status": 200, "time_elapsed": 15230, "fastly_info": "HIT-CLUSTER"}',),
    ...     ('{"ts": "1714557602.5", "resp_status": 206}',)], ["line"])
    >>> df.select(parse_fastly("line", {"timestamp": "ts"}).alias("r")).select(
    ...     "r.timestamp", "r.path", "r.download_ms", "r.cache_status", "r.reason"
    ... ).show(truncate=False)
    +---------------------+------+-----------+------------+-------------+
    |timestamp            |path  |download_ms|cache_status|reason       |
    +---------------------+------+-----------+------------+-------------+
    |NULL                 |/a.m4s|15.23      |HIT         |missing_field|
    |2024-05-01 10:00:02.5|NULL  |NULL       |NULL        |NULL         |
    +---------------------+------+-----------+------------+-------------+
    <BLANKLINE>
    """
    entries = [F.lit(part) for item in (field_map or {}).items() for part in item]
    args = [_col(line), F.create_map(*entries)] if entries else [_col(line)]
    return F.call_function("vsa_parse_fastly", *args)


def map_without(m: ColumnOrName, keys: Sequence[str], prefix: str = "") -> Column:
    """A string-to-string map without the entries whose key is in ``keys``, the keys it keeps
    prefixed by ``prefix`` (SQL: ``vsa_map_without``). What ``map_filter(m, (k, v) -> NOT k IN
    (...))`` and then ``transform_keys`` give, computed in generated code instead of
    interpreted lambdas.

    Examples
    --------
    >>> df = spark.sql("SELECT map('ts', '1', 'mood', 'happy', 'seat', '12') AS m")
    >>> df.select(map_without("m", ["ts", "seat"]).alias("extra")).show()
    +---------------+
    |          extra|
    +---------------+
    |{mood -> happy}|
    +---------------+
    <BLANKLINE>
    >>> df.select(map_without("m", ["ts"], prefix="x_").alias("extra")).show(truncate=False)
    +-------------------------------+
    |extra                          |
    +-------------------------------+
    |{x_mood -> happy, x_seat -> 12}|
    +-------------------------------+
    <BLANKLINE>
    """
    return F.call_function(
        "vsa_map_without", _col(m), F.array(*(F.lit(k) for k in keys)), F.lit(prefix)
    )


def _col(c: ColumnOrName) -> Column:
    return F.col(c) if isinstance(c, str) else c


def _secret(secret: str | None) -> list[Column]:
    return [] if secret is None else [F.lit(secret)]
