"""Prints the column reference of every table the job writes (docs/tables.md holds it).

    .venv/bin/python tools/tables_reference.py

The schemas come from planning the pipeline over no records (vsa.pipeline.table_schemas), so
the reference cannot drift from what the job writes; tests/test_docs.py checks it.
"""

from __future__ import annotations

from vsa import pipeline
from vsa.config import VsaConfig
from vsa.session import build_session

if __name__ == "__main__":
    config = VsaConfig()
    spark = build_session(config, app_name="vsa-tables-reference", master="local[1]")
    print(pipeline.tables_reference(pipeline.table_schemas(spark, config)), end="")
    spark.stop()
