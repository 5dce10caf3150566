"""`vsa collect` against a SASL_SSL broker (SCRAM-SHA-512 over TLS), configured with the Java
client settings the streaming job takes (`kafka_options`): the SCRAM login read from
`sasl.jaas.config`, the PKCS12 trust store made PEM. A wrong password gets 503, and no secret
reaches the collector's log."""

from __future__ import annotations

import json
import secrets
from collections.abc import Iterator

import pytest

from collect_support import Collector, cmcd_line, read_topic, request
from vsa.collect.producer import librdkafka_settings
from vsa.config import load_config
from vsa.kafka import LocalKafka
from vsa.kafka.broker import ScramUser, free_port

# Every test here starts a SASL_SSL broker of its own (docs/testing.md).
pytestmark = pytest.mark.e2e

TOPIC = "collect-secure"


@pytest.fixture(scope="module")
def secure_kafka(tmp_path_factory) -> Iterator[LocalKafka]:
    user = ScramUser("vsa-collect", "scram-" + secrets.token_hex(12))
    broker = LocalKafka(tmp_path_factory.mktemp("kafka-sasl"), port=free_port(), scram_user=user)
    broker.start()
    broker.create_topic(TOPIC, partitions=1)
    yield broker
    broker.stop()


def config_file(broker: LocalKafka, folder, options: dict[str, str]):
    path = folder / "vsa.toml"
    listed = "\n".join(f'"{name}" = {json.dumps(value)}' for name, value in options.items())
    path.write_text(
        f'kafka_bootstrap_servers = "{broker.bootstrap_servers}"\n'
        f'player_events_topic = "{TOPIC}"\ncdn_logs_topic = ""\n'
        "collect_delivery_timeout_seconds = 5\n"
        f"[kafka_options]\n{listed}\n"
    )
    return path


def test_collect_writes_through_sasl_ssl_with_the_jobs_kafka_options(secure_kafka, tmp_path):
    path = config_file(secure_kafka, tmp_path, secure_kafka.client_options)
    collector = Collector(path, free_port(), tmp_path / "collect.log")
    collector.start()
    try:
        line = b'e=ps,sid="secure-1",sta=s,ts=1764000000123,v=2'
        assert request(collector.port, "POST", "/cmcd", line)[0] == 200
    finally:
        collector.stop()
    settings = librdkafka_settings(load_config(path, env={}), tmp_path)
    assert settings["sasl.mechanisms"] == "SCRAM-SHA-512"
    assert settings["sasl.username"] == "vsa-collect"
    del settings["bootstrap.servers"]
    written = read_topic(secure_kafka.bootstrap_servers, TOPIC, settings)
    assert [cmcd_line(m.value()) for m in written] == [line]
    log = collector.log.read_text()
    assert secure_kafka.scram_user.password not in log
    assert secure_kafka.client_options["ssl.truststore.password"] not in log


def test_a_wrong_password_gets_503_and_never_shows(secure_kafka, tmp_path):
    wrong = ScramUser("vsa-collect", "wrong-" + secrets.token_hex(8))
    options = {**secure_kafka.client_options, "sasl.jaas.config": wrong.jaas_config()}
    collector = Collector(
        config_file(secure_kafka, tmp_path, options), free_port(), tmp_path / "c.log"
    )
    with pytest.raises((RuntimeError, TimeoutError)):
        collector.start(timeout=15)  # never healthy: the broker refuses the login
    try:
        status, headers, _ = request(collector.port, "POST", "/cmcd", b'sid="wrong-1",e=t')
        assert status == 503 and headers["retry-after"]
    finally:
        collector.stop()
    assert wrong.password not in collector.log.read_text()
