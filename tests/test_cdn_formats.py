"""Each CDN log format, from lines shaped as the vendor documents them, to ``cdn_requests`` and
``dead_letter`` rows; every parsed field asserted.

Sources of the field lists (the lines below are written from them, values made up):
- CloudFront standard: AWS CloudFront Developer Guide, "Standard logging (access logs)", log
  file format (the `#Version: 1.0` / `#Fields:` header and the 33 fields; its example line of
  2019-12-04 LAX1 is the model of the first line here).
- CloudFront real-time: AWS CloudFront Developer Guide, "Real-time logs", fields (positional,
  in the order of the configuration, tab-separated, epoch `timestamp` with milliseconds,
  `cmcd-*` fields).
- Akamai DataStream 2: techdocs.akamai.com, "Data set parameters" / JSON log sample (`reqTimeSec`,
  `cliIP`, `UA` URL-encoded, `cacheStatus` 0/1, fields with empty values omitted).
- Edgecast / Edgio RTLD: Edgio docs, "Real-Time Log Delivery (RTLD) CDN log fields" and the
  JSON payload (`{"logs": [...]}` plus delivery metadata).
- Fastly: docs.fastly.com "Custom log formats" / VCL variables (`time.elapsed.usec`,
  `time.to_first_byte`, `fastly_info.state`, `server.datacenter`), through vsa's JSON preset
  (docs/cdn.md).
- nginx: nginx.org `ngx_http_log_module`, the predefined `combined` format; the extended
  variant of docs/inputs.md.
"""

from __future__ import annotations

import datetime as dt
import json

import pytest
from pyspark.sql import DataFrame, SparkSession

from cdn_tables import cdn_tables
from vsa.config import VsaConfig
from vsa.sources import read_cdn_files

UTC = dt.UTC
CHROME = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/120.0.0.0 Safari/537.36"
)
IPHONE = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_1 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Version/17.1 Mobile/15E148 Safari/604.1"
)
# In the City test database: 81.2.69.142 is London (GB); 2001:218:: is Japan.
LONDON_IP = "81.2.69.142"
JAPAN_IP6 = "2001:218:85a3::8a2e:370:7334"


def run(spark: SparkSession, fmt: str, lines: list[str], **config: object) -> tuple[list, list]:
    """(cdn_requests rows sorted by timestamp, dead_letter rows sorted by raw) of ``lines``, each
    a record (as from a topic or a file without header)."""
    tables = cdn_tables(records(spark, lines), VsaConfig(**config), fmt)
    requests = sorted(tables["cdn_requests"].collect(), key=lambda r: (r.timestamp, r.path))
    dead = sorted(tables["dead_letter"].collect(), key=lambda r: r.raw)
    return requests, dead


def records(spark: SparkSession, lines: list[str]) -> DataFrame:
    """``lines`` as raw records without Kafka coordinates."""
    return spark.createDataFrame(
        [(line, None, None, None, None) for line in lines],
        "raw string, kafka_topic string, kafka_partition int, kafka_offset long, "
        "kafka_timestamp timestamp",
    )


def ts(text: str) -> dt.datetime:
    """A naive datetime as Spark returns timestamps (session time zone UTC)."""
    return dt.datetime.fromisoformat(text).astimezone(UTC).replace(tzinfo=None)


CF_FIELDS = (
    "date time x-edge-location sc-bytes c-ip cs-method cs(Host) cs-uri-stem sc-status "
    "cs(Referer) cs(User-Agent) cs-uri-query cs(Cookie) x-edge-result-type x-edge-request-id "
    "x-host-header cs-protocol cs-bytes time-taken x-forwarded-for ssl-protocol ssl-cipher "
    "x-edge-response-result-type cs-protocol-version fle-status fle-encrypted-fields c-port "
    "time-to-first-byte x-edge-detailed-result-type sc-content-type sc-content-len "
    "sc-range-start sc-range-end"
)


def cf_line(**v: str) -> str:
    values = {
        "date": "2019-12-04",
        "time": "21:02:31",
        "x-edge-location": "LAX1-C1",
        "sc-bytes": "392",
        "c-ip": LONDON_IP,
        "cs-method": "GET",
        "cs(Host)": "d111111abcdef8.cloudfront.net",
        "cs-uri-stem": "/index.html",
        "sc-status": "200",
        "cs(Referer)": "-",
        "cs(User-Agent)": CHROME.replace(" ", "%20"),
        "cs-uri-query": "-",
        "cs(Cookie)": "-",
        "x-edge-result-type": "Hit",
        "x-edge-request-id": "SOX4xwn4XV6Q4rgb7XiVGOHms_BGlTAC4KyHmureZmBNrjGdRLiNIQ==",
        "x-host-header": "d111111abcdef8.cloudfront.net",
        "cs-protocol": "https",
        "cs-bytes": "23",
        "time-taken": "0.001",
        "x-forwarded-for": "-",
        "ssl-protocol": "TLSv1.2",
        "ssl-cipher": "ECDHE-RSA-AES128-GCM-SHA256",
        "x-edge-response-result-type": "Hit",
        "cs-protocol-version": "HTTP/2.0",
        "fle-status": "-",
        "fle-encrypted-fields": "-",
        "c-port": "11040",
        "time-to-first-byte": "0.001",
        "x-edge-detailed-result-type": "Hit",
        "sc-content-type": "text/html",
        "sc-content-len": "78",
        "sc-range-start": "-",
        "sc-range-end": "-",
    }
    values.update(v)
    return "\t".join(values[f] for f in CF_FIELDS.split())


def test_cloudfront_standard(spark, tmp_path):
    header = f"#Version: 1.0\n#Fields: {CF_FIELDS}"
    segment = cf_line(
        **{
            "cs-uri-stem": "/vod/movie-1/1080p/seg_00042.m4s",
            "cs-uri-query": "CMCD=bl%3D21300%2Cbr%3D3200%2Cbs%2Cmtp%3D25400%2Cot%3Dv%2Csid%3D%22"
            "6e2fb550-c457-11e9-bb97-0800200c9a66%22%2Csu",
            "sc-bytes": "1048576",
            "time-taken": "0.250",
            "time-to-first-byte": "0.012",
            "x-edge-result-type": "RefreshHit",
        }
    )
    manifest = cf_line(
        time="21:02:35",
        **{
            "c-ip": JAPAN_IP6,
            "cs-uri-stem": "/live/master.m3u8",
            # An odd agent: URL-encoded parentheses and a literal plus.
            "cs(User-Agent)": "AppleCoreMedia/1.0.0.21A5326a%20%28iPhone%3B%20U%3B%20CPU%20"
            "OS%2017_0%20like%20Mac%20OS%20X%3B%20en_us%29+x",
            "x-edge-result-type": "Miss",
            "time-to-first-byte": "-",
            "sc-status": "404",
        },
    )
    error = cf_line(time="21:02:36", **{"x-edge-result-type": "Error", "sc-status": "503"})
    broken = [
        "2019-12-04\t21:02:31\tLAX1",  # truncated
        cf_line(date="2019-13-45"),
        cf_line(**{"sc-status": "OK"}),
        cf_line(**{"sc-status": "-"}),
    ]
    (tmp_path / "E2EXAMPLE.2019-12-04-21.abcd1234").write_text(
        "\n".join([header, segment, manifest, error, *broken]) + "\n"
    )
    config = VsaConfig()
    tables = cdn_tables(read_cdn_files(spark, str(tmp_path)), config, "cloudfront")
    rows = sorted(tables["cdn_requests"].collect(), key=lambda r: r.timestamp)
    dead = sorted(tables["dead_letter"].collect(), key=lambda r: r.reason)

    assert len(rows) == 3
    seg, man, err = rows
    assert seg.timestamp == dt.datetime(2019, 12, 4, 21, 2, 31)
    assert seg.client_ip == "81.2.69.0"  # privacy on: /24
    assert seg.user_agent == CHROME
    assert (seg.host, seg.path) == (
        "d111111abcdef8.cloudfront.net",
        "/vod/movie-1/1080p/seg_00042.m4s",
    )
    assert seg.query.startswith("CMCD=bl%3D21300")
    assert (seg.status, seg.bytes, seg.ttfb_ms, seg.download_ms) == (200, 1048576, 12.0, 250.0)
    assert (seg.cache_status, seg.pop, seg.cdn, seg.object_type) == (
        "HIT",
        "LAX1-C1",
        "cloudfront",
        "video",
    )
    assert (seg.cmcd_bl, seg.cmcd_br, seg.cmcd_bs, seg.cmcd_mtp, seg.cmcd_ot, seg.cmcd_su) == (
        21300,
        3200,
        True,
        25400,
        "v",
        True,
    )
    assert seg.cmcd_sid == "6e2fb550-c457-11e9-bb97-0800200c9a66"
    assert (seg.country, seg.city, seg.browser_family, seg.device_type) == (
        "GB",
        "London",
        "Chrome",
        "desktop",
    )
    assert man.client_ip == "2001:218:85a3::"
    assert man.user_agent == (
        "AppleCoreMedia/1.0.0.21A5326a (iPhone; U; CPU OS 17_0 like Mac OS X; en_us)+x"
    )
    assert (man.status, man.ttfb_ms, man.cache_status, man.object_type) == (
        404,
        None,
        "MISS",
        "manifest",
    )
    assert man.country == "JP" and man.cmcd_br is None and man.cmcd_bs is None
    assert (err.status, err.cache_status, err.object_type) == (503, "OTHER", "other")

    assert [(d.source, d.reason) for d in dead] == [
        ("cdn_logs", "bad_field_count"),
        ("cdn_logs", "bad_timestamp"),
        ("cdn_logs", "bad_type"),
        ("cdn_logs", "missing_field"),
    ]
    assert dead[0].detail == (
        "cloudfront: 3 tab-separated fields, fewer than the oldest layout's 23 "
        "(its field list has 33)"
    )
    assert dead[2].detail == "cloudfront: status is not a number: OK"
    assert dead[3].detail == "cloudfront: missing: status"
    assert all("81.2.69.142" not in d.raw for d in dead)  # IPs masked in dead letters too


def test_cloudfront_lines_as_they_come(spark):
    """docs/inputs.md, CloudFront "In real files": sc-status 000, a `User-Agent:` prefix, a 31-field
    row, a list in x-forwarded-for, a trailing field; and a configured field list."""
    chrome = CHROME.replace(" ", "%20")
    lines = [
        cf_line(time="21:02:32", **{"sc-status": "000", "sc-bytes": "0"}),
        cf_line(time="21:02:33", **{"cs(User-Agent)": f"User-Agent:%20{chrome}"}),
        "\t".join(cf_line(time="21:02:34").split("\t")[:31]),
        cf_line(time="21:02:35", **{"x-forwarded-for": "203.0.113.7,%20198.51.100.2"}),
        cf_line(time="21:02:36") + "\tnew-field",
    ]
    rows, dead = run(spark, "cloudfront", lines)
    assert dead == []
    assert [r.status for r in rows] == [0, 200, 200, 200, 200]  # 000: no response, still a row
    qos = cdn_tables(records(spark, lines), VsaConfig(), "cloudfront")["cdn_qos_minute"]
    assert qos.groupBy().sum("requests", "errors").first() == (5, 1)  # 000 is an error
    assert rows[1].user_agent == CHROME and rows[1].browser_family == "Chrome"
    assert (rows[2].ttfb_ms, rows[2].download_ms, rows[4].ttfb_ms) == (1.0, 1.0, 1.0)
    old = tuple(CF_FIELDS.split()[:24])
    short = ["\t".join(cf_line().split("\t")[:24])]
    (row,), dead = run(spark, "cloudfront", short, cloudfront_fields=old)
    assert dead == [] and (row.status, row.ttfb_ms, row.pop) == (200, None, "LAX1-C1")


def test_cloudfront_realtime_cmcd_headers(spark):
    """CMCD request headers in cs-headers (`Name:value` lines, names in any case)."""
    line = "1700000000.123\t81.2.69.142\t200\t/seg.m4s\tHost:a%0Acmcd-request:bl=21300,su%0A"
    line += "CMCD-Object:br=3200%0A"
    fields = ("timestamp", "c-ip", "sc-status", "cs-uri-stem", "cs-headers")
    (row,), dead = run(spark, "cloudfront-realtime", [line], cloudfront_realtime_fields=fields)
    assert dead == [] and (row.cmcd_bl, row.cmcd_br, row.cmcd_su) == (21300, 3200, True)


def test_cloudfront_fields_header_is_honoured(spark):
    """A record holding a whole log file: its own #Fields order, fewer fields, applies."""
    record = "\n".join(
        [
            "#Version: 1.0",
            "#Fields: time date c-ip sc-status sc-bytes cs-uri-stem x-edge-location "
            "x-edge-result-type time-taken cs(User-Agent)",
            f"08:00:01\t2024-03-01\t{LONDON_IP}\t206\t500\t/a/audio_eng=128000-12.m4s\tFRA56-P4"
            "\tMiss\t0.040\tVLC/3.0.20%20LibVLC/3.0.20",
            f"08:00:02\t2024-03-01\t{LONDON_IP}\t200\t100\t/t/subs_en.vtt\tFRA56-P4\tHit\t-\t-",
        ]
    )
    rows, dead = run(spark, "cloudfront", [record])
    assert dead == []
    assert [(r.timestamp, r.status, r.bytes, r.object_type, r.pop) for r in rows] == [
        (dt.datetime(2024, 3, 1, 8, 0, 1), 206, 500, "audio", "FRA56-P4"),
        (dt.datetime(2024, 3, 1, 8, 0, 2), 200, 100, "caption", "FRA56-P4"),
    ]
    assert rows[0].user_agent == "VLC/3.0.20 LibVLC/3.0.20"
    assert rows[0].download_ms == 40.0 and rows[1].download_ms is None
    assert rows[1].user_agent is None and rows[0].ttfb_ms is None


REALTIME_FIELDS = (
    "timestamp",
    "c-ip",
    "time-to-first-byte",
    "sc-status",
    "sc-bytes",
    "cs-method",
    "cs-host",
    "cs-uri-stem",
    "x-edge-location",
    "time-taken",
    "cs-user-agent",
    "cs-uri-query",
    "x-edge-result-type",
    "cmcd-encoded-bitrate",
    "cmcd-buffer-length",
    "cmcd-buffer-starvation",
    "cmcd-content-id",
    "cmcd-measured-throughput",
    "cmcd-object-type",
    "cmcd-playback-rate",
    "cmcd-session-id",
    "cmcd-startup",
    "cmcd-stream-type",
    "cmcd-version",
)


def test_cloudfront_realtime(spark):
    good = "\t".join(
        [
            "1700000000.123",
            JAPAN_IP6,
            "0.021",
            "200",
            "2097152",
            "GET",
            "d111111abcdef8.cloudfront.net",
            "/vod/m/720p/segment_17.ts",
            "NRT57-P2",
            "0.480",
            IPHONE.replace(" ", "%20"),
            "-",
            "Hit",
            "2400",
            "12400",
            "true",
            "movie-7",
            "8900",
            "v",
            "1.5",
            "sess-42",
            "-",
            "v",
            "-",
        ]
    )
    no_cmcd = "\t".join(
        ["1700000001.5", LONDON_IP, "-", "200", "900", "GET", "h", "/m/index.mpd", "LHR61-C2"]
        + ["0.005", "-", "-", "Miss"]
        + ["-"] * 11
    )
    query_cmcd = no_cmcd.replace("\t/m/index.mpd\t", "\t/m/v.m4s\t").replace(
        "\t-\t-\tMiss", "\t-\tCMCD=br%3D800%2Cot%3Dm\tMiss"
    )
    broken = ["1700000001.5\tonly\tthree", "\t".join(["yesterday", "-", "-", "200"] + ["-"] * 20)]
    rows, dead = run(
        spark,
        "cloudfront-realtime",
        [good, no_cmcd, query_cmcd.replace("1700000001.5", "1700000002"), *broken],
        cloudfront_realtime_fields=REALTIME_FIELDS,
    )
    assert len(rows) == 3
    r, n, q = rows
    assert r.timestamp == dt.datetime(2023, 11, 14, 22, 13, 20, 123000)
    assert (r.client_ip, r.user_agent, r.host, r.path, r.query) == (
        "2001:218:85a3::",
        IPHONE,
        "d111111abcdef8.cloudfront.net",
        "/vod/m/720p/segment_17.ts",
        None,
    )
    assert (r.status, r.bytes, r.ttfb_ms, r.download_ms, r.cache_status, r.pop) == (
        200,
        2097152,
        21.0,
        480.0,
        "HIT",
        "NRT57-P2",
    )
    assert (r.cmcd_br, r.cmcd_bl, r.cmcd_bs, r.cmcd_cid, r.cmcd_mtp, r.cmcd_ot) == (
        2400,
        12400,
        True,
        "movie-7",
        8900,
        "v",
    )
    assert (r.cmcd_pr, r.cmcd_sid, r.cmcd_su, r.cmcd_st, r.cmcd_v, r.object_type) == (
        1.5,
        "sess-42",
        False,
        "v",
        1,
        "video",
    )
    assert (r.device_type, r.os_family, r.country) == ("mobile", "iOS", "JP")
    assert (n.cmcd_v, n.cmcd_bs, n.object_type, n.cache_status, n.ttfb_ms) == (
        None,
        None,
        "manifest",
        "MISS",
        None,
    )
    # CMCD in the query wins over the (absent) fields; `ot=m` names the object type.
    assert (q.cmcd_br, q.cmcd_ot, q.object_type, q.cmcd_v) == (800, "m", "manifest", 1)
    assert [d.reason for d in dead] == ["bad_field_count", "bad_timestamp"]
    assert dead[0].detail.startswith("cloudfront-realtime: 3 tab-separated fields")


def test_akamai_datastream2(spark):
    full = {
        "version": 1,
        "cp": "123456",
        "reqId": "1239f220",
        "reqTimeSec": "1700000000.250",
        "bytes": "4995",
        "cliIP": LONDON_IP,
        "statusCode": "206",
        "proto": "HTTPS",
        "reqHost": "vod.example.com",
        "reqMethod": "GET",
        "reqPath": "/hls/stream_1080/chunk_00031.ts",
        "reqPort": "443",
        "rspContentLen": "5000",
        "rspContentType": "video/MP2T",
        "UA": "Mozilla%2F5.0%20%28SMART-TV%3B%20Linux%3B%20Tizen%206.0%29%20AppleWebKit%2F538.1",
        "tlsOverheadTimeMSec": "0",
        "tlsVersion": "TLSv1.3",
        "objSize": "5000",
        "uncompressedSize": "5000",
        "overheadBytes": "232",
        "totalBytes": "5227",
        "queryStr": "CMCD=bl%3D3000%2Cbr%3D6000%2Cd%3D4000%2Cot%3Dv%2Ctb%3D8000",
        "breadcrumbs": "//BC/%5Ba=23.50.55.38,c=g,k=0,l=1%5D",
        "accLang": "en-US",
        "cookie": "-",
        "range": "bytes=0-4999",
        "referer": "-",
        "xForwardedFor": "-",
        "maxAgeSec": "3600",
        "reqEndTimeMSec": "3",
        "errorCode": "-",
        "turnAroundTimeMSec": "11",
        "transferTimeMSec": "125",
        "dnsLookupTimeMSec": "0",
        "lastByte": "1",
        "edgeIP": "23.50.55.38",
        "country": "GB",
        "state": "England",
        "city": "LONDON",
        "serverCountry": "GB",
        "streamId": "12345",
        "asn": "12345",
        "cacheStatus": "1",
        "cacheable": "1",
        "timeToFirstByte": "14",
    }
    # Empty fields omitted, as DataStream 2 does: no UA, no query, no timeToFirstByte.
    sparse = {
        "reqTimeSec": "1700000001",
        "cliIP": "2001:db8::1",
        "statusCode": "500",
        "bytes": "0",
        "reqHost": "vod.example.com",
        "reqPath": "/hls/master.m3u8",
        "turnAroundTimeMSec": "48",
        "cacheStatus": "0",
        "edgeIP": "23.50.55.40",
    }
    rows, dead = run(
        spark,
        "akamai-ds2",
        [json.dumps(full), json.dumps(sparse), '{"reqTimeSec": "1700000001", "cliIP"', "[1,2]"],
    )
    a, s = rows
    assert (a.timestamp, a.client_ip, a.host, a.path) == (
        dt.datetime(2023, 11, 14, 22, 13, 20, 250000),
        "81.2.69.0",
        "vod.example.com",
        "/hls/stream_1080/chunk_00031.ts",
    )
    assert a.user_agent == "Mozilla/5.0 (SMART-TV; Linux; Tizen 6.0) AppleWebKit/538.1"
    assert (a.status, a.bytes, a.ttfb_ms, a.download_ms, a.cache_status, a.pop, a.cdn) == (
        206,
        4995,
        14.0,
        136.0,
        "HIT",
        "GB",
        "akamai",
    )
    assert (a.cmcd_bl, a.cmcd_br, a.cmcd_d, a.cmcd_tb, a.object_type, a.device_type) == (
        3000,
        6000,
        4000,
        8000,
        "video",
        "tv",
    )
    assert (s.user_agent, s.query, s.ttfb_ms, s.download_ms, s.cache_status, s.pop) == (
        None,
        None,
        48.0,
        48.0,
        "MISS",
        "23.50.55.0",  # the edge address, masked as every address is
    )
    assert (s.status, s.object_type, s.client_ip) == (500, "manifest", "2001:db8::")
    # A JSON array is read element by element: 1 and 2 are not objects.
    assert [(d.reason, d.raw) for d in dead] == [
        ("malformed_json", "1"),
        ("malformed_json", "2"),
        ("malformed_json", '{"reqTimeSec": "1700000001", "cliIP"'),
    ]


def test_akamai_a_key_given_twice_keeps_its_last_value(spark):
    # In any case: a logging pipeline may add a lower-cased copy. (from_json then
    # transform_keys(lower), the former parser, failed the whole batch on DUPLICATED_MAP_KEY.)
    twice = (
        '{"reqTimeSec": "1700000000", "statusCode": "404", "cliIP": "81.2.69.160", '
        '"reqPath": "/a.ts", "statuscode": "200", "CLIIP": "2001:db8::1"}'
    )
    once = '{"reqTimeSec": "1700000001", "statusCode": "206", "reqPath": "/b.ts"}'
    rows, dead = run(spark, "akamai-ds2", [twice, once])
    assert dead == []
    assert [(r.path, r.status, r.client_ip) for r in rows] == [
        ("/a.ts", 200, "2001:db8::"),
        ("/b.ts", 206, None),
    ]


def edgecast_log(**v: object) -> dict:
    log = {
        "timestamp": 1700000000.5,
        "client_ip": LONDON_IP,
        "client_country_code": "GB",
        "method": "GET",
        "host": "wpc.0001.edgecastcdn.net",
        "path": "/800001/live/chunklist_b2000000.m3u8",
        "query": "",
        "proto": "HTTP/1.1",
        "status_code": 200,
        "bytes_in": 412,
        "bytes_out": 3321,
        "write_time": 0.003,
        "cache_status": "TCP_HIT",
        "pop": "LHD",
        "user_agent": IPHONE,
        "referer": "",
    }
    log.update(v)
    return log


def test_edgecast_rtld_single_and_batched(spark):
    batch = {
        "account_number": "0001",
        "agent_id": "rtld-agent-1",
        "datestamp": "20231114",
        "profile_id": 1234,
        "seq_num": 7,
        "software_version": "1.2.3",
        "logs": [
            edgecast_log(
                timestamp=1700000001.25,
                path="/800001/live/media_b2000000_17.ts",
                cache_status="TCP_MISS",
                bytes_out=1500000,
                write_time=0.75,
                prewrite_time=0.012,
                total_time=0.8,
                query="?CMCD=br%3D2000%2Cbs%2Csid%3D%22x%22",
            ),
            edgecast_log(
                timestamp=1700000002,
                cache_status="TCP_EXPIRED_HIT",
                status_code=304,
                client_ip="2a02:c7f:1234::5",
            ),
            edgecast_log(timestamp="not a time"),
        ],
    }
    rows, dead = run(
        spark,
        "edgecast",
        [json.dumps(edgecast_log(cache_status="CONFIG_NOCACHE", user_agent="")), json.dumps(batch)],
    )
    assert [(r.timestamp, r.path, r.cache_status, r.status) for r in rows] == [
        (
            dt.datetime(2023, 11, 14, 22, 13, 20, 500000),
            "/800001/live/chunklist_b2000000.m3u8",
            "OTHER",
            200,
        ),
        (
            dt.datetime(2023, 11, 14, 22, 13, 21, 250000),
            "/800001/live/media_b2000000_17.ts",
            "MISS",
            200,
        ),
        (dt.datetime(2023, 11, 14, 22, 13, 22), "/800001/live/chunklist_b2000000.m3u8", "HIT", 304),
    ]
    single, media, revalidated = rows
    assert (single.user_agent, single.query, single.object_type, single.pop) == (
        None,
        None,
        "manifest",
        "LHD",
    )
    # total_time is the download; prewrite_time the time to first byte (write_time only a part).
    assert (media.bytes, media.download_ms, media.ttfb_ms, single.download_ms, media.query) == (
        1500000,
        800.0,
        12.0,
        None,
        "CMCD=br%3D2000%2Cbs%2Csid%3D%22x%22",
    )
    assert (media.cmcd_br, media.cmcd_bs, media.cmcd_sid, media.object_type) == (
        2000,
        True,
        "x",
        "video",
    )
    assert (revalidated.client_ip, revalidated.cdn) == ("2a02:c7f:1234::", "edgecast")
    assert [(d.reason, d.detail) for d in dead] == [
        ("bad_timestamp", "edgecast: not a timestamp: not a time")
    ]


def test_fastly_preset_and_user_mapping(spark):
    preset = {
        "timestamp": "2024-05-01T10:00:00+0000",
        "client_ip": LONDON_IP,
        "user_agent": CHROME,
        "host": "video.example.net",
        "url": "/dash/v1/init-stream0.m4s?token=abc&next=/x?y",  # the query starts at the first ?
        "status": 200,
        "bytes": 812,
        "time_elapsed": 15230,
        "time_to_first_byte": "0.004",
        "fastly_info_state": "HIT-CLUSTER",
        "pop": "LCY",
        "cmcd": 'ot=i,sid="abc",sf=d,st=l,bl=0',
    }
    pass_ = {
        **preset,
        "timestamp": "1714557601",
        "url": "/dash/v1/chunk-stream0-00007.m4s",
        "fastly_info_state": "PASS",
        "cmcd": "br=3000,,",
    }
    rows, dead = run(spark, "fastly", [json.dumps(preset), json.dumps(pass_), "not json"])
    init, passed = rows
    assert init.timestamp == dt.datetime(2024, 5, 1, 10, 0, 0)
    assert (init.path, init.query, init.bytes, init.download_ms, init.ttfb_ms) == (
        "/dash/v1/init-stream0.m4s",
        "token=abc&next=/x?y",
        812,
        15.23,
        4.0,
    )
    assert (init.cache_status, init.pop, init.cdn) == ("HIT", "LCY", "fastly")
    assert (init.cmcd_ot, init.cmcd_sid, init.cmcd_sf, init.cmcd_st, init.cmcd_bl) == (
        "i",
        "abc",
        "d",
        "l",
        0,
    )
    assert init.object_type == "init"
    # A malformed CMCD header: the request stays (without CMCD), the dictionary is a dead letter.
    assert (passed.cache_status, passed.cmcd_br, passed.object_type) == ("OTHER", None, "video")
    assert passed.cmcd_error.startswith("expected a key")
    assert sorted(d.reason for d in dead) == ["malformed_cmcd", "malformed_json"]

    mine = {
        "ts": "1714557602.5",
        "ip": LONDON_IP,
        "req": "/a.mpd",
        "code": "200",
        "size": "99",
        "state": "MISS",
        "dc": "AMS",
    }
    mapping = {
        "timestamp": "ts",
        "client_ip": "ip",
        "url": "req",
        "status": "code",
        "bytes": "size",
        "cache_state": "state",
        "pop": "dc",
    }
    rows, dead = run(
        spark, "fastly", [json.dumps(mine)], fastly_field_map=mapping, cdn_name="edge-b"
    )
    assert dead == []
    (r,) = rows
    assert (r.timestamp, r.path, r.status, r.bytes, r.cache_status, r.pop, r.cdn) == (
        dt.datetime(2024, 5, 1, 10, 0, 2, 500000),
        "/a.mpd",
        200,
        99,
        "MISS",
        "AMS",
        "edge-b",
    )
    with pytest.raises(ValueError, match="fastly field map: unknown names"):
        run(spark, "fastly", [], fastly_field_map={"elapsed": "x"})


def test_nginx_combined_and_extended(spark):
    combined = (
        f'{LONDON_IP} - - [10/Oct/2023:13:55:36 -0700] "GET /hls/v/seg-5.ts?CMCD=br%3D1200 '
        'HTTP/1.1" 200 2326 "http://www.example.com/start.html" '
        '"Mozilla/4.08 [en] (Win98; I ;Nav)"'
    )
    extended = (
        f'{JAPAN_IP6} - frank [10/Oct/2023:20:55:37 +0000] "GET /hls/master.m3u8 HTTP/2.0" 200 '
        f'512 "-" "{IPHONE}" rt=0.010 ut="0.004, 0.006" cs=EXPIRED'
    )
    dash = (
        f'{LONDON_IP} - - [10/Oct/2023:20:55:38 +0000] "GET /x/seg.m4s HTTP/1.1" 304 - "-" "-" '
        'rt=0.000 ut="-" cs=-'
    )
    broken = ["garbage line", f'{LONDON_IP} - - [yesterday] "GET / HTTP/1.1" 200 1 "-" "-"']
    rows, dead = run(
        spark, "nginx", [combined, extended, dash, *broken], cdn_pop="edge-par-1", cdn_name="origin"
    )
    c, e, d = rows
    assert (c.timestamp, c.client_ip, c.path, c.query, c.status, c.bytes) == (
        dt.datetime(2023, 10, 10, 20, 55, 36),
        "81.2.69.0",
        "/hls/v/seg-5.ts",
        "CMCD=br%3D1200",
        200,
        2326,
    )
    assert (c.user_agent, c.download_ms, c.cache_status, c.pop, c.cdn, c.cmcd_br) == (
        "Mozilla/4.08 [en] (Win98; I ;Nav)",
        None,
        None,
        "edge-par-1",
        "origin",
        1200,
    )
    assert (e.client_ip, e.user_agent, e.download_ms, e.ttfb_ms, e.cache_status) == (
        "2001:218:85a3::",
        IPHONE,
        10.0,
        4.0,
        "MISS",
    )
    assert (e.object_type, d.bytes, d.ttfb_ms, d.download_ms, d.cache_status, d.user_agent) == (
        "manifest",
        None,
        None,
        0.0,
        None,
        None,
    )
    assert [x.reason for x in dead] == ["bad_timestamp", "malformed_line"]
