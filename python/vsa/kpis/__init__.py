"""Stage 5: KPI tables from view slices, CDN quality of service from CDN requests
(definitions: ../shared/spec/kpis.md)."""

from vsa.kpis.cdn_qos import cdn_qos
from vsa.kpis.minute import STARTUP_BUCKETS_MS, grouped_kpis, kpis_of, minute_kpis
from vsa.kpis.rollup import rollup

__all__ = [
    "STARTUP_BUCKETS_MS",
    "cdn_qos",
    "grouped_kpis",
    "kpis_of",
    "minute_kpis",
    "rollup",
]
