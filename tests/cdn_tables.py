"""The CDN tables of raw CDN log records, built as a batch run builds them, without a write:
what the CDN format tests read."""

from __future__ import annotations

from pyspark.sql import DataFrame

from vsa.config import VsaConfig
from vsa.kpis import cdn_qos
from vsa.pipeline import cdn_records
from vsa.sinks import split
from vsa.tables import CDN_LOGS


def cdn_tables(raw: DataFrame, config: VsaConfig, fmt: str | None = None) -> dict[str, DataFrame]:
    """``cdn_requests``, ``cdn_qos_minute`` (every window final) and the ``dead_letter`` rows of
    ``raw`` (CDN log records in ``fmt``)."""
    batch = split(
        cdn_records(raw, config, fmt), config, lambda table, seconds: None, sources=(CDN_LOGS,)
    )
    return {
        "cdn_requests": batch.cdn_requests,
        "cdn_qos_minute": cdn_qos(batch.cdn_requests, config),
        "dead_letter": batch.dead_letters,
    }
