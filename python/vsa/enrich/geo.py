"""GeoIP enrichment: the location columns of docs/tables.md, from the client's full address
(before privacy masking truncates it)."""

from __future__ import annotations

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from vsa.config import GEOIP_ASN_DB_KEY, GEOIP_CITY_DB_KEY
from vsa.functions import geo_lookup

GEO_COLUMNS = {
    "country": "string",
    "region": "string",
    "city": "string",
    "asn": "bigint",
    "as_org": "string",
}


def with_geo(df: DataFrame, column: str = "client_ip") -> DataFrame:
    """Adds the location columns looked up by ``vsa_geoip``; null columns when the session
    has no GeoIP database (``spark.vsa.geoip.cityDb`` / ``asnDb``, set from ``VsaConfig``
    by :func:`vsa.configure_spark`)."""
    conf = df.sparkSession.conf
    if not any(conf.get(key, None) for key in (GEOIP_CITY_DB_KEY, GEOIP_ASN_DB_KEY)):
        return df.withColumns({c: F.lit(None).cast(t) for c, t in GEO_COLUMNS.items()})
    geo = geo_lookup(column)
    return df.withColumns({c: geo.getField(c) for c in GEO_COLUMNS})
