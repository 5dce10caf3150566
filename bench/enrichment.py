"""Rows per second of user-agent + GeoIP enrichment: the jar against Python and pandas UDFs.

    .venv/bin/pip install -e '.[bench]'
    .venv/bin/python bench/enrichment.py --rows 1000000

One Parquet file of events (agents drawn from 2,000 distinct real ones of uap-core's test
corpus, addresses from the networks of MaxMind's test databases) is written first; then each
variant reads it, enriches it and writes to Spark's `noop` sink, on local[2]:
  (a) jar: vsa_parse_ua + vsa_geoip, each kept as the struct it returns (two columns in, two
      out, as in (b), (c) and (d));
  (b) Python UDFs with `user-agents` and `geoip2` (readers opened once per worker);
  (c) pandas UDFs doing the same;
  (d) floor: the same read and write of the raw columns, no enrichment;
and two references, not targets:
  (a13) (a) with 13 fields selected out of the structs as columns;
  (e) those 13 columns as plain copies of the input columns, no enrichment: what the width of
      (a13)'s output alone costs against (d) (the `noop` sink never reads (d)'s two columns,
      so (d) does not even decode their strings).
Python parses and lookups go through LRU caches as large as the jar's (20,000 agents, 65,536
addresses), so both sides skip repeated values alike. (b) and (c) run on the first
--python-rows rows; their rate is that sample's. Each variant runs once to warm up (JIT,
caches, Python workers), then --runs times, taking turns with the others; the best run counts.
"""

from __future__ import annotations

import argparse
import functools
import importlib
import ipaddress
import json
import os
import random
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from types import ModuleType

import pandas as pd
import yaml
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from vsa import functions as vf
from vsa.config import VsaConfig
from vsa.spark_session import build_session

# Set before the session starts, so the Python workers (which import a copy of this file from
# elsewhere) find the data too.
os.environ.setdefault(
    "VSA_SHARED_DATA", str(Path(__file__).resolve().parents[1] / "tests" / "data" / "third_party")
)
DATA = Path(os.environ["VSA_SHARED_DATA"])
CITY_DB = DATA / "mmdb" / "GeoIP2-City-Test.mmdb"
ASN_DB = DATA / "mmdb" / "GeoLite2-ASN-Test.mmdb"
DISTINCT_AGENTS = 2000
UA_CACHE = 20_000  # as the jar's user-agent cache
GEO_CACHE = 65_536  # as vsa_geoip's answer cache
ENRICHED = (
    "browser_family string, browser_major string, os_family string, os_major string, "
    "device_family string, device_brand string, device_model string, device_type string, "
    "country string, region string, city string, asn long, as_org string"
)
UA_FIELDS = ENRICHED.split(", country")[0].replace(" string", "").split(", ")
GEO_FIELDS = ["country", "region", "city", "asn", "as_org"]


def agents() -> list[str]:
    corpus = sorted(
        {
            case["user_agent_string"]
            for name in ("test_ua.yaml", "test_device.yaml")
            for case in yaml.safe_load((DATA / "uap" / name).read_text())["test_cases"]
        }
    )
    return random.Random(7).sample(corpus, DISTINCT_AGENTS)


def addresses() -> list[str]:
    """Addresses inside the networks of the City and ASN test databases."""
    rng = random.Random(11)
    out = []
    for source in ("GeoIP2-City-Test.json", "GeoLite2-ASN-Test.json"):
        for entry in json.loads((DATA / "mmdb" / source).read_text()):
            for cidr in entry:
                network = ipaddress.ip_network(cidr)
                first = int(network.network_address)
                if network.version == 6 and network.prefixlen >= 96 and first >> 32 == 0:
                    network = ipaddress.IPv4Network((first, network.prefixlen - 96))
                host = first + rng.randrange(min(network.num_addresses, 256))
                out.append(
                    str(
                        ipaddress.ip_address(host)
                        if network.version == 4
                        else ipaddress.IPv6Address(host)
                    )
                )
    return out


def write_events(spark: SparkSession, rows: int, path: str) -> None:
    ua_pool, ip_pool = agents(), addresses()

    def pick(pool: list[str], key: str) -> F.Column:
        index = (F.pmod(F.xxhash64(F.col("id"), F.lit(key)), len(pool)) + 1).cast("int")
        return F.element_at(F.array(*map(F.lit, pool)), index)

    spark.range(rows, numPartitions=4).select(
        pick(ua_pool, "ua").alias("user_agent"), pick(ip_pool, "ip").alias("client_ip")
    ).write.mode("overwrite").parquet(path)


@functools.lru_cache(maxsize=UA_CACHE)
def parse_ua(ua: str) -> tuple:
    import user_agents

    p = user_agents.parse(ua)
    kind = (
        "bot"
        if p.is_bot
        else "tablet"
        if p.is_tablet
        else "mobile"
        if p.is_mobile
        else "desktop"
        if p.is_pc
        else "other"
    )
    return (
        p.browser.family,
        _major(p.browser.version_string),
        p.os.family,
        _major(p.os.version_string),
        p.device.family,
        p.device.brand,
        p.device.model,
        kind,
    )


def _major(version: str) -> str | None:
    return version.split(".")[0] or None


@functools.cache
def readers() -> tuple:
    import geoip2.database

    return geoip2.database.Reader(str(CITY_DB)), geoip2.database.Reader(str(ASN_DB))


@functools.lru_cache(maxsize=GEO_CACHE)
def geo(ip: str) -> tuple:
    import geoip2.errors

    city_reader, asn_reader = readers()
    try:
        c = city_reader.city(ip)
        city = (
            c.country.iso_code,
            c.subdivisions[0].iso_code if c.subdivisions else None,
            c.city.names.get("en"),
        )
    except (geoip2.errors.AddressNotFoundError, ValueError):
        city = (None, None, None)
    try:
        a = asn_reader.asn(ip)
        asn = (a.autonomous_system_number, a.autonomous_system_organization)
    except (geoip2.errors.AddressNotFoundError, ValueError):
        asn = (None, None)
    return city + asn


def with_jar(df: DataFrame) -> DataFrame:
    return df.select(
        vf.parse_user_agent("user_agent").alias("u"), vf.geo_lookup("client_ip").alias("g")
    )


def with_jar_columns(df: DataFrame) -> DataFrame:
    ua, g = vf.parse_user_agent("user_agent"), vf.geo_lookup("client_ip")
    return df.select(*[ua[f].alias(f) for f in UA_FIELDS], *[g[f].alias(f) for f in GEO_FIELDS])


def importable() -> ModuleType:
    """This file as a module the Python workers import (shipped with addPyFile), so the UDFs
    pickle by reference and their caches and readers live once per worker process."""
    sys.path.insert(0, str(Path(__file__).parent))
    return importlib.import_module(Path(__file__).stem)


def with_python_udf(df: DataFrame) -> DataFrame:
    parse_ua, geo = importable().parse_ua, importable().geo
    ua_type = ", ".join(f"{f} string" for f in UA_FIELDS)
    ua_udf = F.udf(parse_ua, f"struct<{ua_type.replace(' string', ': string')}>")
    geo_udf = F.udf(
        geo, "struct<country: string, region: string, city: string, asn: long, as_org: string>"
    )
    return df.select(ua_udf("user_agent").alias("u"), geo_udf("client_ip").alias("g"))


def with_pandas_udf(df: DataFrame) -> DataFrame:
    worker = importable()

    @F.pandas_udf(", ".join(f"{f} string" for f in UA_FIELDS))
    def ua_udf(uas: pd.Series) -> pd.DataFrame:
        return pd.DataFrame([worker.parse_ua(u) for u in uas], columns=UA_FIELDS)

    @F.pandas_udf("country string, region string, city string, asn long, as_org string")
    def geo_udf(ips: pd.Series) -> pd.DataFrame:
        out = pd.DataFrame([worker.geo(ip) for ip in ips], columns=GEO_FIELDS)
        out["asn"] = out["asn"].astype("Int64")
        return out

    return df.select(ua_udf("user_agent").alias("u"), geo_udf("client_ip").alias("g"))


def floor(df: DataFrame) -> DataFrame:
    return df.select("user_agent", "client_ip")


def copies(df: DataFrame) -> DataFrame:
    return df.select(
        *[F.col("user_agent").alias(f) for f in UA_FIELDS],
        *[F.col("client_ip").alias(f) for f in GEO_FIELDS],
    )


def rates(spark: SparkSession, path: str, rows: int, variants: list[Callable], runs: int) -> list:
    """Rows/s of each variant, best of `runs`. The variants take turns within each round, so a
    change in the shared machine's load reaches them alike."""
    df = spark.read.parquet(path)
    if rows < df.count():
        df = df.limit(rows)
    for variant in variants:  # warm-up: JIT, caches, Python workers
        variant(df).write.format("noop").mode("overwrite").save()
    best = [float("inf")] * len(variants)
    for _ in range(runs):
        for i, variant in enumerate(variants):
            began = time.perf_counter()
            variant(df).write.format("noop").mode("overwrite").save()
            best[i] = min(best[i], time.perf_counter() - began)
    return [rows / seconds for seconds in best]


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--python-rows", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    python_rows = min(args.rows, args.python_rows)
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)  # workers run this venv's Python
    config = VsaConfig(
        geoip_city_db=str(CITY_DB),
        geoip_asn_db=str(ASN_DB),
        spark_conf={"spark.ui.showConsoleProgress": "false"},
    )
    spark = build_session(config, app_name="vsa-bench-enrichment", master="local[2]")
    spark.sparkContext.addPyFile(__file__)
    with tempfile.TemporaryDirectory() as tmp:
        path = str(Path(tmp) / "events")
        write_events(spark, args.rows, path)
        # the jar's answers and Python's agree on the sample, or the race means nothing
        sample = spark.read.parquet(path).limit(2000)
        geo_fields = [f"g.{f}" for f in GEO_FIELDS]
        jar_rows = with_jar(sample).select(*geo_fields).collect()
        udf_rows = with_python_udf(sample).select(*geo_fields).collect()
        assert Counter(map(tuple, jar_rows)) == Counter(map(tuple, udf_rows))
        a, a13, d, e = rates(
            spark, path, args.rows, [with_jar, with_jar_columns, floor, copies], args.runs
        )
        b, c = rates(spark, path, python_rows, [with_python_udf, with_pandas_udf], args.runs)
    spark.stop()
    print(
        f"\n{args.rows:,} events, {DISTINCT_AGENTS} distinct agents; Python UDFs on "
        f"{python_rows:,} rows; best of {args.runs}; local[2]"
    )
    for name, value in (
        ("a: jar (vsa_parse_ua + vsa_geoip)", a),
        ("b: Python UDFs", b),
        ("c: pandas UDFs", c),
        ("d: floor (no enrichment)", d),
        ("a13: (a) as 13 columns (reference)", a13),
        ("e: 13 copied columns (reference)", e),
    ):
        print(f"  {name:36s} {value:>12,.0f} rows/s")
    print(f"  a/b = {a / b:.1f}x   a/c = {a / c:.1f}x   a/d = {a / d:.2f}x")
    print(f"  references: a13/d = {a13 / d:.2f}x   e/d = {e / d:.2f}x   a13/e = {a13 / e:.2f}x")


if __name__ == "__main__":
    main()
