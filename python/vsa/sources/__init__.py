"""Stage 1: where records come from."""

from vsa.sources.files import empty_raw, read_text_files
from vsa.sources.kafka import RAW_SCHEMA, read_kafka_stream

__all__ = ["RAW_SCHEMA", "empty_raw", "read_kafka_stream", "read_text_files"]
