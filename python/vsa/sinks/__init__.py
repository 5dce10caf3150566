"""Stage last: the output tables, and the job's per-batch writer of them."""

from vsa.sinks.lock import TablesBusy, hold_writer_lock
from vsa.sinks.parquet import (
    PARTITION_COLUMNS,
    TableSink,
    TableWrites,
    read_hours,
    read_table,
    with_partitions,
)
from vsa.sinks.writer import (
    KINDS,
    BatchWriter,
    JobCheckpoint,
    RunResult,
    existing_tables,
    rollup_batch,
    split,
)

__all__ = [
    "KINDS",
    "PARTITION_COLUMNS",
    "BatchWriter",
    "JobCheckpoint",
    "RunResult",
    "TableSink",
    "TableWrites",
    "TablesBusy",
    "existing_tables",
    "hold_writer_lock",
    "read_hours",
    "read_table",
    "rollup_batch",
    "split",
    "with_partitions",
]
