"""Stage 5: KPI tables from view slices (definitions: ../shared/spec/kpis.md)."""

from vsa.kpis.minute import DIMENSION_TABLES, STARTUP_BUCKETS_MS, minute_kpis
from vsa.kpis.rollup import rollup

__all__ = ["DIMENSION_TABLES", "STARTUP_BUCKETS_MS", "minute_kpis", "rollup"]
