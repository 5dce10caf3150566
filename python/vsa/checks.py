"""What must hold before the job starts, checked once: by ``vsa check`` (every check, one line
each) and by the job's start (:func:`require_ready`: the first failure stops it, named, before
anything is written).

Each check returns a :class:`Check`; a failed one's ``detail`` names the thing and what to do,
on one line, without a trace: it is what ``vsa: error:`` prints.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass

from pyspark.sql import SparkSession

from vsa import jvm
from vsa.config import GEOIP_ASN_DB_KEY, GEOIP_CITY_DB_KEY, VsaConfig
from vsa.jvm import JVM_ERRORS, java_causes, java_message
from vsa.tables import TABLES

log = logging.getLogger(__name__)

OK, WARN, FAIL = "ok", "warn", "FAIL"
# The job's one query: its name and the folder of its checkpoint under checkpoint_root.
QUERY = "vsa"
# How long a check waits for Kafka to answer.
KAFKA_TIMEOUT_MS = 10_000
# How often the job's start asks again for a topic it waits for (topic_wait_seconds).
TOPIC_POLL_SECONDS = 2.0


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
        topics = jvm.topic_names(spark, servers, config.kafka_options, KAFKA_TIMEOUT_MS)
    except JVM_ERRORS as error:
        return Check("kafka", FAIL, _kafka_problem(servers, error)), None
    detail = f"{servers} answers ({protocol}), {len(topics)} topic{'s' * (len(topics) != 1)}"
    return Check("kafka", OK, detail), topics


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
            found = jvm.geoip_database_type(spark, path, key)
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
    try:
        found = jvm.writability(spark, location)
    except JVM_ERRORS as error:
        return Check(
            key,
            FAIL,
            f"cannot write {key} {location}: {java_message(error)}; set {key} to a "
            "directory vsa may write",
        )
    if found.outcome == jvm.NO_PARENT:
        return Check(key, FAIL, f"cannot write {key} {location}: no parent of it exists")
    if found.outcome == jvm.NOT_A_DIRECTORY:
        return Check(
            key,
            FAIL,
            f"cannot write {key} {location}: {found.existing} is a file, not a "
            f"directory; set {key} to a directory vsa may write",
        )
    return Check(key, OK, f"{location} writable")


def checkpoint_check(spark: SparkSession, config: VsaConfig) -> Check:
    """Whether this vsa can resume the checkpoint: not vsa 0.1's layout (a query per table),
    and no state file cut short."""
    root = config.checkpoint_path("")
    old = jvm.old_layout(spark, root)
    if old:
        return Check(
            "checkpoint",
            FAIL,
            f"the checkpoints under {root} ({', '.join(old)}) were written by an earlier vsa, one "
            "streaming query per table; this vsa runs one query for all tables and cannot resume "
            "them. Start with a new checkpoint_root (and a new output_root), see "
            'docs/operations.md, "Upgrading from one query per table"',
        )
    damaged = jvm.damaged_state_file(spark, config.checkpoint_path(QUERY))
    if damaged:
        problem = (
            "is cut short (no end mark)"
            if damaged.error is None
            else f"cannot be read ({damaged.error})"
        )
        return Check(
            "checkpoint",
            FAIL,
            f"state file {damaged.path} {problem}: restore the checkpoint "
            f"{config.checkpoint_path(QUERY)} from a backup, or start with a new "
            "checkpoint_root and output_root",
        )
    return Check("checkpoint", OK, f"{config.checkpoint_path(QUERY)} resumable")


def table_log_checks(spark: SparkSession, config: VsaConfig) -> list[Check]:
    """Each existing table's commit log (``_spark_metadata``), read as Spark's reader reads
    it: a log file that does not parse would leave the table unreadable."""
    checks = []
    for table in TABLES:
        bad = jvm.unreadable_table_log(spark, config.table_path(table.name))
        if bad is None:
            continue
        checks.append(
            Check(
                f"table {table.name}",
                FAIL,
                f"the commit log of table {table.name} is damaged: {bad.path} does not parse "
                f"({bad.error}); restore the file from a backup, or write to a new output_root "
                "(the table cannot be read as it is)",
            )
        )
    if not checks:
        checks.append(Check("tables", OK, "every existing table's commit log reads"))
    return checks


def describe(error: BaseException) -> str:
    """Any error in one line, for ``vsa: error:``: a :class:`NotReady`'s message as it is, a
    JVM error's innermost message."""
    if isinstance(error, NotReady):
        return str(error)
    return java_message(error) or repr(error)
