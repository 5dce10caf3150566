"""vsa.functions against the jar: SQL name and Python wrapper agree, edge cases hold."""

from __future__ import annotations

import pytest
from pyspark.sql import functions as F

from vsa import functions as vf

IPHONE = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_2 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Version/17.2 Mobile/15E148 Safari/604.1"
)
FIREFOX_WINDOWS = "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:121.0) Gecko/20100101 Firefox/121.0"
GOOGLEBOT = "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)"


@pytest.mark.parametrize(
    ("ua", "expected"),
    [
        (
            IPHONE,
            {
                "browser_family": "Mobile Safari",
                "os_family": "iOS",
                "os_major": "17",
                "device_brand": "Apple",
                "device_model": "iPhone",
                "device_type": "mobile",
            },
        ),
        (
            FIREFOX_WINDOWS,
            {
                "browser_family": "Firefox",
                "browser_major": "121",
                "os_family": "Windows",
                "device_family": "Other",
                "device_type": "desktop",
            },
        ),
        (
            GOOGLEBOT,
            {"browser_family": "Googlebot", "device_family": "Spider", "device_type": "bot"},
        ),
        (
            "",
            {
                "browser_family": "Other",
                "os_family": "Other",
                "device_family": "Other",
                "device_type": "other",
            },
        ),
        ("\x00garbage((((", {"browser_family": "Other", "device_type": "other"}),
        (None, {"browser_family": None, "os_family": None, "device_type": None}),
    ],
)
def test_parse_user_agent(spark, ua, expected):
    df = spark.createDataFrame([(ua,)], "ua string")
    from_python = df.select(vf.parse_user_agent("ua").alias("p")).first()["p"].asDict()
    from_sql = df.selectExpr("vsa_parse_ua(ua) AS p").first()["p"].asDict()
    assert from_python == from_sql
    assert {k: from_python[k] for k in expected} == expected


def test_parse_user_agent_takes_a_column_or_a_name(spark):
    df = spark.createDataFrame([(IPHONE,)], "ua string")
    by_name = df.select(vf.parse_user_agent("ua").device_type).first()[0]
    by_column = df.select(vf.parse_user_agent(F.col("ua")).device_type).first()[0]
    assert by_name == by_column == "mobile"


def test_a_long_agent_does_not_stall_the_parser(spark):
    long_ua = FIREFOX_WINDOWS + " " + "x" * 200_000
    p = spark.createDataFrame([(long_ua,)], "ua string").select(
        vf.parse_user_agent("ua").alias("p")
    )
    assert p.first()["p"]["browser_family"] == "Firefox"


@pytest.mark.parametrize(
    ("ip", "masked"),
    [
        ("81.2.69.142", "81.2.69.0"),
        ("2001:480:10::1", "2001:480:10::"),
        ("not-an-ip", None),
        ("localhost", None),
        (None, None),
    ],
)
def test_mask_ip(spark, ip, masked):
    df = spark.createDataFrame([(ip,)], "ip string")
    assert df.select(vf.mask_ip("ip")).first()[0] == masked
    assert df.selectExpr("vsa_mask_ip(ip)").first()[0] == masked
