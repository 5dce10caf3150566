"""Stage 1: where records come from."""

from vsa.sources.files import empty_raw, read_cdn_files, read_text_files
from vsa.sources.kafka import (
    RAW_SCHEMA,
    read_kafka_stream,
    read_partition_streams,
    topic_partitions,
)

__all__ = [
    "RAW_SCHEMA",
    "empty_raw",
    "read_cdn_files",
    "read_kafka_stream",
    "read_partition_streams",
    "read_text_files",
    "topic_partitions",
]
