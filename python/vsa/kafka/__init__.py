"""A real Kafka broker on loopback for development, tests and the demo, and a producer."""

from vsa.kafka.broker import LocalKafka, kafka_lib_dir
from vsa.kafka.producer import produce

__all__ = ["LocalKafka", "kafka_lib_dir", "produce"]
