"""One Apache Kafka 4.x node in KRaft mode (broker and controller), run from Maven Central jars.

The jars are resolved at build time (``make kafka-lib``, sbt's ``kafkaBrokerLib``) into
``.vsa/kafka/<version>/lib``; ``VSA_KAFKA_LIB`` points elsewhere. The node listens in plain
text, or, given a :class:`ScramUser`, with SASL_SSL and SCRAM-SHA-512 only: a TLS key made with
the JDK's ``keytool`` and the user added when the storage is formatted.
"""

from __future__ import annotations

import os
import secrets
import signal
import socket
import subprocess
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

LIB_ENV = "VSA_KAFKA_LIB"
READY_LINE = "Kafka Server started"
SCRAM_MECHANISM = "SCRAM-SHA-512"
SCRAM_LOGIN_MODULE = "org.apache.kafka.common.security.scram.ScramLoginModule"
# JVM flags that favour a quick start over peak throughput: this broker serves tests and demos.
JVM_FLAGS = ("-Xms256m", "-Xmx512m", "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1", "-Xshare:auto")


def kafka_lib_dir() -> Path:
    """The directory of the broker's jars."""
    configured = os.environ.get(LIB_ENV)
    if configured:
        lib = Path(configured)
    else:
        roots = [Path.cwd(), *Path(__file__).resolve().parents]
        found = [lib for root in roots for lib in sorted((root / ".vsa" / "kafka").glob("*/lib"))]
        if not found:
            raise FileNotFoundError(
                "no Kafka broker jars found: run `make kafka-lib` in the vsa source tree "
                f"or set {LIB_ENV} to a directory of Kafka 4.x jars"
            )
        lib = found[-1]
    if not any(lib.glob("kafka_2.13-*.jar")):
        raise FileNotFoundError(f"{lib} holds no kafka_2.13 jar")
    return lib


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass(frozen=True)
class ScramUser:
    """A SCRAM-SHA-512 user: the only one a SASL_SSL :class:`LocalKafka` accepts."""

    name: str
    password: str = field(repr=False)

    def jaas_config(self) -> str:
        """The ``sasl.jaas.config`` of a client that logs in as this user."""
        return f'{SCRAM_LOGIN_MODULE} required username="{self.name}" password="{self.password}";'


@dataclass
class LocalKafka:
    """A single-node Kafka on 127.0.0.1:``port`` with its data and logs under ``data_dir``;
    with ``scram_user``, its one listener is SASL_SSL (SCRAM-SHA-512 over TLS) and
    :attr:`client_options` are the ``kafka_options`` of a client.

    Examples
    --------
    >>> broker = LocalKafka(Path("/tmp/vsa-kafka"), port=19092)  # doctest: +SKIP
    >>> broker.start()  # doctest: +SKIP
    '127.0.0.1:19092'
    """

    data_dir: Path
    port: int = 9092
    controller_port: int | None = None
    scram_user: ScramUser | None = None

    def __post_init__(self) -> None:
        self.data_dir = Path(self.data_dir).resolve()
        if self.controller_port is None:
            self.controller_port = free_port()

    @property
    def bootstrap_servers(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def client_options(self) -> dict[str, str]:
        """The Kafka client settings that connect to this node ({} in plain text)."""
        if self.scram_user is None:
            return {}
        return {
            "security.protocol": "SASL_SSL",
            "sasl.mechanism": SCRAM_MECHANISM,
            "sasl.jaas.config": self.scram_user.jaas_config(),
            "ssl.truststore.location": str(self._tls_dir / "truststore.p12"),
            "ssl.truststore.type": "PKCS12",
            "ssl.truststore.password": self._store_password(),
        }

    @property
    def _tls_dir(self) -> Path:
        return self.data_dir / "tls"

    @property
    def pid_file(self) -> Path:
        return self.data_dir / "kafka.pid"

    @property
    def log_file(self) -> Path:
        return self.data_dir / "server.log"

    def start(self, timeout: float = 60.0) -> str:
        """Formats the storage on first use, starts the node, waits until it serves; returns
        the bootstrap servers. Starting a node that already runs returns at once."""
        if self.is_running():
            return self.bootstrap_servers
        if _port_open(self.port):
            raise RuntimeError(f"port {self.port} is taken by another process")
        self.data_dir.mkdir(parents=True, exist_ok=True)
        properties = self._write_config()
        classpath = str(kafka_lib_dir() / "*")
        jvm = [*JVM_FLAGS, f"-Dlog4j2.configurationFile={self.data_dir / 'log4j2.properties'}"]
        if not (self.data_dir / "log" / "meta.properties").exists():
            scram = []
            if self.scram_user is not None:
                user = self.scram_user
                scram = [
                    "--add-scram",
                    f"{SCRAM_MECHANISM}=[name={user.name},password={user.password}]",
                ]
            formatted = subprocess.run(
                [
                    "java",
                    *jvm,
                    "-cp",
                    classpath,
                    "kafka.tools.StorageTool",
                    "format",
                    "-t",
                    _cluster_id(),
                    "-c",
                    str(properties),
                    *scram,
                ],
                capture_output=True,
                text=True,
            )
            if formatted.returncode != 0:
                raise RuntimeError(
                    f"formatting the Kafka storage failed: {formatted.stderr[-2000:]}"
                )
        self.log_file.write_text("")
        with open(self.data_dir / "stdout.log", "w") as out:
            process = subprocess.Popen(
                ["java", *jvm, "-cp", classpath, "kafka.Kafka", str(properties)],
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        self.pid_file.write_text(str(process.pid))
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if process.poll() is not None:
                raise RuntimeError(
                    f"Kafka exited with code {process.returncode}; see {self.log_file}:\n"
                    + _tail(self.data_dir / "stdout.log")
                    + _tail(self.log_file)
                )
            if READY_LINE in self.log_file.read_text(errors="replace") and _port_open(self.port):
                return self.bootstrap_servers
            time.sleep(0.1)
        self.stop()
        raise TimeoutError(f"Kafka did not start within {timeout:.0f} s; see {self.log_file}")

    def create_topic(self, topic: str, partitions: int = 1) -> None:
        """Creates ``topic`` with ``partitions`` partitions (Kafka's own TopicCommand).

        Spark's watermark is global: on a topic with several partitions whose event times
        drift apart, the ahead partition makes the other's events late. A test that checks
        lateness exactly uses one partition."""
        result = subprocess.run(
            [
                "java",
                *JVM_FLAGS,
                "-cp",
                str(kafka_lib_dir() / "*"),
                "org.apache.kafka.tools.TopicCommand",
                "--bootstrap-server",
                self.bootstrap_servers,
                "--create",
                "--if-not-exists",
                "--topic",
                topic,
                "--partitions",
                str(partitions),
                *self._command_config(),
            ],
            capture_output=True,
            text=True,
        )
        if result.returncode != 0:
            raise RuntimeError(f"could not create topic {topic}: {result.stderr.strip()[-2000:]}")

    def stop(self, timeout: float = 30.0) -> bool:
        """Stops the node (SIGTERM, then SIGKILL); False if it was not running."""
        pid = self._pid()
        if pid is None or not _alive(pid):
            self.pid_file.unlink(missing_ok=True)
            return False
        os.killpg(pid, signal.SIGTERM)
        deadline = time.monotonic() + timeout
        while _alive(pid) and time.monotonic() < deadline:
            time.sleep(0.1)
        if _alive(pid):
            os.killpg(pid, signal.SIGKILL)
        self.pid_file.unlink(missing_ok=True)
        return True

    def is_running(self) -> bool:
        pid = self._pid()
        return pid is not None and _alive(pid) and _port_open(self.port)

    def _pid(self) -> int | None:
        try:
            return int(self.pid_file.read_text().strip())
        except (FileNotFoundError, ValueError):
            return None

    def _command_config(self) -> list[str]:
        """The ``--command-config`` of Kafka's command-line tools (none in plain text)."""
        if self.scram_user is None:
            return []
        path = self.data_dir / "client.properties"
        path.write_text("".join(f"{k}={v}\n" for k, v in self.client_options.items()))
        return ["--command-config", str(path)]

    def _write_config(self) -> Path:
        log4j = self.data_dir / "log4j2.properties"
        log4j.write_text(_LOG4J.format(log_file=self.log_file))
        listener = _PLAINTEXT_LISTENER.format(port=self.port, controller_port=self.controller_port)
        if self.scram_user is not None:
            self._make_tls_stores()
            password = self._store_password()
            listener = _SASL_SSL_LISTENER.format(
                port=self.port,
                controller_port=self.controller_port,
                mechanism=SCRAM_MECHANISM,
                jaas=self.scram_user.jaas_config(),
                keystore=self._tls_dir / "broker.p12",
                truststore=self._tls_dir / "truststore.p12",
                password=password,
            )
        properties = self.data_dir / "server.properties"
        properties.write_text(
            _SERVER_PROPERTIES.format(
                controller_port=self.controller_port,
                log_dir=self.data_dir / "log",
            )
            + listener
        )
        return properties

    def _store_password(self) -> str:
        """The password of the TLS key and trust stores, made once per data directory."""
        path = self._tls_dir / "store-password"
        if not path.exists():
            self._tls_dir.mkdir(parents=True, exist_ok=True)
            path.write_text(secrets.token_hex(16))
            path.chmod(0o600)
        return path.read_text()

    def _make_tls_stores(self) -> None:
        """A self-signed key for 127.0.0.1 and a trust store holding its certificate, made
        with ``keytool`` on first start."""
        keystore = self._tls_dir / "broker.p12"
        truststore = self._tls_dir / "truststore.p12"
        if keystore.exists() and truststore.exists():
            return
        password = self._store_password()
        certificate = self._tls_dir / "broker.pem"
        store = ["-storetype", "PKCS12", "-storepass", password]
        for command in (
            ["-genkeypair", "-alias", "broker", "-keyalg", "RSA", "-keysize", "2048"]
            + [
                "-validity",
                "3650",
                "-dname",
                "CN=localhost",
                "-ext",
                "SAN=IP:127.0.0.1,DNS:localhost",
            ]
            + ["-keystore", str(keystore), *store, "-keypass", password],
            ["-exportcert", "-alias", "broker", "-rfc", "-file", str(certificate)]
            + ["-keystore", str(keystore), *store],
            ["-importcert", "-noprompt", "-alias", "broker", "-file", str(certificate)]
            + ["-keystore", str(truststore), *store],
        ):
            done = subprocess.run(["keytool", *command], capture_output=True, text=True)
            if done.returncode != 0:
                raise RuntimeError(f"keytool {command[0]} failed: {done.stdout}{done.stderr}")


def _cluster_id() -> str:
    # Kafka's random-uuid: 16 random bytes, URL-safe base64 without padding.
    import base64

    # Like Kafka's Uuid.randomUuid, never one that starts with "-": the storage tool would
    # read it as an option ("kafka-storage format -t -3TL..." fails).
    while True:
        cluster_id = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")
        if not cluster_id.startswith("-"):
            return cluster_id


def _port_open(port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(0.2)
        return s.connect_ex(("127.0.0.1", port)) == 0


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A zombie child counts as gone.
    try:
        return Path(f"/proc/{pid}/stat").read_text().split()[2] != "Z"
    except FileNotFoundError:
        return False


def _tail(path: Path, lines: int = 30) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:]) + "\n"
    except FileNotFoundError:
        return ""


_SERVER_PROPERTIES = """\
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@127.0.0.1:{controller_port}
controller.listener.names=CONTROLLER
log.dirs={log_dir}
num.partitions=2
auto.create.topics.enable=true
offsets.topic.replication.factor=1
offsets.topic.num.partitions=1
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
group.initial.rebalance.delay.ms=0
log.retention.hours=168
"""

_PLAINTEXT_LISTENER = """\
listeners=PLAINTEXT://127.0.0.1:{port},CONTROLLER://127.0.0.1:{controller_port}
advertised.listeners=PLAINTEXT://127.0.0.1:{port}
inter.broker.listener.name=PLAINTEXT
listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT
"""

# The one client listener: SCRAM-SHA-512 over TLS, for clients and the node itself.
_SASL_SSL_LISTENER = """\
listeners=SASL_SSL://127.0.0.1:{port},CONTROLLER://127.0.0.1:{controller_port}
advertised.listeners=SASL_SSL://127.0.0.1:{port}
inter.broker.listener.name=SASL_SSL
listener.security.protocol.map=CONTROLLER:PLAINTEXT,SASL_SSL:SASL_SSL
sasl.enabled.mechanisms={mechanism}
sasl.mechanism.inter.broker.protocol={mechanism}
listener.name.sasl_ssl.scram-sha-512.sasl.jaas.config={jaas}
ssl.keystore.location={keystore}
ssl.keystore.type=PKCS12
ssl.keystore.password={password}
ssl.key.password={password}
ssl.truststore.location={truststore}
ssl.truststore.type=PKCS12
ssl.truststore.password={password}
"""

_LOG4J = """\
status = warn
appender.file.type = File
appender.file.name = file
appender.file.fileName = {log_file}
appender.file.layout.type = PatternLayout
appender.file.layout.pattern = [%d] %p %m (%c)%n
rootLogger.level = info
rootLogger.appenderRef.file.ref = file
"""
