"""Real CDN logs and CMCD vectors (tests/data/third_party/cdn-real): every sample of every
format becomes ``cdn_requests`` rows with the values of the sample's own expected file (or, where
the source publishes none, the values its lines hold), one assertion per expected value.

Privacy is off here, so client addresses can be compared with the samples'.
"""

from __future__ import annotations

import ast
import datetime as dt
import functools
import json
import re
from pathlib import Path
from urllib.parse import unquote

import pytest
from pyspark.sql import SparkSession

from third_party import third_party_data
from vsa.config import VsaConfig
from vsa.functions import parse_cmcd
from vsa.normalize.cdn import DOCUMENT_FORMATS
from vsa.normalize.cdn.cmcd import CMCD_KEYS
from vsa.pipeline import cdn_records
from vsa.sources.files import read_cdn_files

# The configurations used here, by name (a VsaConfig holds dicts: not a cache key).
CONFIGS = {
    "default": VsaConfig(privacy=False),
    "fastly pop from service_id": VsaConfig(privacy=False, fastly_field_map={"pop": "service_id"}),
}
# The samples' folder, as the third_party fixture finds it: the CMCD vectors parametrize tests.
REAL = third_party_data() / "cdn-real"
UTC = dt.UTC


def epoch(seconds: str | float) -> dt.datetime:
    """A naive UTC datetime of epoch seconds, as Spark returns a timestamp (the session is UTC)."""
    return dt.datetime.fromtimestamp(float(seconds), UTC).replace(tzinfo=None)


@pytest.fixture(scope="module")
def real(third_party: Path) -> Path:
    return third_party / "cdn-real"


@functools.cache
def _tables(spark: SparkSession, fmt: str, path: str, config: str) -> tuple[list, list]:
    raw = read_cdn_files(
        spark, path, headers=fmt == "cloudfront", documents=fmt in DOCUMENT_FORMATS
    )
    return _split(cdn_records(raw, CONFIGS[config], fmt).collect())


def read(spark, real: Path, fmt: str, name: str, config: str = "default") -> tuple[list, list]:
    """(cdn_requests rows, dead_letter rows) of the sample file ``name``, read as ``vsa batch``
    reads files."""
    return _tables(spark, fmt, str(real / name), config)


def records(spark, fmt: str, lines: tuple[str, ...], config: str = "default"):
    """(rows, dead letters) of ``lines``, each one record (as from a Kafka topic) whose
    ``kafka_offset`` is its index in ``lines``."""
    return _records(spark, fmt, lines, config)


@functools.cache
def _records(spark, fmt: str, lines: tuple[str, ...], config: str) -> tuple[list, list]:
    raw = spark.createDataFrame(
        [(line, None, None, i, None) for i, line in enumerate(lines)],
        "raw string, kafka_topic string, kafka_partition int, kafka_offset long, "
        "kafka_timestamp timestamp",
    )
    return _split(cdn_records(raw, CONFIGS[config], fmt).collect())


def approx(expected: object) -> object:
    """A float compared within float error (seconds * 1000 in doubles); anything else exactly."""
    return pytest.approx(expected) if isinstance(expected, float) else expected


def _split(lines: list) -> tuple[list, list]:
    """(cdn_requests rows, dead_letter rows) of cdn_records' rows: one Spark job for both."""
    requests = [r.cdn_request for r in lines if r.cdn_request is not None]
    return requests, [r.dead_letter for r in lines if r.dead_letter is not None]


def data_lines(path: Path) -> list[str]:
    return [line for line in path.read_text().splitlines() if line.strip() and line[0] != "#"]


# --- CloudFront standard: no expected file is published; the values are the lines' own ----------

CHROME = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/78.0.3904.108 Safari/537.36"
)
IPHONE = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 10_2_1 like Mac OS X) AppleWebKit/602.4.6 (KHTML, like "
    "Gecko) Version/10.0 Mobile/14D27 Safari/602.1"
)
DISTRIBUTION = "d111111abcdef8.cloudfront.net"
CLOUDFRONT_COLUMNS = (
    "timestamp",
    "client_ip",
    "host",
    "path",
    "query",
    "status",
    "bytes",
    "ttfb_ms",
    "download_ms",
    "cache_status",
    "pop",
    "user_agent",
    "browser_family",
)


def _docs_rows(ttfb: dict[str, float]) -> list[tuple]:
    """The 2019 requests of the AWS docs' example (and of the node fixture that copies them),
    sorted by (timestamp, path, download_ms)."""
    index = (dt.datetime(2019, 12, 4, 21, 2, 31), "192.0.2.100", DISTRIBUTION, "/index.html")
    index += (None, 200, 392)
    return [
        (*index, ttfb["0.000"], 0.0, "HIT", "LAX1", CHROME, "Chrome"),
        (*index, ttfb["0.001"], 1.0, "HIT", "LAX1", CHROME, "Chrome"),
        (*index, ttfb["0.001"], 1.0, "HIT", "LAX1", CHROME, "Chrome"),
    ]


CLOUDFRONT_EXPECTED = {
    # 33 fields (a trailing TAB on the third line), `#Fields:` separated by spaces; the viewer's
    # host of the last three is x-host-header, not the distribution's cs(Host).
    "aws_docs_example.log": [
        *_docs_rows({"0.000": 0.0, "0.001": 1.0}),
        (
            dt.datetime(2019, 12, 13, 22, 36, 26),
            "192.0.2.200",
            "www.example.com",
            "/",
            None,
            502,
            900,
            107.0,
            107.0,
            "OTHER",
            "SEA19-C1",
            CHROME,
            "Chrome",
        ),
        (
            dt.datetime(2019, 12, 13, 22, 36, 27),
            "192.0.2.200",
            "www.example.com",
            "/favicon.ico",
            None,
            502,
            900,
            102.0,
            102.0,
            "OTHER",
            "SEA19-C1",
            CHROME,
            "Chrome",
        ),
        (
            dt.datetime(2019, 12, 13, 22, 37, 2),
            "192.0.2.200",
            "www.example.com",
            "/",
            None,
            502,
            900,
            103.0,
            103.0,
            "OTHER",
            "SEA19-C2",
            "curl/7.55.1",
            "curl",
        ),
    ],
    # `#Version:`/`#Fields:` separated by TABs; the user agent encoded twice (%2520).
    "node-cloudfront-log-parser_web-1-0-2019-12.log": _docs_rows({"0.000": 0.0, "0.001": 1.0}),
    # The pre-2019 24-field layout: no time-to-first-byte; cs-bytes `-`; a query on the second.
    "node-cloudfront-log-parser_web-1-0.log": [
        (
            dt.datetime(2014, 5, 23, 1, 13, 11),
            "192.0.2.10",
            DISTRIBUTION,
            "/view/my/file.html",
            None,
            200,
            182,
            None,
            1.0,
            "HIT",
            "FRA2",
            IPHONE,
            "Mobile Safari",
        ),
        (
            dt.datetime(2014, 5, 23, 1, 13, 12),
            "192.0.2.202",
            DISTRIBUTION,
            "/soundtrack/happy.mp3",
            "a=b&c=d",
            304,
            2390282,
            None,
            2.0,
            "HIT",
            "LAX1",
            IPHONE,
            "Mobile Safari",
        ),
    ],
}


def _sorted(rows: list) -> list:
    return sorted(rows, key=lambda r: (r.timestamp, r.path or "", r.download_ms or 0.0))


@pytest.mark.parametrize(
    "name, index, column",
    [
        (name, i, column)
        for name, rows in CLOUDFRONT_EXPECTED.items()
        for i in range(len(rows))
        for column in CLOUDFRONT_COLUMNS
    ],
)
def test_cloudfront_standard_values(spark, real, name, index, column):
    rows, _ = read(spark, real, "cloudfront", f"cloudfront_std/{name}")
    expected = CLOUDFRONT_EXPECTED[name][index][CLOUDFRONT_COLUMNS.index(column)]
    assert _sorted(rows)[index][column] == expected


@pytest.mark.parametrize("name", CLOUDFRONT_EXPECTED)
def test_cloudfront_standard_every_line_is_a_row(spark, real, name):
    """Header lines are neither rows nor dead letters; every data line is a row."""
    rows, dead = read(spark, real, "cloudfront", f"cloudfront_std/{name}")
    assert (len(rows), dead) == (len(data_lines(real / "cloudfront_std" / name)), [])


def test_cloudfront_standard_whole_file_in_one_record_and_lines_without_header(spark, real):
    """A Kafka record holding a whole file reads by its own (TAB-separated) `#Fields:` line;
    records of single lines, by the configured list (default: the 33 documented fields, which
    a 24-field row of the older layout is a prefix of)."""
    web = real / "cloudfront_std" / "node-cloudfront-log-parser_web-1-0.log"
    whole, dead = records(spark, "cloudfront", (web.read_text(),))
    single, single_dead = records(spark, "cloudfront", tuple(data_lines(web)))
    assert dead == single_dead == []
    expected = CLOUDFRONT_EXPECTED[web.name]
    assert [tuple(r[c] for c in CLOUDFRONT_COLUMNS) for r in _sorted(whole)] == expected
    assert [tuple(r[c] for c in CLOUDFRONT_COLUMNS) for r in _sorted(single)] == expected


# --- CloudFront real-time: node-cloudfront-log-parser's expected record ---------------------------

RT_COLUMNS = {
    "timestamp": ("timestamp", epoch),
    "c-ip": ("client_ip", str),
    "time-to-first-byte": ("ttfb_ms", lambda s: float(s) * 1000),
    "sc-status": ("status", int),
    "cs-user-agent": ("user_agent", str),
}
RT_SAMPLE = "cloudfront_rt/node-cloudfront-log-parser_kinesis-1-0"


def _rt_expected(real: Path) -> dict:
    return json.loads((real / f"{RT_SAMPLE}.expected.json").read_text())["records"][0]


@pytest.mark.parametrize("field", RT_COLUMNS)
@pytest.mark.parametrize("source", ["file", "record without header"])
def test_cloudfront_realtime_expected_values(spark, real, field, source):
    """The 40-field record reads against the default list of 63 (and by its own `#Fields:`)."""
    path = real / f"{RT_SAMPLE}.txt"
    if source == "file":
        rows, dead = read(spark, real, "cloudfront-realtime", path.relative_to(real).as_posix())
    else:
        rows, dead = records(spark, "cloudfront-realtime", tuple(data_lines(path)))
    column, convert = RT_COLUMNS[field]
    assert dead == [] and len(rows) == 1
    assert rows[0][column] == approx(convert(_rt_expected(real)[field]))


def test_cloudfront_realtime_query_is_not_appended_twice(spark, real):
    line = data_lines(real / f"{RT_SAMPLE}.txt")[0]
    fields = line.split("\t")
    (row,), _ = records(spark, "cloudfront-realtime", (line,))
    # cs-uri-stem (9th) holds the path and the query, cs-uri-query (20th) the query again.
    assert (row.path, row.query) == (fields[8].split("?")[0], fields[19])


# --- Akamai DataStream 2: GreptimeDB's expected values --------------------------------------------

AKAMAI_SAMPLE = "akamai_ds2/akamai_techdocs_sample_via_greptimedb"


def _unquoted(value: str) -> str:
    """GreptimeDB keeps CMCD strings' quotes (and the sample's stray trailing %22, its note
    says): the value is what is inside them."""
    return value.strip('"')


# Expected key → (cdn_requests column, the expected value as that column holds it).
AKAMAI_COLUMNS = {
    "query_str": ("query", None),  # compared URL-decoded, as GreptimeDB stores it
    "user_agent": ("user_agent", str),
    "req_path": ("path", str),
    "req_time_sec": ("timestamp", epoch),
    "status_code": ("status", int),
    "cache_status": ("cache_status", {1: "HIT"}.get),
    "bytes": ("bytes", int),
    "turn_around_time_msec": ("ttfb_ms", float),  # no timeToFirstByte: the turnaround
    "transfer_time_msec": ("download_ms", None),  # turnaround + transfer
    "cli_ip": ("client_ip", str),
    "req_host": ("host", str),
    "cmcd_version": ("cmcd_v", lambda v: int(float(v))),
    "cmcd_content_id": ("cmcd_cid", _unquoted),
    "cmcd_next_object_requests": ("cmcd_nor", _unquoted),
    "cmcd_next_range_request": ("cmcd_nrr", _unquoted),
    "cmcd_object_type": ("cmcd_ot", str),
    "cmcd_streaming_format": ("cmcd_sf", str),
    "cmcd_session_id": ("cmcd_sid", _unquoted),
    "cmcd_stream_type": ("cmcd_st", _unquoted),
    "cmcd_encoded_bitrate": ("cmcd_br", int),
    "cmcd_buffer_length": ("cmcd_bl", int),
    "cmcd_object_duration": ("cmcd_d", int),
    "cmcd_deadline": ("cmcd_dl", int),
    "cmcd_measured_throughput": ("cmcd_mtp", int),
    "cmcd_requested_max_throughput": ("cmcd_rtp", int),
    "cmcd_top_bitrate": ("cmcd_tb", int),
    "cmcd_playback_rate": ("cmcd_pr", float),
    "cmcd_buffer_starvation": ("cmcd_bs", bool),
    "cmcd_startup": ("cmcd_su", bool),
}
# Expected keys with no cdn_requests column: the referer, and total_bytes (bytes wins).
AKAMAI_NOT_READ = {"referer", "total_bytes"}


def _akamai_record(real: Path, variant: str) -> str:
    """The published record, or the variants that logging pipelines and DataStream also write."""
    (record,) = json.loads((real / f"{AKAMAI_SAMPLE}.json").read_text())
    if variant == "lower-cased keys":
        record = {key.lower(): value for key, value in record.items()}
    elif variant == "numbers, placeholders, a path without '/'":
        record = {**record, "reqTimeSec": 1573840000, "statusCode": 206, "bytes": 4995}
        record.update(reqPath="path1/path2/file.ext", referer="^", cookie="-", range='""')
    return json.dumps(record)


def test_akamai_expected_keys_are_all_mapped(real):
    expected = json.loads((real / f"{AKAMAI_SAMPLE}.expected_excerpt.json").read_text())
    assert set(expected["expected"]) == set(AKAMAI_COLUMNS) | AKAMAI_NOT_READ


@pytest.mark.parametrize("key", AKAMAI_COLUMNS)
@pytest.mark.parametrize(
    "variant",
    ["file", "lower-cased keys", "numbers, placeholders, a path without '/'"],
)
def test_akamai_expected_values(spark, real, key, variant):
    expected = json.loads((real / f"{AKAMAI_SAMPLE}.expected_excerpt.json").read_text())
    expected = expected["expected"]
    if variant == "file":  # a JSON array, pretty-printed over 51 lines
        rows, dead = read(spark, real, "akamai-ds2", f"{AKAMAI_SAMPLE}.json")
    else:
        rows, dead = records(spark, "akamai-ds2", (_akamai_record(real, variant),))
    assert dead == [] and len(rows) == 1
    (row,) = rows
    column, convert = AKAMAI_COLUMNS[key]
    if key == "query_str":
        assert unquote(row.query) == expected[key]
    elif key == "transfer_time_msec":
        assert row.download_ms == expected["turn_around_time_msec"] + expected[key]
    else:
        assert row[column] == convert(expected[key])


# --- Edgio RTLD: the docs' sample, as an envelope and as JSON lines -----------------------------

# Sample key → (column, conversion); the sample has no prewrite_time and no total_time.
EDGIO_COLUMNS = {
    "timestamp": ("timestamp", epoch),
    "client_ip": ("client_ip", str),
    "status_code": ("status", int),
    "bytes_out": ("bytes", int),
    "cache_status": ("cache_status", {"TCP_HIT": "HIT"}.get),
    "host": ("host", str),
    "path": ("path", str),
    "user_agent": ("user_agent", str),
}


def _edgio_entries(real: Path) -> list[dict]:
    return json.loads((real / "edgecast_edgio" / "rtld_cdn_sample.json").read_text())["logs"]


@pytest.mark.parametrize("key", EDGIO_COLUMNS)
@pytest.mark.parametrize("index", [0, 1])
@pytest.mark.parametrize("name", ["rtld_cdn_sample.json", "rtld_cdn.jsonl"])
def test_edgio_values(spark, real, name, index, key):
    rows, dead = read(spark, real, "edgecast", f"edgecast_edgio/{name}")
    assert dead == [] and len(rows) == 2
    row = sorted(rows, key=lambda r: r.timestamp)[index]
    column, convert = EDGIO_COLUMNS[key]
    assert row[column] == convert(_edgio_entries(real)[index][key])
    # No total_time, no prewrite_time: write_time alone is neither a download nor a TTFB.
    assert (row.download_ms, row.ttfb_ms) == (None, None)


def test_edgio_envelope_in_one_kafka_record(spark, real):
    text = (real / "edgecast_edgio" / "rtld_cdn_sample.json").read_text()
    rows, dead = records(spark, "edgecast", (text,))
    assert dead == [] and sorted(r.bytes for r in rows) == [563, 65895]


def test_edgio_total_and_prewrite_time(spark, real):
    entry = {**_edgio_entries(real)[0], "prewrite_time": 0.012, "total_time": 0.05}
    (row,), _ = records(spark, "edgecast", (json.dumps(entry),))
    assert (row.ttfb_ms, row.download_ms) == (12.0, 50.0)


# --- Fastly: the fastly-cli sample, with the real names ------------------------------------------

FASTLY_COLUMNS = {
    "start_time": ("timestamp", epoch),
    "client_ip": ("client_ip", str),
    "req_uri": ("path", str),
    "resp_status": ("status", int),
    "resp_bytes": ("bytes", int),
    "fastly_info": ("cache_status", {"MISS": "MISS"}.get),
    "datacenter": ("pop", str),
    "req_h_host": ("host", str),
    "req_h_user_agent": ("user_agent", str),
}
FASTLY_SAMPLE = "fastly/fastly-cli_eavesdrop.jsonl"


@pytest.mark.parametrize("key", FASTLY_COLUMNS)
@pytest.mark.parametrize("index", range(7))
def test_fastly_values(spark, real, index, key):
    rows, dead = read(spark, real, "fastly", FASTLY_SAMPLE)
    assert dead == [] and len(rows) == 7
    entry = json.loads(data_lines(real / FASTLY_SAMPLE)[index])
    row = sorted(rows, key=lambda r: r.timestamp)[index]
    column, convert = FASTLY_COLUMNS[key]
    assert row[column] == convert(entry[key])


def test_fastly_field_map_still_applies(spark, real):
    rows, dead = read(spark, real, "fastly", FASTLY_SAMPLE, "fastly pop from service_id")
    assert dead == [] and {r.pop for r in rows} == {"foo"}


# --- nginx: the extended lines, and nginx-amplify-agent's vectors ---------------------------------

# nginx_extended.log by line: (timestamp UTC, status, bytes, ttfb_ms, download_ms, cache_status):
# the TTFB is the first of the upstreams' times, `-` and `"-"` are none.
NGINX_EXTENDED = [
    (dt.datetime(2010, 1, 22, 16, 34, 21), 200, 11078, 2001.0, 10.0, "MISS"),
    (dt.datetime(2010, 1, 22, 16, 34, 21), 200, 11078, None, 10.0, "MISS"),
    (dt.datetime(2010, 1, 22, 16, 34, 21), 200, 11078, 2001.0, 10.0, None),
    (dt.datetime(2010, 1, 22, 17, 34, 21), 300, 1078, 2002.0, 10.0, "HIT"),
]
NGINX_COLUMNS = ("timestamp", "status", "bytes", "ttfb_ms", "download_ms", "cache_status")


@pytest.mark.parametrize("column", NGINX_COLUMNS)
@pytest.mark.parametrize("index", range(len(NGINX_EXTENDED)))
def test_nginx_extended_values(spark, real, index, column):
    lines = tuple(data_lines(real / "nginx" / "nginx_extended.log"))
    rows, dead = records(spark, "nginx", lines)
    assert dead == [] and len(rows) == 4
    row = next(r for r in rows if r.kafka_offset == index)
    assert row[column] == approx(NGINX_EXTENDED[index][NGINX_COLUMNS.index(column)])


def _amplify(real: Path) -> list[dict]:
    return json.loads((real / "nginx" / "nginx-amplify-agent_vectors.json").read_text())["vectors"]


# The vectors whose log_format is not combined with fields after it (the request unquoted, TABs,
# JSON): dead letters, as any line nginx's combined format does not describe.
NGINX_OTHER_FORMATS = {"test_soukiii_config", "test_tab_config", "test_json_config"}
# amplify's parsed fields → (cdn_requests column, the value as the column holds it). Fields
# without a column (method, version, remote_user, ...) and those a custom log_format puts in
# positional fields (its $request_time, $upstream_cache_status, $host) are not read.
AMPLIFY_COLUMNS = {
    "status": ("status", int),
    "body_bytes_sent": ("bytes", int),
    "http_user_agent": ("user_agent", str),
    "request_uri": ("path", str),
    "malformed": ("path", lambda malformed: None if malformed else ...),
}
# A test that parses several lines asserts some fields of one of them only.
AMPLIFY_LINE_OF = {
    ("test_simple_user_format", "request_uri"): "/wp-login.php",
    ("test_recommended_config", "request_uri"): '"GET / HTTP/2.0"',
}
_ASSERTION = re.compile(r"assert_that\(parsed\['(\w+)'\], equal_to\((.+)\)\)$")


def _amplify_expected(real: Path) -> list[tuple[int, str, object]]:
    """(vector index, column, expected value) of every assertion of a field that has a column."""
    out = []
    for i, vector in enumerate(_amplify(real)):
        test = vector["test"].split("::")[1]
        for assertion in vector["source_assertions"]:
            match = _ASSERTION.match(assertion)
            if not match or match[1] not in AMPLIFY_COLUMNS:
                continue
            marker = AMPLIFY_LINE_OF.get((test, match[1]))
            if marker is not None and marker not in vector["line"]:
                continue
            column, convert = AMPLIFY_COLUMNS[match[1]]
            value = convert(ast.literal_eval(match[2]))
            if value is not ...:
                out.append((i, column, value))
    return out


def test_nginx_amplify_vectors_rows_and_dead_letters(spark, real):
    vectors = _amplify(real)
    rows, dead = records(spark, "nginx", tuple(v["line"] for v in vectors))
    other = {i for i, v in enumerate(vectors) if v["test"].split("::")[1] in NGINX_OTHER_FORMATS}
    assert {r.kafka_offset for r in rows} == set(range(len(vectors))) - other
    assert {d.kafka_offset for d in dead} == other
    assert {(d.reason, d.detail) for d in dead} == {
        ("malformed_line", "nginx: not an nginx combined (or extended) log line")
    }


def test_nginx_amplify_assertions(spark, real):
    """One check per amplify assertion on a field vsa reads (collected, so each names its
    vector)."""
    vectors = _amplify(real)
    rows, _ = records(spark, "nginx", tuple(v["line"] for v in vectors))
    by_index = {r.kafka_offset: r for r in rows}
    expected = _amplify_expected(real)
    assert len(expected) >= 8
    failed = [(i, c, v, by_index[i][c]) for i, c, v in expected if by_index[i][c] != v]
    assert failed == []


# Lines of the vectors in the wild, by test: (column, value) read from the line itself.
NGINX_WILD = {
    # a malformed request, an extra trailing field
    "test_mailformed_request": [("status", 400), ("bytes", 173), ("path", None)],
    # rt="0.000" quoted, ut="-" quoted, an extra quoted field after
    "test_our_config": [("download_ms", 0.0), ("ttfb_ms", None), ("path", "/basic_status")],
    # two spaces before the status, ut="0.024", cs="-"
    "test_recommended_config": [("ttfb_ms", 24.0), ("download_ms", 24.0), ("cache_status", None)],
    # us=... after cs=
    "test_upstream_status_and_length": [("cache_status", "MISS"), ("ttfb_ms", 2001.0)],
    # three addresses before the user
    "test_extend_duplicates": [("client_ip", "1.2.3.4"), ("status", 200)],
    # two spaces before the request, the bytes repeated after the user agent
    "test_extend_duplicates_reported": [("status", 200), ("bytes", 41110)],
    "test_empty_upstreams": [("ttfb_ms", None), ("cache_status", None), ("download_ms", 10.0)],
}


@pytest.mark.parametrize(
    "test, column, value",
    [(test, column, value) for test, checks in NGINX_WILD.items() for column, value in checks],
)
def test_nginx_lines_in_the_wild(spark, real, test, column, value):
    vectors = _amplify(real)
    rows, _ = records(spark, "nginx", tuple(v["line"] for v in vectors))
    first = next(i for i, v in enumerate(vectors) if v["test"].endswith(f"::{test}"))
    row = next(r for r in rows if r.kafka_offset == first)
    assert row[column] == approx(value)


def test_nginx_empty_request(spark, real):
    """An empty request (`""`), a line of the wild: a row without a path."""
    line = _amplify(real)[0]["line"].replace('"GET /basic_status HTTP/1.1"', '""')
    (row,), dead = records(spark, "nginx", (line,))
    assert dead == [] and (row.status, row.path, row.query) == (200, None, None)


# --- CMCD: common-media-library's and shaka-player's vectors through vsa_parse_cmcd ---------------

LIST_KEYS_V1 = ("br", "bl", "mtp", "tb", "nor")  # sent as scalars in v1, as lists in v2


def _cmcd_vectors(real: Path) -> list[dict]:
    path = real / "cmcd" / "cmcd_vectors.json"
    return json.loads(path.read_text())["vectors"] if path.exists() else []


def _plain(value: object) -> object:
    """The corpus's `{"$token": x}` as x: vsa keeps tokens as text, as common-media-library
    does by default."""
    if isinstance(value, dict) and set(value) == {"$token"}:
        return value["$token"]
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


def _expected(vector: dict) -> dict:
    """The vector's expected object as vsa decodes it: tokens as text; with the option
    convertToLatest, a version-1 dictionary's list keys back to the scalars that were sent."""
    expected = {k: _plain(v) for k, v in vector["expected"].items()}
    if vector.get("options", {}).get("convertToLatest") and expected.get("v") != 2:
        for key in LIST_KEYS_V1:
            if isinstance(expected.get(key), list) and len(expected[key]) == 1:
                expected[key] = expected[key][0]
    return expected


def _inputs(vector: dict) -> list[str]:
    """The texts given to vsa_parse_cmcd: the input; headers both as `Name: value` lines and as
    their values joined by `,` (as a CDN field holds them)."""
    if vector["transport"] == "headers":
        headers = vector["input"]
        return [
            "\r\n".join(f"{name}: {value}" for name, value in headers.items()),
            ",".join(headers.values()),
        ]
    return [vector["input"]]


@functools.cache
def _decoded(spark, real: Path) -> dict[tuple[str, int], object]:
    texts = [(v["id"], i, text) for v in _cmcd_vectors(real) for i, text in enumerate(_inputs(v))]
    frame = spark.createDataFrame(texts, "id string, form int, t string")
    return {
        (r.id, r.form): r.c
        for r in frame.select("id", "form", parse_cmcd("t").alias("c")).collect()
    }


def _cmcd_cases(real: Path) -> list[tuple[str, int, str]]:
    return [
        (v["id"], form, key)
        for v in _cmcd_vectors(real)
        for form in range(len(_inputs(v)))
        for key in [*_expected(v), "(no other key)"]
    ]


def _bare(value: object) -> object:
    """A list's first item, an item without its parameters: what a typed column holds."""
    if isinstance(value, list):
        return _bare(value[0]) if value else None
    if isinstance(value, dict) and "$item" in value:
        return _bare(value["$item"])
    return value


@pytest.mark.parametrize(
    "vector_id, form, key",
    _cmcd_cases(REAL),
)
def test_cmcd_vectors(spark, real, vector_id, form, key):
    """Each expected key: a key with a typed column holds the value (a list's first item), and
    `other` holds a list or an item with parameters whole, as JSON; any other key is in `other`
    (a string as text, anything else as JSON). No key beyond the expected ones."""
    vector = next(v for v in _cmcd_vectors(real) if v["id"] == vector_id)
    expected = _expected(vector)
    parsed = _decoded(spark, real)[(vector_id, form)]
    if not expected:
        assert parsed is None
        return
    assert parsed.error is None
    other = parsed.other
    if key == "(no other key)":
        typed = {
            k
            for k in CMCD_KEYS
            if parsed[k] not in (None, False) and not (k == "v" and parsed[k] == 1)
        }
        assert typed | set(other) <= set(expected)
        return
    value = expected[key]
    if key in CMCD_KEYS:
        assert parsed[key] == approx(_bare(value))
        if isinstance(value, list | dict):
            assert json.loads(other[key]) == value
    elif isinstance(value, str):
        assert other[key] == value
    else:
        assert json.loads(other[key]) == value
