"""The deployment files: docker-compose.yml is valid Compose, its commands are valid vsa
commands, its config file loads, and the image installs vsa the way the project does."""

from __future__ import annotations

import json
import re

import jsonschema
import pytest
import yaml

from conftest import PROJECT_ROOT
from vsa.cli import parser
from vsa.config import load_config

COMPOSE = PROJECT_ROOT / "docker-compose.yml"
SCHEMA = PROJECT_ROOT / "tests" / "data" / "compose-spec" / "compose-spec.json"
DOCKERFILE = PROJECT_ROOT / "docker" / "Dockerfile"


@pytest.fixture(scope="module")
def compose() -> dict:
    return yaml.safe_load(COMPOSE.read_text())


def test_compose_file_follows_the_compose_specification(compose):
    schema = json.loads(SCHEMA.read_text())
    validator = jsonschema.validators.validator_for(schema)(schema)
    errors = [f"{list(e.absolute_path)}: {e.message}" for e in validator.iter_errors(compose)]
    assert errors == []


def test_the_schema_catches_a_broken_compose_file(compose):
    """The check has teeth: a misspelt key fails it."""
    schema = json.loads(SCHEMA.read_text())
    broken = {**compose, "services": {**compose["services"], "kafka": {"imag": "x"}}}
    with pytest.raises(jsonschema.ValidationError, match="imag"):
        jsonschema.validate(broken, schema)


def test_kafka_runs_in_kraft_mode_from_the_official_image(compose):
    kafka = compose["services"]["kafka"]
    assert kafka["image"].startswith("apache/kafka:")
    assert kafka["environment"]["KAFKA_PROCESS_ROLES"] == "broker,controller"


def test_every_vsa_service_runs_a_valid_vsa_command_with_the_config(compose):
    vsa_services = {n: s for n, s in compose["services"].items() if "build" in s}
    assert set(vsa_services) == {"vsa", "producer", "report"}
    for name, service in vsa_services.items():
        assert service["build"]["dockerfile"] == "docker/Dockerfile"
        args = parser().parse_args(service["command"])
        assert str(args.config) == "/etc/vsa/vsa.toml", name
    config_file = PROJECT_ROOT / compose["configs"]["vsa-config"]["file"]
    config = load_config(config_file, env={})
    assert config.kafka_bootstrap_servers == "kafka:9092"
    # The job's output and checkpoints are volumes, so they outlive the container.
    mounts = {v.split(":")[1] for v in compose["services"]["vsa"]["volumes"]}
    assert {config.output_root, config.checkpoint_root} <= mounts


def test_image_installs_vsa_with_the_projects_install_step():
    dockerfile = DOCKERFILE.read_text()
    assert re.search(r"^RUN make install\b", dockerfile, re.MULTILINE)
    makefile = (PROJECT_ROOT / "Makefile").read_text()
    assert re.search(r"^install:", makefile, re.MULTILINE)
    assert 'ENTRYPOINT ["vsa"]' in dockerfile
