"""The deployment files: docker-compose.yml is valid Compose, its commands are valid vsa
commands, the job is submitted to the file's Spark master with the jars vsa needs, its config
file loads, and the image installs vsa the way the project does."""

from __future__ import annotations

import json
import re
from pathlib import Path, PurePosixPath

import jsonschema
import pyspark
import pytest
import yaml

import vsa
from conftest import PROJECT_ROOT
from vsa.cli import parser
from vsa.config import load_config
from vsa.spark_session import EXTENSION_CLASS, bundled_jars

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


def spark_submit(service: dict) -> tuple[dict[str, list[str]], list[str]]:
    """A ``spark-submit`` service's options (each with its values) and its application
    arguments (the entry point first)."""
    assert service["entrypoint"] == ["spark-submit"]
    options: dict[str, list[str]] = {}
    args = list(service["command"])
    while args[0].startswith("--"):
        options.setdefault(args.pop(0), []).append(args.pop(0))
    return options, args


def vsa_command(service: dict) -> list[str]:
    """The ``vsa`` arguments a service runs: its command, or what it spark-submits."""
    if "entrypoint" not in service:
        return service["command"]
    _, (entry, *args) = spark_submit(service)
    assert PurePosixPath(entry).name == "__main__.py"
    return args


def image_path(path: str) -> Path:
    """The source-tree file that ``path`` of the image is (the image copies the tree to its
    WORKDIR)."""
    workdir = re.search(r"^WORKDIR (\S+)", DOCKERFILE.read_text(), re.MULTILINE).group(1)
    return PROJECT_ROOT / PurePosixPath(path).relative_to(workdir)


def test_every_vsa_service_runs_a_valid_vsa_command_with_the_config(compose):
    vsa_services = {n: s for n, s in compose["services"].items() if "build" in s}
    assert set(vsa_services) == {"vsa", "producer", "report", "collect"}
    for name, service in vsa_services.items():
        assert service["build"]["dockerfile"] == "docker/Dockerfile"
        args = parser().parse_args(vsa_command(service))
        assert str(args.config) == "/etc/vsa/vsa.toml", name
    assert parser().parse_args(vsa_command(vsa_services["vsa"])).command == "run"
    # The collector listens on every interface of its container, on the port it publishes.
    collect = parser().parse_args(vsa_command(vsa_services["collect"]))
    assert (collect.command, collect.collect_host) == ("collect", "0.0.0.0")
    assert vsa_services["collect"]["ports"] == [f"{collect.collect_port}:{collect.collect_port}"]
    config_file = PROJECT_ROOT / compose["configs"]["vsa-config"]["file"]
    config = load_config(config_file, env={})
    assert config.kafka_bootstrap_servers == "kafka:9092"
    # The job's output and checkpoints are volumes, so they outlive the container.
    mounts = {v.split(":")[1] for v in compose["services"]["vsa"]["volumes"]}
    assert {config.output_root, config.checkpoint_root} <= mounts


def test_every_published_port_but_the_collector_s_is_on_the_host_s_loopback_only(compose):
    """A port published without an address is open on every interface of the host, and the
    Spark master's UI kills applications. The collector is the one service players and CDNs
    must reach: it has its own guards (CORS, CDN secrets, limits: docs/collect.md)."""
    published = {name: service.get("ports", []) for name, service in compose["services"].items()}
    assert published["spark-master"], "the master's UI is published"
    assert published.pop("collect") == ["8480:8480"]
    for name, ports in published.items():
        for port in ports:
            host_ip = port.get("host_ip") if isinstance(port, dict) else port.split(":")[0]
            assert host_ip == "127.0.0.1", f"{name}: {port}"


def test_spark_runs_from_the_official_image_of_the_pinned_pyspark(compose):
    services = compose["services"]
    for name in ("spark-master", "spark-worker"):
        assert services[name]["image"] == f"apache/spark:{pyspark.__version__}", name
    master = services["spark-master"]["command"]
    assert master[1] == "org.apache.spark.deploy.master.Master"
    url = f"spark://{master[master.index('--host') + 1]}:{master[master.index('--port') + 1]}"
    worker = services["spark-worker"]["command"]
    assert worker[1] == "org.apache.spark.deploy.worker.Worker"
    assert worker[-1] == url
    options, _ = spark_submit(services["vsa"])
    assert options["--master"] == [url]


def test_the_job_is_submitted_with_vsa_s_jars_entry_point_and_a_reachable_driver(compose):
    services = compose["services"]
    options, (entry, *_) = spark_submit(services["vsa"])
    assert image_path(entry) == Path(vsa.__file__).parent / "__main__.py"
    (jars,) = options["--jars"]
    shipped = {p.name for p in PROJECT_ROOT.glob(str(image_path(jars).relative_to(PROJECT_ROOT)))}
    assert shipped == {Path(j).name for j in bundled_jars()}
    conf = dict(c.split("=", 1) for c in options["--conf"])
    assert conf["spark.sql.extensions"] == EXTENSION_CLASS
    # Executors connect back to the driver by its service name.
    assert conf["spark.driver.host"] == "vsa"
    assert conf["spark.driver.bindAddress"] == "0.0.0.0"


def test_the_worker_writes_the_job_s_volumes_at_the_job_s_paths(compose):
    """Executors write the tables and the state store: they must see the driver's folders."""
    services = compose["services"]
    assert set(services["vsa"]["volumes"]) <= set(services["spark-worker"]["volumes"])
    assert "vsa" in services["spark-worker"]["depends_on"]
    dockerfile = DOCKERFILE.read_text()
    assert re.search(r"^USER 185$", dockerfile, re.MULTILINE)  # apache/spark's uid


def test_image_installs_vsa_with_the_projects_install_step():
    dockerfile = DOCKERFILE.read_text()
    assert re.search(r"^RUN make install\b", dockerfile, re.MULTILINE)
    makefile = (PROJECT_ROOT / "Makefile").read_text()
    assert re.search(r"^install:", makefile, re.MULTILINE)
    assert 'ENTRYPOINT ["vsa"]' in dockerfile
