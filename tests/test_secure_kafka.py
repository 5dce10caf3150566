"""Secure Kafka for real: a broker whose one listener is SASL_SSL with SCRAM-SHA-512 (a TLS key
made with keytool, the user added when the storage is formatted). ``vsa generate``,
``vsa check`` and the streaming job connect through ``kafka_options``, player and CDN topics
alike; a wrong password is a clear error; no secret reaches the output of ``vsa config``, the
commands' logs or the tables."""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from vsa import generate
from vsa.checks import kafka_check
from vsa.config import VsaConfig
from vsa.kafka import LocalKafka, produce
from vsa.kafka.broker import ScramUser
from vsa.simulate.cdn import cdn_requests, log_line

# Every test here starts a SASL_SSL broker of its own (docs/testing.md).
pytestmark = pytest.mark.e2e

PLAYER_TOPIC = "player-events-secure"
CDN_TOPIC = "cdn-logs-secure"
# Settings without secrets go in the file; the secrets come from the environment.
SECRET_OPTIONS = ("sasl.jaas.config", "ssl.truststore.password")


@dataclass
class SecureStart:
    broker: LocalKafka
    # The command line of every process its first start and topic creation ran.
    commands: list[list[str]]


@pytest.fixture(scope="module")
def secure_start(tmp_path_factory) -> Iterator[SecureStart]:
    user = ScramUser("vsa-test", "scram-" + secrets.token_hex(12))
    broker = LocalKafka(tmp_path_factory.mktemp("kafka-sasl"), scram_user=user)
    commands: list[list[str]] = []

    class RecordedPopen(subprocess.Popen):
        def __init__(self, args, *more, **options):
            commands.append([str(arg) for arg in args])
            super().__init__(args, *more, **options)

    # subprocess.run starts its process with subprocess.Popen too.
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(subprocess, "Popen", RecordedPopen)
        broker.start()
        broker.create_topic(PLAYER_TOPIC, partitions=2)
        broker.create_topic(CDN_TOPIC, partitions=1)
    yield SecureStart(broker, commands)
    broker.stop()


@pytest.fixture(scope="module")
def secure_kafka(secure_start) -> LocalKafka:
    return secure_start.broker


def test_no_password_on_a_command_line_or_in_a_file_others_can_read(secure_start):
    broker = secure_start.broker
    passwords = [broker.scram_user.password, broker.client_options["ssl.truststore.password"]]
    programs = [Path(command[0]).name for command in secure_start.commands]
    assert programs.count("keytool") == 3
    assert programs.count("java") == 4  # the storage format, the broker, two topics
    for command in secure_start.commands:
        assert not [arg for arg in command for password in passwords if password in arg], command
    data = broker.data_dir
    private = [data / "server.properties", data / "client.properties", data / "tls/store-password"]
    for path in private:
        assert [p for p in passwords if p in path.read_text()], f"{path} holds no password"
        assert path.stat().st_mode & 0o777 == 0o600, path
    assert (data / "tls").stat().st_mode & 0o777 == 0o700
    assert not (data / "format.args").exists()


def config_file(broker: LocalKafka, out: Path, third_party: Path) -> Path:
    options = "\n".join(
        f'"{name}" = "{value}"'
        for name, value in broker.client_options.items()
        if name not in SECRET_OPTIONS
    )
    path = out / "vsa.toml"
    path.write_text(
        f'kafka_bootstrap_servers = "{broker.bootstrap_servers}"\n'
        f'player_events_topic = "{PLAYER_TOPIC}"\n'
        f'cdn_logs_topic = "{CDN_TOPIC}"\n'
        'cdn_log_format = "nginx"\n'
        'cdn_pop = "edge-1"\n'
        f'output_root = "{out / "tables"}"\n'
        f'geoip_city_db = "{third_party / "mmdb" / "GeoIP2-City-Test.mmdb"}"\n'
        f"[kafka_options]\n{options}\n"
    )
    return path


def secret_env(broker: LocalKafka, **replaced: str) -> dict[str, str]:
    """The environment that carries the secrets, as ``VSA_KAFKA_OPTION_*`` variables."""
    options = {**broker.client_options, **replaced}
    env = {k: v for k, v in os.environ.items() if not k.startswith("VSA_KAFKA_OPTION_")}
    for name in SECRET_OPTIONS:
        env["VSA_KAFKA_OPTION_" + name.upper().replace(".", "_")] = options[name]
    return env


def vsa(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "vsa", *args], capture_output=True, text=True, timeout=600, env=env
    )


def test_the_job_generate_and_check_connect_with_sasl_ssl_and_no_secret_leaks(
    spark, secure_kafka, third_party, tmp_path
):
    broker = secure_kafka
    config = config_file(broker, tmp_path, third_party)
    env = secret_env(broker)
    secret_values = [broker.client_options[name] for name in SECRET_OPTIONS]
    password = broker.scram_user.password
    outputs = []

    shown = vsa("config", "--config", str(config), env=env)
    outputs.append(shown)
    assert shown.returncode == 0, shown.stderr
    assert '"sasl.jaas.config" = "***"' in shown.stdout
    assert '"ssl.truststore.password" = "***"' in shown.stdout

    sent = vsa("generate", "--config", str(config), "--sessions", "12", "--seed", "5", env=env)
    outputs.append(sent)
    assert sent.returncode == 0, sent.stderr
    assert f"to {PLAYER_TOPIC} at {broker.bootstrap_servers}" in sent.stdout
    # CDN lines go in through Spark's producer with the same options.
    traffic = generate.Traffic(sessions=4, seed=6, start_ms=1764000000000)
    events = [json.loads(value) for _, value in generate.generate(traffic)]
    lines = [log_line(r, "nginx") for r in cdn_requests(events, "nginx", seed=6)]
    produce(
        spark,
        broker.bootstrap_servers,
        CDN_TOPIC,
        [(None, line) for line in lines],
        options=broker.client_options,
    )

    checked = vsa("check", "--config", str(config), env=env)
    outputs.append(checked)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert f"{broker.bootstrap_servers} answers (SASL_SSL)" in checked.stdout
    assert f"ok    player topic       {PLAYER_TOPIC}" in checked.stdout
    assert f"ok    CDN topic          {CDN_TOPIC} (nginx)" in checked.stdout

    ran = vsa("run", "--config", str(config), "--available-now", env=env)
    outputs.append(ran)
    assert ran.returncode == 0, ran.stderr
    tables = tmp_path / "tables"
    player_events = spark.read.parquet(str(tables / "player_events"))
    assert player_events.count() == int(sent.stdout.split()[1])
    assert spark.read.parquet(str(tables / "cdn_requests")).count() == len(lines)

    for done in outputs:
        for secret in [password, *secret_values]:
            assert secret not in done.stdout + done.stderr
    for path in tables.rglob("*"):
        if path.is_file():
            data = path.read_bytes()
            assert not [s for s in [password, *secret_values] if s.encode() in data], path


def test_a_wrong_password_is_a_clear_error(secure_kafka, third_party, tmp_path):
    broker = secure_kafka
    config = config_file(broker, tmp_path, third_party)
    wrong = broker.scram_user.jaas_config().replace(broker.scram_user.password, "not-the-one")
    env = secret_env(broker, **{"sasl.jaas.config": wrong})

    checked = vsa("check", "--config", str(config), env=env)
    assert checked.returncode == 1
    refused = (
        f"Kafka at {broker.bootstrap_servers} refused vsa's credentials (Authentication failed "
        "during authentication due to invalid credentials with SASL mechanism SCRAM-SHA-512): "
        'check the user and password in kafka_options."sasl.jaas.config" and "sasl.mechanism"'
    )
    assert f"FAIL  kafka              {refused}" in checked.stdout.splitlines()

    ran = vsa("run", "--config", str(config), "--available-now", env=env)
    assert ran.returncode == 1
    errors = [line for line in ran.stderr.splitlines() if line.startswith("vsa: error:")]
    assert errors == [f"vsa: error: {refused}"]
    assert "Traceback" not in ran.stderr
    assert not [line for line in ran.stderr.splitlines() if line.startswith("\tat ")]
    assert not (tmp_path / "tables").exists()
    assert "not-the-one" not in checked.stdout + checked.stderr + ran.stdout + ran.stderr


def test_the_secure_broker_refuses_a_client_without_tls_and_sasl(spark, secure_kafka):
    check, topics = kafka_check(
        spark, VsaConfig(kafka_bootstrap_servers=secure_kafka.bootstrap_servers)
    )
    assert topics is None
    assert check.status == "FAIL"
    assert check.detail.startswith(f"Kafka unreachable at {secure_kafka.bootstrap_servers}")
    with_options = VsaConfig(
        kafka_bootstrap_servers=secure_kafka.bootstrap_servers,
        kafka_options=secure_kafka.client_options,
    )
    assert kafka_check(spark, with_options)[0].status == "ok"
