"""Privacy: no table holds a client's full IP address unless the configuration says so."""

from __future__ import annotations

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

from vsa.config import VsaConfig
from vsa.functions import mask_ip

# Dotted quads inside free text (dead-letter raw records).
_IPV4_IN_TEXT = r"\b(\d{1,3}\.\d{1,3}\.\d{1,3})\.\d{1,3}\b"


def mask_client_ip(df: DataFrame, config: VsaConfig, column: str = "client_ip") -> DataFrame:
    """Replaces ``column`` by its /24 (IPv4) or /48 (IPv6) network when privacy is on."""
    if not config.privacy:
        return df
    return df.withColumn(column, mask_ip(column))


def mask_ips(text: Column, config: VsaConfig) -> Column:
    """``text`` with every IPv4 address in it truncated to its /24, when privacy is on."""
    return F.regexp_replace(text, _IPV4_IN_TEXT, "$1.0") if config.privacy else text


def mask_ips_in_text(df: DataFrame, config: VsaConfig, column: str = "raw") -> DataFrame:
    """Truncates IPv4 addresses found anywhere in the text ``column`` when privacy is on."""
    return df.withColumn(column, mask_ips(F.col(column), config))
