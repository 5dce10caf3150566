"""Stage 5: KPI tables from view slices, CDN quality of service from CDN requests
(definitions: docs/kpis.md)."""

from vsa.kpis.cdn_qos import cdn_qos
from vsa.kpis.live import live_rows, live_view
from vsa.kpis.minute import (
    POP_DIMENSIONS,
    SCORES,
    STARTUP_BUCKETS_MS,
    grouped_kpis,
    kpis_of,
    pop_kpis,
    window_of,
)
from vsa.kpis.rollup import rollup

__all__ = [
    "POP_DIMENSIONS",
    "SCORES",
    "STARTUP_BUCKETS_MS",
    "cdn_qos",
    "grouped_kpis",
    "kpis_of",
    "live_rows",
    "live_view",
    "pop_kpis",
    "rollup",
    "window_of",
]
