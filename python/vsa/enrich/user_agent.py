"""User-agent enrichment: the device columns of docs/tables.md."""

from __future__ import annotations

from pyspark.sql import DataFrame

from vsa.functions import parse_user_agent

USER_AGENT_COLUMNS = (
    "browser_family",
    "browser_major",
    "os_family",
    "os_major",
    "device_family",
    "device_brand",
    "device_model",
    "device_type",
)


def with_user_agent(df: DataFrame, column: str = "user_agent") -> DataFrame:
    """Adds the enrichment columns parsed from ``column`` by ``vsa_parse_ua``."""
    parsed = parse_user_agent(column)
    return df.withColumns({name: parsed.getField(name) for name in USER_AGENT_COLUMNS})
