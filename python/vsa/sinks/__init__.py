"""Stage last: the output tables."""

from vsa.sinks.parquet import TABLES, read_table, rows_written, write_table_stream

__all__ = ["TABLES", "read_table", "rows_written", "write_table_stream"]
