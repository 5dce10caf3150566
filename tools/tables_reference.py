"""Prints the column reference of every table the job writes (docs/tables.md holds it).

    .venv/bin/python tools/tables_reference.py

The schemas come from planning the pipeline over no records (:func:`table_schemas`), so the
reference cannot drift from what the job writes; tests/test_docs.py checks it.
"""

from __future__ import annotations

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql.types import StructType

from vsa.config import VsaConfig
from vsa.pipeline import cdn_records, transform
from vsa.sinks import split, with_partitions
from vsa.sources import empty_raw
from vsa.spark_session import build_session
from vsa.tables import BY_NAME, TABLES


def table_schemas(spark: SparkSession, config: VsaConfig) -> dict[str, StructType]:
    """Every table's columns as the job writes them, ``date`` and ``hour`` included: planned
    over no records, nothing run."""
    raw = empty_raw(spark)
    fmt = config.cdn_log_format
    transformed = transform(raw, config, cdn_records(raw, config, fmt))
    planned: dict[str, DataFrame] = {}

    def closed_windows(table: str, seconds: int) -> DataFrame | None:
        return planned.get(table)

    batch = split(transformed, config, closed_windows)
    schemas = {}
    for table in TABLES:
        df = table.build(batch)
        planned[table.name] = df
        schemas[table.name] = with_partitions(df, table.time_column).schema
    batch.release()
    return schemas


def tables_reference(schemas: dict[str, StructType]) -> str:
    """The Markdown reference of :func:`table_schemas` (docs/tables.md holds it verbatim)."""
    lines = []
    for name, schema in schemas.items():
        lines += [
            f"### `{name}`",
            "",
            f"Partitioned by `date`, `hour` of `{BY_NAME[name].time_column}` (UTC).",
            "",
            "| column | type |",
            "| --- | --- |",
            *(f"| `{f.name}` | `{f.dataType.simpleString()}` |" for f in schema.fields),
            "",
        ]
    return "\n".join(lines)


if __name__ == "__main__":
    config = VsaConfig()
    spark = build_session(config, app_name="vsa-tables-reference", master="local[1]")
    print(tables_reference(table_schemas(spark, config)), end="")
    spark.stop()
