"""``vsa.functions.parse_cmcd`` / SQL ``vsa_parse_cmcd``: every key of docs/inputs.md through
both transports (a header value and the URL-encoded ``CMCD`` query argument), escaping,
unknown keys, inner lists, and malformed dictionaries."""

from __future__ import annotations

from urllib.parse import quote

import pytest

from vsa.cli import main
from vsa.functions import parse_cmcd

# key → (dictionary member, typed value); CTA-5004 and docs/inputs.md (v1 and the v2 keys).
KEYS = {
    "br": ("br=3200", 3200),
    "d": ("d=4004", 4004),
    "ot": ("ot=av", "av"),
    "tb": ("tb=6000", 6000),
    "bl": ("bl=21300", 21300),
    "dl": ("dl=18500", 18500),
    "mtp": ("mtp=48100", 48100),
    "nor": ('nor="..%2F300kbps%2Fsegment35.m4v"', "../300kbps/segment35.m4v"),  # decoded
    "nrr": ('nrr="12323-48763"', "12323-48763"),
    "su": ("su", True),
    "bs": ("bs", True),
    "rtp": ("rtp=12000", 12000),
    "cid": ('cid="faec5fc2-ac30-11ea-bb37-0242ac130002"', "faec5fc2-ac30-11ea-bb37-0242ac130002"),
    "pr": ("pr=1.08", 1.08),
    "sf": ("sf=h", "h"),
    "sid": ('sid="6e2fb550-c457-11e9-bb97-0800200c9a66"', "6e2fb550-c457-11e9-bb97-0800200c9a66"),
    "st": ("st=l", "l"),
    "v": ("v=2", 2),
    "msd": ("msd=1250", 1250),
    "bsd": ("bsd=800", 800),
    "sta": ("sta=r", "r"),
    "ts": ("ts=1700000000123", 1700000000123),
    "e": ("e=ps", "ps"),
    "ttfb": ("ttfb=45", 45),
    "ttlb": ("ttlb=390", 390),
    "cdn": ('cdn="cdn-b"', "cdn-b"),
}


def test_every_key_both_transports_sql_and_python_agree(spark):
    header = ",".join(member for member, _ in KEYS.values())
    query = f"/live/seg.m4s?token=a%26b&CMCD={quote(header, safe='')}&x=1"
    df = spark.createDataFrame([(header, query)], "header string, query string")
    row = df.select(
        parse_cmcd("header").alias("h"),
        parse_cmcd("query").alias("q"),
    ).first()
    sql = spark.sql("SELECT vsa_parse_cmcd(h) AS h FROM VALUES (?) AS t(h)", args=[header]).first()
    for key, (_, value) in KEYS.items():
        assert row.h[key] == value, key
        assert row.q[key] == value, key
        assert sql.h[key] == value, key
    assert row.h.other == {} and row.h.error is None and row.q.error is None


def test_absent_defaults_escapes_lists_and_unknown_keys(spark):
    rows = (
        spark.createDataFrame(
            [
                ("br=800",),
                (
                    r'cid="a \"quoted\" \\ id",com.example-pid="p",xyz=?0,'
                    "br=(3000 1500),bl=(21300 900)",
                ),
                ('nor=("seg2.m4s" "seg3.m4s"),sta=p',),
                ('ot="v",v=1',),  # a token sent as a string
                ("CMCD=br%3D800",),
            ],
            "t string",
        )
        .select(parse_cmcd("t").alias("c"))
        .collect()
    )
    first, escaped, lists, quoted, bare_query = (r.c for r in rows)
    assert (first.br, first.bs, first.su, first.v, first.ot) == (800, False, False, 1, None)
    assert escaped.cid == 'a "quoted" \\ id'
    assert (escaped.br, escaped.bl) == (3000, 21300)
    assert escaped.other == {
        "com.example-pid": "p",
        "xyz": "false",
        "br": "[3000,1500]",
        "bl": "[21300,900]",
    }
    assert lists.nor == "seg2.m4s" and lists.other == {"nor": '["seg2.m4s","seg3.m4s"]'}
    assert quoted.ot == "v"
    assert bare_query.br == 800


def test_malformed_dictionaries_name_the_problem(spark):
    cases = {
        "br=3200,,bl=1": "expected a key",
        'sid="abc': "unterminated string",
        'sid="a\\nb"': "escapes only",
        "BR=1": "expected a key",
        "br=abc": "br: expected an integer, got a token",
        "su=1": "su: expected a boolean, got an integer",
        "pr=1.2345": "1 to 3 fractional digits",
        "br=1234567890123456": "more than 15 digits",
        "br=(1 2": "unterminated inner list",
        "?x=1&CMCD=br%ZZ": "bad percent-encoding",
    }
    df = spark.createDataFrame([(k,) for k in cases], "t string")
    got = {r.t: r.c for r in df.select("t", parse_cmcd("t").alias("c")).collect()}
    for text, message in cases.items():
        assert got[text].error is not None and message in got[text].error, (text, got[text])
        assert got[text].br is None and got[text].other is None
    none = spark.createDataFrame([("a=1&b=2",), ("",), (None,)], "t string")
    assert [r.c for r in none.select(parse_cmcd("t").alias("c")).collect()] == [None] * 3


def test_cli_batch_needs_events_or_cdn_logs(tmp_path, capsys):
    with pytest.raises(SystemExit):
        main(["batch", "--out", str(tmp_path)])
    assert "batch needs --events, --cdn-logs or both" in capsys.readouterr().err
