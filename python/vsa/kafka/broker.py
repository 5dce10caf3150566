"""One Apache Kafka 4.x node in KRaft mode (broker and controller), run from Maven Central jars.

The jars are resolved at build time (``make kafka-lib``, sbt's ``kafkaBrokerLib``) into
``.vsa/kafka/<version>/lib``; ``VSA_KAFKA_LIB`` points elsewhere. The node listens in plain
text, or, given a :class:`ScramUser`, with SASL_SSL and SCRAM-SHA-512 only: a TLS key made with
the JDK's ``keytool`` and the user added when the storage is formatted.

Files that hold a password are the owner's alone (0600), and no password is on a command line
(``ps`` shows every user's): ``keytool`` reads them from a file, the storage tool from a Java
argument file.
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import secrets
import signal
import socket
import subprocess
import time
import uuid
from collections.abc import Collection
from dataclasses import dataclass, field
from pathlib import Path

log = logging.getLogger(__name__)

LIB_ENV = "VSA_KAFKA_LIB"
READY_LINE = "Kafka Server started"
# What Kafka logs when a listener's port is taken (by another process since it was picked).
PORT_TAKEN = re.compile(r"failed to bind to 127\.0\.0\.1:(\d+): Address already in use")
# Starts tried, each on fresh ports, before a port taken each time is an error.
START_ATTEMPTS = 5
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


def free_ports(count: int, avoid: Collection[int] = ()) -> list[int]:
    """``count`` different free loopback ports, none in ``avoid``.

    Each pick binds port 0 and keeps its socket until all are picked, so the system hands out
    different ports; a repeat is refused all the same (two pick-and-close calls once returned
    one port for the broker and its controller, and Kafka refused to start)."""
    ports: list[int] = []
    picks = count + 10  # a few repeats refused, never an endless loop
    with contextlib.ExitStack() as held:
        while len(ports) < count:
            if picks == 0:
                raise RuntimeError(f"could not pick {count} different free ports")
            picks -= 1
            port = _pick_port(held)
            if port not in ports and port not in avoid:
                ports.append(port)
    return ports


def free_port() -> int:
    """A free loopback port (free now: a process may take it before it is used)."""
    return free_ports(1)[0]


def _pick_port(held: contextlib.ExitStack) -> int:
    """A port the system gives to a socket bound to port 0, kept bound in ``held``."""
    sock = held.enter_context(socket.socket())
    sock.bind(("127.0.0.1", 0))
    return sock.getsockname()[1]


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

    ``port`` and ``controller_port`` left out are picked free at each start, different from
    each other; a start that fails because another process took one of them in the meantime
    is tried again on fresh ports.

    Examples
    --------
    >>> broker = LocalKafka(Path("/tmp/vsa-kafka"), port=19092)  # doctest: +SKIP
    >>> broker.start()  # doctest: +SKIP
    '127.0.0.1:19092'
    """

    data_dir: Path
    port: int | None = None
    controller_port: int | None = None
    scram_user: ScramUser | None = None
    # The ports given, the others being picked at each start.
    _given: tuple[int | None, int | None] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self.data_dir = Path(self.data_dir).resolve()
        if self.port is not None and self.port == self.controller_port:
            raise ValueError(f"port and controller_port are both {self.port}: give two ports")
        self._given = (self.port, self.controller_port)

    @property
    def bootstrap_servers(self) -> str:
        if self.port is None:
            raise RuntimeError("the broker has no port yet: start() picks one")
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
        if self._running_pid() is not None and self.port is None:
            # Started by another LocalKafka of this folder: its ports are in its config.
            self.port, self.controller_port = self._configured_ports()
        if self.is_running():
            return self.bootstrap_servers
        given = [port for port in self._given if port is not None]
        for port in given:
            if _port_open(port):
                raise _PortTaken(port)
        self.data_dir.mkdir(parents=True, exist_ok=True)
        for attempt in range(1, START_ATTEMPTS + 1):
            picked = iter(free_ports(self._given.count(None), avoid=given))
            self.port, self.controller_port = (p or next(picked) for p in self._given)
            try:
                return self._start(timeout)
            except _PortTaken as taken:
                if attempt == START_ATTEMPTS or taken.port in given:
                    raise
                log.info("start %d: port %d was taken; again on fresh ports", attempt, taken.port)
        raise AssertionError("unreachable")

    def _start(self, timeout: float) -> str:
        """One start on ``port`` and ``controller_port``."""
        properties = self._write_config()
        classpath = str(kafka_lib_dir() / "*")
        jvm = [*JVM_FLAGS, f"-Dlog4j2.configurationFile={self.data_dir / 'log4j2.properties'}"]
        if not (self.data_dir / "log" / "meta.properties").exists():
            self._format(jvm, classpath, properties)
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
                taken = PORT_TAKEN.search(self.log_file.read_text(errors="replace"))
                if taken:
                    raise _PortTaken(int(taken.group(1)))
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

    def _format(self, jvm: list[str], classpath: str, properties: Path) -> None:
        """Formats the storage, adding the SCRAM user. The tool's arguments, the user's
        password among them, go in a Java argument file, out of the process list."""
        arguments = ["kafka.tools.StorageTool", "format", "-t", _cluster_id()]
        arguments += ["-c", str(properties)]
        if self.scram_user is not None:
            user = self.scram_user
            scram = f"{SCRAM_MECHANISM}=[name={user.name},password={user.password}]"
            arguments += ["--add-scram", scram]
        argument_file = self.data_dir / "format.args"
        _write_private(argument_file, "\n".join(map(_java_argument, arguments)) + "\n")
        try:
            formatted = subprocess.run(
                ["java", *jvm, "-cp", classpath, f"@{argument_file}"],
                capture_output=True,
                text=True,
            )
        finally:
            argument_file.unlink()
        if formatted.returncode != 0:
            raise RuntimeError(f"formatting the Kafka storage failed: {formatted.stderr[-2000:]}")

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
        """Stops the node (SIGTERM, then SIGKILL); False if it was not running. A process
        that ``kafka.pid`` names but is not this node (a stale file, the number reused) is
        left alone."""
        pid = self._running_pid()
        if pid is None:
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
        return self.port is not None and self._running_pid() is not None and _port_open(self.port)

    def _running_pid(self) -> int | None:
        """The process of ``kafka.pid`` if it is this node: Kafka's main class run with this
        folder's config. None for no file, a process gone, or any other process."""
        try:
            pid = int(self.pid_file.read_text().strip())
            command = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
        except (OSError, ValueError):
            return None
        config = str(self.data_dir / "server.properties").encode()
        return pid if b"kafka.Kafka" in command and config in command else None

    def _configured_ports(self) -> tuple[int, int]:
        """The client and controller ports of the config a running node was started with."""
        text = (self.data_dir / "server.properties").read_text()
        listeners = next(line for line in text.splitlines() if line.startswith("listeners="))
        client, controller = (int(url.rpartition(":")[2]) for url in listeners.split(","))
        return client, controller

    def _command_config(self) -> list[str]:
        """The ``--command-config`` of Kafka's command-line tools (none in plain text)."""
        if self.scram_user is None:
            return []
        path = self.data_dir / "client.properties"
        _write_private(path, "".join(f"{k}={v}\n" for k, v in self.client_options.items()))
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
        server = _SERVER_PROPERTIES.format(
            controller_port=self.controller_port, log_dir=self.data_dir / "log"
        )
        _write_private(properties, server + listener)
        return properties

    def _store_password(self) -> str:
        """The password of the TLS key and trust stores, made once per data directory."""
        path = self._store_password_file
        if not path.exists():
            self._tls_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
            _write_private(path, secrets.token_hex(16))
        return path.read_text()

    @property
    def _store_password_file(self) -> Path:
        return self._tls_dir / "store-password"

    def _make_tls_stores(self) -> None:
        """A self-signed key for 127.0.0.1 and a trust store holding its certificate, made
        with ``keytool`` on first start."""
        keystore = self._tls_dir / "broker.p12"
        truststore = self._tls_dir / "truststore.p12"
        if keystore.exists() and truststore.exists():
            return
        self._store_password()
        password_file = str(self._store_password_file)
        certificate = self._tls_dir / "broker.pem"
        store = ["-storetype", "PKCS12", "-storepass:file", password_file]
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
            + ["-keystore", str(keystore), *store, "-keypass:file", password_file],
            ["-exportcert", "-alias", "broker", "-rfc", "-file", str(certificate)]
            + ["-keystore", str(keystore), *store],
            ["-importcert", "-noprompt", "-alias", "broker", "-file", str(certificate)]
            + ["-keystore", str(truststore), *store],
        ):
            done = subprocess.run(["keytool", *command], capture_output=True, text=True)
            if done.returncode != 0:
                raise RuntimeError(f"keytool {command[0]} failed: {done.stdout}{done.stderr}")


class _PortTaken(RuntimeError):
    """Kafka cannot start: another process holds one of its ports."""

    def __init__(self, port: int) -> None:
        super().__init__(f"port {port} is taken by another process")
        self.port = port


def _write_private(path: Path, text: str) -> None:
    """Writes ``text`` to ``path``, readable by its owner only from the start (a file made
    with the usual 0644 and chmod-ed after could be read in between)."""
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w") as file:
        os.fchmod(descriptor, 0o600)  # a file an older vsa left keeps its mode otherwise
        file.write(text)


def _java_argument(argument: str) -> str:
    """``argument`` quoted for a Java argument file (``java @file``)."""
    escaped = argument.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
    return f'"{escaped}"'


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
