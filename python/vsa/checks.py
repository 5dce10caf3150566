"""What must hold before the job starts, checked once: by ``vsa check`` (every check, one line
each) and by the job's start (:func:`require_ready`: the first failure stops it, named, before
anything is written).

Each check returns a :class:`Check`; a failed one's ``detail`` names the thing and what to do,
on one line, without a trace: it is what ``vsa: error:`` prints.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass

from py4j.protocol import Py4JJavaError
from pyspark.errors.exceptions.captured import CapturedException
from pyspark.sql import SparkSession

from vsa.config import GEOIP_ASN_DB_KEY, GEOIP_CITY_DB_KEY, VsaConfig, join_location
from vsa.tables import TABLES

log = logging.getLogger(__name__)

OK, WARN, FAIL = "ok", "warn", "FAIL"
# A JVM exception as a py4j call raises it: PySpark converts the ones it knows.
JVM_ERRORS = (Py4JJavaError, CapturedException)
# The job's one query: its name and the folder of its checkpoint under checkpoint_root.
QUERY = "vsa"
# Written by vsa 0.1's per-table queries; a root holding them gets a clear upgrade error.
OLD_LAYOUT = ("player_events", "_sessions", "dead_letter", "view_slices", "kpi_minute")
# How long a check waits for Kafka to answer.
KAFKA_TIMEOUT_MS = 10_000
# How often the job's start asks again for a topic it waits for (topic_wait_seconds).
TOPIC_POLL_SECONDS = 2.0
# The end mark of an LZ4 block stream (Spark's lz4 codec, the state store's default): the
# magic, a token byte, then zero compressed and decompressed lengths and checksum. A state
# file without it was cut short.
LZ4_MAGIC = b"LZ4Block"
LZ4_END_MARK_SIZE = 21
STATE_CODEC_KEY = "spark.sql.streaming.stateStore.compression.codec"
STATE_PROVIDER_KEY = "spark.sql.streaming.stateStore.providerClass"
DEFAULT_STATE_PROVIDER = (
    "org.apache.spark.sql.execution.streaming.state.HDFSBackedStateStoreProvider"
)


@dataclass(frozen=True)
class Check:
    """One check's outcome: ``status`` is :data:`OK`, :data:`WARN` (worth knowing, does not
    stop the job) or :data:`FAIL`; ``detail`` says what was found, or what to do."""

    name: str
    status: str
    detail: str

    def line(self) -> str:
        """The check as ``vsa check`` prints it."""
        return f"{self.status:<4}  {self.name:<18} {self.detail}"


class NotReady(RuntimeError):
    """The job cannot start; the message names the thing and what to do, on one line."""


def run_checks(spark: SparkSession, config: VsaConfig) -> list[Check]:
    """Every check of ``vsa check`` after the config's own: Kafka and the topics, the GeoIP
    databases, the output and checkpoint locations, the checkpoint, the tables' logs, the
    collector's settings."""
    from vsa.collect.checks import collect_checks

    kafka, topics = kafka_check(spark, config)
    found = [kafka]
    if topics is not None:
        found += topic_checks(config, topics)
    return [
        *found,
        *geoip_checks(spark),
        *location_checks(spark, config),
        checkpoint_check(spark, config),
        *table_log_checks(spark, config),
        *collect_checks(config),
    ]


def require_ready(spark: SparkSession, config: VsaConfig, *, kafka: bool = True) -> None:
    """The job's start: raises :class:`NotReady` with the first failed check, before anything
    is written. ``kafka=False``: a run without Kafka or checkpoint (``vsa batch``). With
    ``config.topic_wait_seconds``, a missing player topic is waited for, with one progress
    line."""
    # What is on this machine first, so it fails fast; a wait for a topic comes last.
    if kafka:
        require([checkpoint_check(spark, config)])
    require(table_log_checks(spark, config))
    require(location_checks(spark, config, checkpoint=kafka))
    require(geoip_checks(spark))
    if kafka:
        require(_kafka_ready(spark, config))


def require(checks: list[Check]) -> None:
    """Raises :class:`NotReady` with the first failed check of ``checks``."""
    for check in checks:
        if check.status == FAIL:
            raise NotReady(check.detail)


def _kafka_ready(spark: SparkSession, config: VsaConfig) -> list[Check]:
    kafka, topics = kafka_check(spark, config)
    if topics is None:
        return [kafka]
    checks = topic_checks(config, topics)
    topic = config.player_events_topic
    if config.topic_wait_seconds and any(c.status == FAIL for c in checks):
        log.info(
            "waiting up to %d s for Kafka topic %r at %s",
            config.topic_wait_seconds,
            topic,
            config.kafka_bootstrap_servers,
        )
        deadline = time.monotonic() + config.topic_wait_seconds
        while topic not in topics and time.monotonic() < deadline:
            time.sleep(TOPIC_POLL_SECONDS)
            kafka, topics = kafka_check(spark, config)
            if topics is None:
                return [kafka]
        checks = topic_checks(config, topics, waited=True)
    return checks


def kafka_check(spark: SparkSession, config: VsaConfig) -> tuple[Check, set[str] | None]:
    """Whether the brokers answer, with ``kafka_options`` (TLS, SASL): the check, and the
    topics they list (None when they do not answer)."""
    servers = config.kafka_bootstrap_servers
    protocol = config.kafka_options.get("security.protocol", "PLAINTEXT")
    try:
        topics = list_topics(spark, config)
    except JVM_ERRORS as error:
        return Check("kafka", FAIL, _kafka_problem(servers, error)), None
    detail = f"{servers} answers ({protocol}), {len(topics)} topic{'s' * (len(topics) != 1)}"
    return Check("kafka", OK, detail), topics


def list_topics(spark: SparkSession, config: VsaConfig) -> set[str]:
    """The topics of the cluster (Kafka's admin client, with ``kafka_options``)."""
    jvm = spark._jvm  # type: ignore[attr-defined]
    settings = jvm.java.util.HashMap()
    for name, value in config.kafka_options.items():
        settings.put(name, value)
    settings.put("bootstrap.servers", config.kafka_bootstrap_servers)
    for name in ("default.api.timeout.ms", "request.timeout.ms"):
        settings.put(name, str(KAFKA_TIMEOUT_MS))
    admin = jvm.org.apache.kafka.clients.admin.AdminClient.create(settings)
    try:
        names = admin.listTopics().names()
        return set(names.get(KAFKA_TIMEOUT_MS, jvm.java.util.concurrent.TimeUnit.MILLISECONDS))
    finally:
        admin.close(jvm.java.time.Duration.ofSeconds(1))


def _kafka_problem(servers: str, error: Exception) -> str:
    """What the admin client's failure means, for the operator."""
    chain = java_causes(error)
    names = [name for name, _ in chain]
    message = next((m for _, m in reversed(chain) if m), names[-1] if names else str(error))
    if any(n.endswith("SaslAuthenticationException") for n in names):
        return (
            f"Kafka at {servers} refused vsa's credentials ({message}): check the user and "
            'password in kafka_options."sasl.jaas.config" and "sasl.mechanism"'
        )
    if any(n.endswith("SslAuthenticationException") for n in names):
        return (
            f"the TLS handshake with Kafka at {servers} failed ({message}): check "
            'kafka_options "ssl.truststore.location" and "ssl.truststore.password"'
        )
    if any(n.endswith("TimeoutException") for n in names):
        return (
            f"Kafka unreachable at {servers}: no answer in {KAFKA_TIMEOUT_MS // 1000} s; check "
            'kafka_bootstrap_servers, that the brokers run, and kafka_options "security.protocol"'
        )
    return f"Kafka at {servers}: {message}; check kafka_bootstrap_servers and kafka_options"


def topic_checks(config: VsaConfig, topics: set[str], waited: bool = False) -> list[Check]:
    """The player topic must exist (the job reads its partitions); a CDN topic that does not
    is a warning: the job subscribes to CDN topics by pattern and reads one once it exists."""
    servers = config.kafka_bootstrap_servers
    checks = []
    player = config.player_events_topic
    if player:
        if player in topics:
            checks.append(Check("player topic", OK, player))
        else:
            after = f" (waited {config.topic_wait_seconds} s)" if waited else ""
            checks.append(
                Check(
                    "player topic",
                    FAIL,
                    f"Kafka topic {player!r} does not exist at {servers}{after}: create it, "
                    "or set player_events_topic (topic_wait_seconds makes the job wait for it)",
                )
            )
    for topic, fmt in config.cdn_formats.items():
        if topic in topics:
            checks.append(Check("CDN topic", OK, f"{topic} ({fmt})"))
        else:
            checks.append(
                Check(
                    "CDN topic",
                    WARN,
                    f"{topic} ({fmt}) does not exist at {servers}: the job reads it once it "
                    "does (unset cdn_logs_topic if there is none)",
                )
            )
    return checks


def geoip_checks(spark: SparkSession) -> list[Check]:
    """Each GeoIP database the session's ``vsa_geoip`` uses, opened and verified whole by the
    jar's own reader (once per JVM: the job then finds it open)."""
    jvm = spark._jvm  # type: ignore[attr-defined]
    checks = []
    for key, kind, option in (
        (GEOIP_CITY_DB_KEY, "City", "geoip_city_db"),
        (GEOIP_ASN_DB_KEY, "ASN", "geoip_asn_db"),
    ):
        path = spark.conf.get(key, None)
        if not path:
            continue
        name = f"GeoIP {kind}"
        try:
            found = jvm.vsa.spark.geoip.GeoIpDatabase.open(path, key).databaseType()
        except JVM_ERRORS as error:
            problem = java_message(error, outer=True)
            checks.append(Check(name, FAIL, f"{problem}; set {option} to a valid .mmdb file"))
            continue
        if kind in found:
            checks.append(Check(name, OK, f"{path} ({found})"))
        else:
            problem = f"GeoIP database {path} ({key}) is a {found} database, not a {kind} one"
            checks.append(Check(name, FAIL, f"{problem}; set {option} to a {kind} .mmdb file"))
    return checks


def location_checks(spark: SparkSession, config: VsaConfig, checkpoint: bool = True) -> list[Check]:
    """Whether vsa can write ``output_root`` and (streaming) the checkpoint root."""
    checks = [writable(spark, "output_root", config.output_root)]
    if checkpoint:
        checks.append(writable(spark, "checkpoint_root", config.checkpoint_path("")))
    return checks


def writable(spark: SparkSession, key: str, location: str) -> Check:
    """Whether ``location`` can be written: a file created and deleted in it, or in its
    nearest existing parent (nothing is left behind, no folder made)."""
    jvm = spark._jvm  # type: ignore[attr-defined]
    hadoop_path = jvm.org.apache.hadoop.fs.Path
    try:
        path = hadoop_path(location)
        fs = path.getFileSystem(spark._jsc.hadoopConfiguration())  # type: ignore[attr-defined]
        existing = path
        while existing is not None and not fs.exists(existing):
            existing = existing.getParent()
        if existing is None:
            return Check(key, FAIL, f"cannot write {key} {location}: no parent of it exists")
        if not fs.getFileStatus(existing).isDirectory():
            return Check(
                key,
                FAIL,
                f"cannot write {key} {location}: {existing.toString()} is a file, not a "
                f"directory; set {key} to a directory vsa may write",
            )
        probe = hadoop_path(existing, f".vsa-check-{uuid.uuid4().hex}")
        fs.create(probe, False).close()
        fs.delete(probe, False)
    except JVM_ERRORS as error:
        return Check(
            key,
            FAIL,
            f"cannot write {key} {location}: {java_message(error)}; set {key} to a "
            "directory vsa may write",
        )
    return Check(key, OK, f"{location} writable")


def checkpoint_check(spark: SparkSession, config: VsaConfig) -> Check:
    """Whether this vsa can resume the checkpoint: not vsa 0.1's layout (a query per table),
    and no state file cut short."""
    old = old_layout(spark, config)
    if old:
        root = config.checkpoint_path("")
        return Check(
            "checkpoint",
            FAIL,
            f"the checkpoints under {root} ({', '.join(old)}) were written by an earlier vsa, one "
            "streaming query per table; this vsa runs one query for all tables and cannot resume "
            "them. Start with a new checkpoint_root (and a new output_root), see "
            'docs/operations.md, "Upgrading from one query per table"',
        )
    damaged = next(damaged_state_files(spark, config.checkpoint_path(QUERY)), None)
    if damaged:
        path, problem = damaged
        return Check(
            "checkpoint",
            FAIL,
            f"state file {path} {problem}: restore the checkpoint "
            f"{config.checkpoint_path(QUERY)} from a backup, or start with a new "
            "checkpoint_root and output_root",
        )
    return Check("checkpoint", OK, f"{config.checkpoint_path(QUERY)} resumable")


def old_layout(spark: SparkSession, config: VsaConfig) -> list[str]:
    """The queries of vsa 0.1's layout that have a checkpoint under ``checkpoint_root``."""
    jvm = spark._jvm  # type: ignore[attr-defined]
    root = jvm.org.apache.hadoop.fs.Path(config.checkpoint_path(""))
    fs = root.getFileSystem(spark._jsc.hadoopConfiguration())  # type: ignore[attr-defined]
    return [
        name
        for name in OLD_LAYOUT
        if fs.exists(jvm.org.apache.hadoop.fs.Path(join_location(root.toString(), name), "offsets"))
    ]


def damaged_state_files(spark: SparkSession, checkpoint: str) -> Iterator[tuple[str, str]]:
    """The state files a restart would load (each store's newest snapshot and the deltas
    after it) that cannot be read or lack the LZ4 end mark, each with what is wrong. Only the
    default state store and codec are checked: another's files have another format."""
    codec = spark.conf.get(STATE_CODEC_KEY, "lz4")
    provider = spark.conf.get(STATE_PROVIDER_KEY, DEFAULT_STATE_PROVIDER)
    if codec != "lz4" or provider != DEFAULT_STATE_PROVIDER:
        return
    jvm = spark._jvm  # type: ignore[attr-defined]
    state = jvm.org.apache.hadoop.fs.Path(checkpoint, "state")
    fs = state.getFileSystem(spark._jsc.hadoopConfiguration())  # type: ignore[attr-defined]
    if not fs.exists(state):
        return
    stores: dict[str, list[tuple[int, bool, object]]] = {}
    files = fs.listFiles(state, True)
    while files.hasNext():
        status = files.next()
        name = status.getPath().getName()
        version, _, kind = name.partition(".")
        if version.isdigit() and kind in ("delta", "snapshot"):
            store = status.getPath().getParent().toString()
            stores.setdefault(store, []).append((int(version), kind == "snapshot", status))
    for entries in stores.values():
        snapshots = [v for v, snapshot, _ in entries if snapshot]
        since = max(snapshots, default=0)
        for version, snapshot, status in sorted(entries, key=lambda e: (e[0], e[1])):
            needed = version > since or (version == since and snapshot)
            problem = _state_file_problem(spark, fs, status) if needed else None
            if problem:
                yield status.getPath().toString(), problem


def _state_file_problem(spark: SparkSession, fs: object, status: object) -> str | None:
    """Why a state file cannot be loaded, from its last bytes; None if it ends well."""
    size = status.getLen()  # type: ignore[attr-defined]
    if size < LZ4_END_MARK_SIZE:
        return "is cut short (no end mark)"
    try:
        stream = fs.open(status.getPath())  # type: ignore[attr-defined]
        try:
            stream.seek(size - LZ4_END_MARK_SIZE)
            io_utils = spark._jvm.org.apache.commons.io.IOUtils  # type: ignore[attr-defined]
            tail = bytes(io_utils.toByteArray(stream, LZ4_END_MARK_SIZE))
        finally:
            stream.close()
    except JVM_ERRORS as error:
        return f"cannot be read ({java_message(error)})"
    if not (tail.startswith(LZ4_MAGIC) and tail[9:] == bytes(12)):
        return "is cut short (no end mark)"
    return None


def table_log_checks(spark: SparkSession, config: VsaConfig) -> list[Check]:
    """Each existing table's commit log (``_spark_metadata``), read as Spark's reader reads
    it: a log file that does not parse would leave the table unreadable."""
    jvm = spark._jvm  # type: ignore[attr-defined]
    jspark = spark._jsparkSession  # type: ignore[attr-defined]
    hadoop = spark._jsc.hadoopConfiguration()  # type: ignore[attr-defined]
    sink_log = jvm.org.apache.spark.sql.execution.streaming.sinks.FileStreamSinkLog
    checks = []
    for table in TABLES:
        location = jvm.org.apache.hadoop.fs.Path(config.table_path(table.name), "_spark_metadata")
        fs = location.getFileSystem(hadoop)
        if not fs.exists(location):
            continue
        log_ = sink_log(1, jspark, location.toString(), jvm.scala.Option.empty())
        bad = _unreadable_log_file(log_, fs, location)
        if bad is None:
            continue
        checks.append(
            Check(
                f"table {table.name}",
                FAIL,
                f"the commit log of table {table.name} is damaged: {bad}; restore the file from "
                f"a backup, or write to a new output_root (the table cannot be read as it is)",
            )
        )
    if not checks:
        checks.append(Check("tables", OK, "every existing table's commit log reads"))
    return checks


def _unreadable_log_file(log_: object, fs: object, location: object) -> str | None:
    """The first log file of a table that does not parse, and why; None if all do."""
    try:
        log_.allFiles()  # type: ignore[attr-defined]
        return None
    except JVM_ERRORS as whole:
        problem = java_message(whole)
    # Name the file: parse each batch's file on its own.
    names = sorted(
        (s.getPath().getName() for s in fs.listStatus(location)),  # type: ignore[attr-defined]
        key=lambda n: int(n.partition(".")[0]) if n.partition(".")[0].isdigit() else -1,
    )
    for name in names:
        batch = name.partition(".")[0]
        if not batch.isdigit():
            continue
        try:
            log_.get(int(batch))  # type: ignore[attr-defined]
        except JVM_ERRORS as error:
            where = f"{location.toString()}/{name}"  # type: ignore[attr-defined]
            return f"{where} does not parse ({java_message(error)})"
    return f"{location.toString()} does not parse ({problem})"  # type: ignore[attr-defined]


def java_causes(error: BaseException) -> list[tuple[str, str]]:
    """The class and message of a JVM exception and of each of its causes, outermost first;
    [] for a Python error."""
    java = getattr(error, "java_exception", None) or getattr(error, "_origin", None)
    chain: list[tuple[str, str]] = []
    while java is not None and len(chain) < 20:
        chain.append((java.getClass().getName(), java.getMessage() or ""))
        java = java.getCause()
    return chain


def java_message(error: BaseException, outer: bool = False) -> str:
    """A JVM exception's message in one line: the innermost cause's that has one (``outer``:
    the exception's own, when it names the thing), with its class's short name; a Python
    error's first line."""
    chain = java_causes(error)
    if not chain:
        return first_line(str(error))
    order = chain if outer else list(reversed(chain))
    name, message = next(((n, m) for n, m in order if m), chain[-1])
    if outer:
        return first_line(message)
    return f"{name.rpartition('.')[2]}: {first_line(message)}"


def first_line(text: str) -> str:
    """The first non-blank line of ``text``."""
    return next((line.strip() for line in text.splitlines() if line.strip()), text)


def describe(error: BaseException) -> str:
    """Any error in one line, for ``vsa: error:``: a :class:`NotReady`'s message as it is, a
    JVM error's innermost message."""
    if isinstance(error, NotReady):
        return str(error)
    return java_message(error) if java_causes(error) else first_line(str(error)) or repr(error)
