"""Privacy: no table holds a client's full IP address unless the configuration says so."""

from __future__ import annotations

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

from vsa import functions as vf
from vsa.config import VsaConfig


def mask_client_ip(df: DataFrame, config: VsaConfig, column: str = "client_ip") -> DataFrame:
    """Replaces ``column`` by its /24 (IPv4) or /48 (IPv6) network when privacy is on."""
    if not config.privacy:
        return df
    return df.withColumn(column, vf.mask_ip(column))


def mask_ips(text: Column, config: VsaConfig) -> Column:
    """``text`` with every IPv4 and IPv6 address in it truncated (/24, /48), when privacy is on."""
    return vf.mask_ips_in_text(text) if config.privacy else text


def mask_ips_in_text(df: DataFrame, config: VsaConfig, column: str = "raw") -> DataFrame:
    """Truncates the IP addresses found anywhere in the text ``column`` when privacy is on."""
    return df.withColumn(column, mask_ips(F.col(column), config))
