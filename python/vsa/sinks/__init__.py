"""Stage last: the output tables."""

from vsa.sinks.dead_letter import dead_letter
from vsa.sinks.lock import TablesBusy, hold_writer_lock
from vsa.sinks.parquet import (
    PARTITION_COLUMNS,
    TableSink,
    TableWrites,
    read_hours,
    read_table,
    with_partitions,
)

__all__ = [
    "PARTITION_COLUMNS",
    "TableSink",
    "TableWrites",
    "TablesBusy",
    "dead_letter",
    "hold_writer_lock",
    "read_hours",
    "read_table",
    "with_partitions",
]
