"""Hostile records: each gets exactly one honest outcome, and every table stays readable.

A fixed corpus of the hostile records once tried by hand goes through a real Kafka broker and
the streaming job; a property-based test (hypothesis) feeds generated records through the
parser: each is exactly one valid row or one dead letter, with valid UTF-8 everywhere and no
raw IP address.
"""

from __future__ import annotations

import ipaddress
import json
import re
from dataclasses import replace

import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from pyspark.sql import Column
from pyspark.sql import functions as F
from pyspark.sql.types import DataType, MapType, StringType, StructType

from cdn_tables import cdn_tables
from conftest import flush_event
from vsa import pipeline
from vsa.charts import bar_chart, line_chart, scatter_chart
from vsa.config import VsaConfig
from vsa.normalize import RAW_LIMIT_CHARS
from vsa.normalize.cdn import FORMATS
from vsa.simulate.cdn import CLOUDFRONT_HEADER, Request, log_line
from vsa.sources import RAW_SCHEMA

T0 = 1_764_000_000_000  # 2025-11-24 16:00:00 UTC
MAX_FIELDS = 100  # docs/tables.md: a record of more top-level fields is too_large


def event(**fields: object) -> bytes:
    base = {"event_id": "e", "event_type": "heartbeat", "ts": T0, "session_id": "s"}
    return json.dumps({**base, **fields}).encode()


# (what it is, the record's bytes, the reason expected; None: a valid event)
CORPUS = [
    ("a plain valid event", event(event_id="ok-1"), None),
    # Kafka's default message size (1 MB) bounds a record; vsa's own limit is lower.
    ("a 900 KB user_agent", event(user_agent="A" * 900_000), "too_large"),
    ("a 10,000-field event", event(**{f"f{i}": i for i in range(10_000)}), "too_large"),
    ("one field over the limit", event(**{f"f{i}": i for i in range(MAX_FIELDS)}), "too_large"),
    ("video_width = 2^63", event(video_width=2**63), "bad_type"),
    ("ts = 0", event(ts=0), "bad_timestamp"),
    ("ts = -1000", event(ts=-1000), "bad_timestamp"),
    ("ts in year 0000", event(ts="0000-01-01T00:00:00Z"), "bad_timestamp"),
    ("ts in seconds", event(ts=T0 // 1000), "bad_timestamp"),
    ("a huge integer ts", event(ts=10**40), "bad_timestamp"),
    ("a fractional ts", event(ts=T0 + 0.5), "bad_timestamp"),
    ("two JSON objects", event(event_id="a") + event(event_id="b"), "malformed_json"),
    ("trailing garbage", event(event_id="c") + b" }garbage", "malformed_json"),
    ("nesting 5,000 deep", event(x=[]).replace(b"[]", b"[" * 5000 + b"]" * 5000), "malformed_json"),
    ("invalid UTF-8", event(user_agent="caf").replace(b"caf", b"caf\xe9\xff"), "bad_encoding"),
    ("an overlong UTF-8 NUL", event(user_agent="x").replace(b'"x"', b'"\xc0\x80"'), "bad_encoding"),
    ("a lone surrogate escape", event(user_agent="\ud800"), None),
    ("a JSON array", b"[1, 2, 3]", "malformed_json"),
    ("empty", b"", "malformed_json"),
]


@pytest.fixture(scope="module")
def hostile_run(spark, kafka, tmp_path_factory):
    """The corpus sent to one partition as bytes (Spark's Kafka sink), then the streaming job
    run until caught up; returns the output root."""
    topic = "player-events-hostile"
    kafka.create_topic(topic, partitions=1)
    values = [value for _, value, _ in CORPUS]
    flush = flush_event([(None, json.dumps({"ts": T0}))], VsaConfig(), 0).encode()
    rows = [(bytearray(v),) for v in [*values, flush]]
    (
        spark.createDataFrame(rows, "value binary")
        .coalesce(1)
        .write.format("kafka")
        .option("kafka.bootstrap.servers", kafka.bootstrap_servers)
        .option("topic", topic)
        .option("kafka.max.request.size", str(2 * 1024 * 1024))
        .save()
    )
    out = tmp_path_factory.mktemp("hostile")
    config = VsaConfig(
        kafka_bootstrap_servers=kafka.bootstrap_servers,
        player_events_topic=topic,
        cdn_logs_topic=None,
        output_root=str(out / "tables"),
        checkpoint_root=str(out / "checkpoints"),
    )
    pipeline.run_until_caught_up(spark, config)
    return out / "tables"


def test_each_hostile_record_has_exactly_one_outcome(hostile_run):
    events = pq.read_table(hostile_run / "player_events").to_pylist()
    letters = pq.read_table(hostile_run / "dead_letter").to_pylist()
    outcomes: dict[int, list[str | None]] = {}
    for row in events:
        outcomes.setdefault(row["kafka_offset"], []).append(None)
    for row in letters:
        outcomes.setdefault(row["kafka_offset"], []).append(row["reason"])
    expected = {offset: [reason] for offset, (_, _, reason) in enumerate(CORPUS)}
    expected[len(CORPUS)] = [None]  # the flush event
    assert outcomes == expected
    by_offset = {row["kafka_offset"]: row for row in letters}
    assert f"record of {len(CORPUS[1][1])} bytes, limit 65536" in by_offset[1]["detail"]
    cut = f"raw cut to its first {RAW_LIMIT_CHARS} of {len(CORPUS[1][1])} characters"
    assert by_offset[1]["detail"].endswith(cut)
    assert len(by_offset[1]["raw"]) == RAW_LIMIT_CHARS
    assert by_offset[3]["detail"] == f"{MAX_FIELDS + 4} fields, limit {MAX_FIELDS}"
    assert by_offset[9]["detail"].endswith(str(10**40))  # the value as sent
    assert by_offset[10]["detail"].endswith(f": {T0 + 0.5}")
    assert "seconds instead of ms" in by_offset[8]["detail"]
    assert "caf\ufffd" in by_offset[14]["raw"]


def test_every_table_is_readable_by_pyarrow_to_pandas(hostile_run):
    tables = [t for t in sorted(hostile_run.iterdir()) if not t.name.startswith(("_", "."))]
    assert {"player_events", "dead_letter", "views"} <= {t.name for t in tables}
    for table in tables:
        pq.read_table(table).to_pandas()


# Text around generated addresses: no digit, hex letter, `.` or `:` (which would make a longer
# run, such as 5.203.0.113.7, that is documented as not an address), but `%`, brackets, commas,
# quotes, control characters and non-ASCII.
FILLER = st.text(
    alphabet=st.sampled_from("ghijklmnopqrstuvwxyz _-,;=()[]{}%/\\\"'\t\n\u00e9\u4e2d")
)


def _unmasked(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    prefix = 24 if address.version == 4 else 48
    return ipaddress.ip_network(f"{address}/{prefix}", strict=False).network_address != address


ADDRESS = st.ip_addresses().filter(_unmasked)


@st.composite
def address_text(draw: st.DrawFn) -> tuple[str, list[str]]:
    """Text holding addresses in the forms clients and proxies write, and their raw forms."""
    parts, raw = [draw(FILLER)], []
    for address in draw(st.lists(ADDRESS, max_size=3)):
        text = str(address)
        form = draw(st.sampled_from(["{}", "{}:8443", "[{}]:443", "{}%eth0", "{}, 10.9.8.7"]))
        if address.version == 4 and form in ("[{}]:443", "{}%eth0"):
            form = "{}"
        # At least one character between two addresses: glued, `::1` + `10.0.0.7` is `::110.0.0.7`.
        parts += [form.format(text), draw(FILLER.filter(bool))]
        raw.append(text)
    return "".join(parts), raw


FIELD_NAMES = ["event_id", "event_type", "ts", "session_id", "viewer_id", "user_agent"]
FIELD_NAMES += ["client_ip", "error_message", "video_width", "bitrate_kbps", "note"]


@st.composite
def hostile_record(draw: st.DrawFn) -> tuple[bytes, list[str]]:
    """A record (bytes) and the raw addresses in it: mostly JSON objects with fields of any
    type, some broken in the ways senders break them."""
    raw: list[str] = []

    def value() -> object:
        text, addresses = draw(address_text())
        raw.extend(addresses)
        return draw(
            st.one_of(
                st.just(text),
                st.integers(min_value=-(2**70), max_value=2**70),
                st.floats(allow_nan=False, allow_infinity=False),
                st.none(),
                st.booleans(),
                st.just([text]),
                st.just({"nested": text}),
                st.sampled_from([T0, str(T0), "2025-11-24T16:00:00Z", "heartbeat"]),
            )
        )

    names = draw(st.lists(st.sampled_from(FIELD_NAMES), unique=True, max_size=len(FIELD_NAMES)))
    record = json.dumps({name: value() for name in names}).encode()
    damage = draw(st.sampled_from(["none", "none", "none", "trailing", "cut", "bytes", "twice"]))
    if damage == "trailing":
        record += b" x"
    elif damage == "cut":
        record = record[: draw(st.integers(0, len(record)))]
    elif damage == "bytes":
        at = draw(st.integers(0, len(record)))
        record = (
            record[:at] + draw(st.sampled_from([b"\xff", b"\xc3", b"\xed\xa0\x80"])) + record[at:]
        )
    elif damage == "twice":
        record += record
    return record, raw


def _text_of(column: str, data_type: DataType) -> list[Column]:
    """Every string inside ``column``, as byte-level concatenations Spark does not re-encode."""
    col = F.col(column)
    if isinstance(data_type, StringType):
        return [col]
    if isinstance(data_type, MapType):
        return [F.array_join(F.map_keys(col), ""), F.array_join(F.map_values(col), "")]
    if isinstance(data_type, StructType):
        return [t for f in data_type.fields for t in _text_of(f"{column}.{f.name}", f.dataType)]
    return []


# Each example is a Spark job: no shrinking (minutes), the failing example is printed whole.
# Derandomized, so CI runs the same examples every time. Random runs (150 examples) found one
# masking gap, fixed and pinned in PrivacySpec: an address glued after a `\u00e9` escape.
@settings(
    derandomize=True,
    max_examples=12,
    deadline=None,
    database=None,
    phases=[Phase.explicit, Phase.generate],
    suppress_health_check=list(HealthCheck),
)
@given(st.lists(hostile_record(), min_size=1, max_size=25))
def test_generated_records_each_become_one_row_or_one_dead_letter(spark, records):
    rows = [(bytearray(value), "t", 0, offset, None) for offset, (value, _) in enumerate(records)]
    raw = spark.createDataFrame(rows, RAW_SCHEMA.replace("raw string", "raw binary"))
    raw = raw.withColumn("raw", F.col("raw").cast("string"))  # as the Kafka source does
    records_out = pipeline.player_records(raw, VsaConfig())
    texts = _text_of("passthrough", records_out.schema["passthrough"].dataType)
    out = records_out.select(
        "kafka_offset",
        F.to_json("passthrough.player_event").alias("event"),
        F.to_json("passthrough.dead_letter").alias("letter"),
        F.is_valid_utf8(F.concat_ws("", *texts)).alias("utf8"),
    )
    results = {row.kafka_offset: row for row in out.collect()}
    assert sorted(results) == list(range(len(records)))
    for offset, (value, addresses) in enumerate(records):
        row = results[offset]
        assert (row.event is None) != (row.letter is None), value
        assert row.utf8, value
        written = row.event or row.letter
        assert [a for a in addresses if a in written] == [], value


GOOD_REQUEST = Request(
    ts_ms=T0,
    client_ip="81.2.69.160",
    user_agent="Player/1.0",
    host="cdn.example.com",
    path="/v/seg_1.ts",
    object_type="video",
    status=200,
    bytes=1000,
    ttfb_ms=20,
    download_ms=80,
    cache="Hit",
    cache_status="HIT",
    pop="FRA",
)


@pytest.mark.parametrize("fmt", ["cloudfront", "nginx", "akamai-ds2", "fastly"])
def test_a_cdn_line_with_invalid_utf8_is_a_bad_encoding_dead_letter(spark, fmt, tmp_path):
    request = replace(GOOD_REQUEST, user_agent="caf")
    good = log_line(request, fmt).encode()
    bad = good.replace(b"caf", b"caf\xe9\xff")
    assert bad != good
    rows = [(bytearray(line), "t", 0, offset, None) for offset, line in enumerate([good, bad])]
    raw = spark.createDataFrame(rows, RAW_SCHEMA.replace("raw string", "raw binary"))
    tables = cdn_tables(raw.withColumn("raw", F.col("raw").cast("string")), VsaConfig(), fmt)
    assert [r.kafka_offset for r in tables["cdn_requests"].collect()] == [0]
    (letter,) = tables["dead_letter"].collect()
    assert (letter.kafka_offset, letter.reason) == (1, "bad_encoding")
    assert "caf\ufffd" in letter.raw
    tables["dead_letter"].write.parquet(str(tmp_path / "letters"))
    assert pq.read_table(tmp_path / "letters").to_pandas()["reason"].tolist() == ["bad_encoding"]


def _cdn_tables(spark, records: list[str], fmt: str) -> dict:
    rows = [(text, "t", 0, offset, None) for offset, text in enumerate(records)]
    return cdn_tables(spark.createDataFrame(rows, RAW_SCHEMA), VsaConfig(), fmt)


def test_a_megabyte_of_whitespace_in_a_cdn_record_is_read_in_linear_time(spark):
    """A JSON document of many lines, and a #Fields: header, each with a 1 MB run of spaces
    inside. Trimmed with regexp_replace(^\\s+|\\s+$), each took hours (\\s+$ was tried from
    every space of the run to its end: 5·10¹¹ steps); trimmed from the ends, the job is as
    quick as any."""
    spaces = " " * 1_000_000
    document = f"[\n{spaces}x\n]"
    (letter,) = _cdn_tables(spark, [document], "akamai-ds2")["dead_letter"].collect()
    assert letter.reason == "malformed_json"
    version, fields = CLOUDFRONT_HEADER.split("\n")
    first, rest = fields.removeprefix("#Fields: ").split(" ", 1)
    header = f"#Fields: {first}{spaces}{rest}  \t"
    file = "\n".join([version, header, log_line(GOOD_REQUEST, "cloudfront")])
    tables = _cdn_tables(spark, [file], "cloudfront")
    assert tables["dead_letter"].count() == 0
    assert [r.status for r in tables["cdn_requests"].collect()] == [200]


# Per format: the text of GOOD_REQUEST's time to first byte and download time in its line, and
# how another value is written there (JSON formats: as a string, which Spark reads as a number).
DURATION_TEXTS = {
    "cloudfront": (("\t0.02\t", "\t{}\t"), ("\t0.08\t", "\t{}\t")),
    "cloudfront-realtime": (("\t0.02\t", "\t{}\t"), ("\t0.08\t", "\t{}\t")),
    "akamai-ds2": (
        ('"timeToFirstByte": "20"', '"timeToFirstByte": "{}"'),
        ('"transferTimeMSec": "60"', '"transferTimeMSec": "{}"'),
    ),
    "edgecast": (
        ('"prewrite_time": 0.02', '"prewrite_time": "{}"'),
        ('"total_time": 0.08', '"total_time": "{}"'),
    ),
    "fastly": (
        ('"time_to_first_byte": "0.020"', '"time_to_first_byte": "{}"'),
        ('"time_elapsed": 80000', '"time_elapsed": "{}"'),
    ),
    "nginx": (('ut="0.020"', 'ut="{}"'), ("rt=0.080", "rt={}")),
}


@pytest.mark.parametrize("fmt", sorted(FORMATS))
def test_a_cdn_duration_that_is_not_finite_is_a_bad_type_dead_letter(spark, fmt):
    """NaN, ±Infinity and 1e999 (read as Infinity) as a time to first byte or a download time:
    rejected, as no KPI can use them (`vsa report` crashed on an infinite p95)."""
    good = log_line(GOOD_REQUEST, fmt)
    lines = [good]
    for text, template in DURATION_TEXTS[fmt]:
        assert good.count(text) == 1, (text, good)
        for value in ("NaN", "Infinity", "-Infinity", "inf", "1e999"):
            lines.append(good.replace(text, template.format(value)))
    # As the simulator writes Python's NaN and infinities in each format.
    nan, inf = float("nan"), float("inf")
    for value in (nan, inf, -inf):
        lines.append(log_line(replace(GOOD_REQUEST, ttfb_ms=value), fmt))
        lines.append(log_line(replace(GOOD_REQUEST, download_ms=value), fmt))
    tables = _cdn_tables(spark, lines, fmt)
    assert [r.kafka_offset for r in tables["cdn_requests"].collect()] == [0]
    letters = sorted((r.kafka_offset, r.reason) for r in tables["dead_letter"].collect())
    assert letters == [(offset, "bad_type") for offset in range(1, len(lines))]


def test_report_charts_leave_out_values_that_are_not_finite():
    """A table written before non-finite durations were rejected (or by another writer) may
    hold one: the chart leaves it out instead of failing the whole report in math.floor."""
    nan, inf = float("nan"), float("inf")

    def drawn(svg: str) -> bool:  # no coordinate or label printed as nan or inf
        return re.search(r"\b(nan|-?inf)\b", svg) is None

    svg = line_chart([("p95", [(0.0, 10.0), (60_000.0, inf), (120_000.0, 30.0)])])
    assert svg.count("<circle") == 2 and drawn(svg)
    assert line_chart([("p95", [(0.0, nan), (60_000.0, -inf)])]) is None
    svg = bar_chart([("FRA", 20.0), ("AMS", inf)], second=[("FRA", 40.0), ("AMS", 50.0)])
    assert "FRA" in svg and "AMS" not in svg and drawn(svg)
    svg = scatter_chart([("FRA", 20.0, 1.0), ("AMS", inf, 2.0), ("LHR", 30.0, nan)])
    assert svg.count("<circle") == 1 and "FRA" in svg and drawn(svg)
