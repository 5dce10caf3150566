"""Stage last: the output tables."""

from vsa.sinks.parquet import (
    TABLES,
    read_table,
    read_table_stream,
    rows_written,
    with_partitions,
    write_table_batch,
    write_table_stream,
)

__all__ = [
    "TABLES",
    "read_table",
    "read_table_stream",
    "rows_written",
    "with_partitions",
    "write_table_batch",
    "write_table_stream",
]
