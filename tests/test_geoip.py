"""vsa_geoip against MaxMind's test databases: the JSON they were built from, Python `geoip2` on
the same addresses, and the corrupt and missing files."""

from __future__ import annotations

import ipaddress
import json
import random
from collections.abc import Iterator
from pathlib import Path

import geoip2.database
import geoip2.errors
import pytest

from vsa import functions as vf
from vsa.config import GEOIP_ASN_DB_KEY, GEOIP_CITY_DB_KEY, VsaConfig, embedded_city_db
from vsa.generate import client_ip

CITY_FIELDS = ("country", "region", "city", "latitude", "longitude")
ASN_FIELDS = ("asn", "as_org")
# (JSON source, database built from it, fields it answers)
SOURCES = [
    ("GeoIP2-City-Test.json", "GeoIP2-City-Test.mmdb", CITY_FIELDS),
    ("GeoLite2-City-Test.json", "GeoLite2-City-Test.mmdb", CITY_FIELDS),
    ("GeoLite2-ASN-Test.json", "GeoLite2-ASN-Test.mmdb", ASN_FIELDS),
]
CORRUPT = [
    "GeoIP2-City-Test-Broken-Double-Format.mmdb",
    "GeoIP2-City-Test-Invalid-Node-Count.mmdb",
    "MaxMind-DB-test-broken-pointers-24.mmdb",
    "MaxMind-DB-test-broken-search-tree-24.mmdb",
]


def record_fields(record: dict) -> dict:
    """The vsa_geoip fields a JSON source record holds (None where it holds nothing)."""
    subdivisions = record.get("subdivisions") or [{}]
    location = record.get("location", {})
    return {
        "country": record.get("country", {}).get("iso_code"),
        "region": subdivisions[0].get("iso_code"),
        "city": record.get("city", {}).get("names", {}).get("en"),
        "latitude": location.get("latitude"),
        "longitude": location.get("longitude"),
        "asn": record.get("autonomous_system_number"),
        "as_org": record.get("autonomous_system_organization"),
    }


def lookup_address(network: ipaddress.IPv4Network | ipaddress.IPv6Network) -> str:
    """The network's first address; `::a.b.c.d/n` (IPv4 in the IPv6 tree) as the IPv4 address."""
    first = network.network_address
    if first.version == 6 and network.prefixlen >= 96 and int(first) >> 32 == 0:
        return str(ipaddress.IPv4Address(int(first) & 0xFFFFFFFF))
    return str(first)


def in_ipv6_tree(network: ipaddress.IPv4Network | ipaddress.IPv6Network) -> ipaddress.IPv6Network:
    """Where a network sits in an IPv6 database: IPv4 a.b.c.d/n is ::a.b.c.d/(96+n)."""
    if network.version == 6:
        return network
    return ipaddress.IPv6Network((int(network.network_address), 96 + network.prefixlen))


def expected_from_json(path: Path) -> dict[str, dict]:
    """Address → fields of the most specific network of the source holding it."""
    networks = [
        (in_ipv6_tree(ipaddress.ip_network(cidr, strict=False)), ipaddress.ip_network(cidr), record)
        for entry in json.loads(path.read_text(encoding="utf-8"))
        for cidr, record in entry.items()
    ]
    expected = {}
    for tree_network, network, _ in networks:
        holders = [(n, r) for n, _, r in networks if tree_network.network_address in n]
        _, record = max(holders, key=lambda holder: holder[0].prefixlen)
        expected[lookup_address(network)] = record_fields(record)
    return expected


def python_geoip2(database: Path, addresses: list[str], fields: tuple[str, ...]) -> dict[str, dict]:
    """The same fields from MaxMind's Python reader."""
    out = {}
    with geoip2.database.Reader(str(database)) as reader:
        for address in addresses:
            try:
                if fields == ASN_FIELDS:
                    a = reader.asn(address)
                    got = {
                        "asn": a.autonomous_system_number,
                        "as_org": a.autonomous_system_organization,
                    }
                else:
                    c = reader.city(address)
                    got = {
                        "country": c.country.iso_code,
                        "region": c.subdivisions[0].iso_code if c.subdivisions else None,
                        "city": c.city.names.get("en"),
                        "latitude": c.location.latitude,
                        "longitude": c.location.longitude,
                    }
            except geoip2.errors.AddressNotFoundError:
                got = dict.fromkeys(fields)
            out[address] = got
    return out


@pytest.fixture
def geoip_conf(spark) -> Iterator[dict[str, str]]:
    """The session's GeoIP conf, restored after the test changes it."""
    saved = {key: spark.conf.get(key, None) for key in (GEOIP_CITY_DB_KEY, GEOIP_ASN_DB_KEY)}
    yield saved
    for key, value in saved.items():
        if value is None:
            spark.conf.unset(key)
        else:
            spark.conf.set(key, value)


def vsa_geoip(spark, addresses: list[str]) -> dict[str, dict]:
    # repartition: the lookups run in generated code, as in a real job, not folded on the driver
    df = spark.createDataFrame([(a,) for a in addresses], "ip string").repartition(2)
    rows = df.select("ip", vf.geo_lookup("ip").alias("g")).collect()
    return {row["ip"]: row["g"].asDict() for row in rows}


@pytest.mark.parametrize(("source", "database", "fields"), SOURCES)
def test_every_network_of_the_source(spark, third_party, geoip_conf, source, database, fields):
    key = GEOIP_ASN_DB_KEY if fields == ASN_FIELDS else GEOIP_CITY_DB_KEY
    spark.conf.set(key, str(third_party / "mmdb" / database))
    expected = expected_from_json(third_party / "mmdb" / source)
    ours = vsa_geoip(spark, list(expected))
    theirs = python_geoip2(third_party / "mmdb" / database, list(expected), fields)
    wrong = {
        a: ({f: ours[a][f] for f in fields}, e)
        for a, e in expected.items()
        if {f: ours[a][f] for f in fields} != {f: e[f] for f in fields}
    }
    assert not wrong, (
        f"{len(wrong)}/{len(expected)} differ from {source}: {list(wrong.items())[:5]}"
    )
    differ = {a: t for a, t in theirs.items() if t != {f: ours[a][f] for f in fields}}
    assert not differ, f"{len(differ)} differ from Python geoip2: {list(differ.items())[:5]}"
    assert len(expected) > 200


@pytest.mark.parametrize("broken", CORRUPT)
def test_a_corrupt_database_fails_the_query_at_analysis(spark, third_party, geoip_conf, broken):
    spark.conf.set(GEOIP_CITY_DB_KEY, str(third_party / "mmdb" / broken))
    df = spark.createDataFrame([("81.2.69.142",)], "ip string")
    with pytest.raises(Exception, match="corrupt|cannot be opened") as error:
        df.select(vf.geo_lookup("ip"))  # analysis only: no action runs
    assert broken in str(error.value)


def test_a_missing_database_fails_the_query_at_analysis(spark, geoip_conf, tmp_path):
    missing = tmp_path / "GeoIP2-City.mmdb"
    spark.conf.set(GEOIP_CITY_DB_KEY, str(missing))
    with pytest.raises(Exception, match="does not exist") as error:
        spark.createDataFrame([("81.2.69.142",)], "ip string").select(vf.geo_lookup("ip"))
    assert str(missing) in str(error.value)


@pytest.mark.parametrize(
    "garbage",
    [
        "localhost",
        "example.com",
        "81.2.69.142.nip.io",
        "",
        "   ",
        "999.2.69.142",
        "81.2.69",
        "1.2.3.4.5",
        ":::",
        "2001:db8::zz",
        "<script>",
        "81.2.69.142/24",
    ],
)
def test_garbage_and_host_names_give_null_fields(spark, garbage):
    row = vsa_geoip(spark, [garbage])[garbage]
    assert row == dict.fromkeys(CITY_FIELDS + ASN_FIELDS)


def test_a_null_address_gives_null(spark):
    df = spark.createDataFrame([(None,)], "ip string")
    assert df.select(vf.geo_lookup("ip")).first()[0] is None


def test_configure_spark_sets_the_geoip_keys_from_the_config(spark, third_party):
    """The session fixture is built from VsaConfig(geoip_city_db=..., geoip_asn_db=...)."""
    assert spark.conf.get(GEOIP_CITY_DB_KEY) == str(third_party / "mmdb" / "GeoIP2-City-Test.mmdb")
    assert spark.conf.get(GEOIP_ASN_DB_KEY) == str(third_party / "mmdb" / "GeoLite2-ASN-Test.mmdb")
    # Unset, the City database is the GeoLite2 of maxminddb-geolite2 (a dependency of vsa).
    assert VsaConfig().jvm_conf == {GEOIP_CITY_DB_KEY: embedded_city_db()}


def test_the_default_city_database_geolocates_for_real(spark, geoip_conf):
    """Unset, geoip_city_db is the GeoLite2 City of maxminddb-geolite2: vsa_geoip answers from
    it as Python geoip2 does, for the generator's client networks and public resolvers."""
    database = embedded_city_db()
    assert database is not None and Path(database).stat().st_size > 10_000_000
    spark.conf.set(GEOIP_CITY_DB_KEY, database)
    spark.conf.unset(GEOIP_ASN_DB_KEY)
    rng = random.Random(5)
    addresses = [client_ip(rng) for _ in range(60)] + ["8.8.8.8", "1.1.1.1", "2001:4860::8888"]
    ours = vsa_geoip(spark, addresses)
    theirs = python_geoip2(Path(database), addresses, CITY_FIELDS)
    assert {a: {f: ours[a][f] for f in CITY_FIELDS} for a in addresses} == theirs
    assert ours["8.8.8.8"]["country"] == "US"
    located = [a for a in addresses if ours[a]["country"]]
    assert len(located) > 0.9 * len(addresses)
