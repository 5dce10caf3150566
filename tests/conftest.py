"""Shared fixtures: one real SparkSession and one real Kafka broker per test session."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from pyspark.sql import SparkSession

from vsa.config import VsaConfig
from vsa.kafka import LocalKafka
from vsa.kafka.broker import free_port
from vsa.session import build_session

PROJECT_ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """The third-party test data of ../shared/data, read in place."""
    path = Path(os.environ.get("VSA_SHARED_DATA", PROJECT_ROOT.parent / "shared" / "data"))
    if not (path / "uap").is_dir():
        pytest.fail(f"shared test data not found at {path} (set VSA_SHARED_DATA)")
    return path


@pytest.fixture(scope="session")
def spark(shared_data: Path) -> Iterator[SparkSession]:
    config = VsaConfig(
        geoip_city_db=str(shared_data / "mmdb" / "GeoIP2-City-Test.mmdb"),
        geoip_asn_db=str(shared_data / "mmdb" / "GeoLite2-ASN-Test.mmdb"),
        spark_conf={"spark.sql.shuffle.partitions": "2", "spark.ui.showConsoleProgress": "false"},
    )
    session = build_session(config, app_name="vsa-tests", master="local[2]")
    yield session
    session.stop()


@pytest.fixture(scope="session")
def kafka(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalKafka]:
    """A real single-node Kafka (KRaft) on a free loopback port, removed after the session."""
    broker = LocalKafka(tmp_path_factory.mktemp("kafka"), port=free_port())
    broker.start()
    yield broker
    broker.stop()
