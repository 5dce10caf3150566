"""Stage 1: where records come from."""

from vsa.sources.kafka import read_kafka_stream

__all__ = ["read_kafka_stream"]
