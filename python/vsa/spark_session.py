"""Turns a SparkSession builder into one that has vsa: its jars and its SQL functions."""

from __future__ import annotations

import logging
import os
import sys
from pathlib import Path
from urllib.parse import urlparse

from pyspark import SparkConf, SparkContext
from pyspark.sql import SparkSession

from vsa import jvm
from vsa.config import GEOIP_ASN_DB_KEY, GEOIP_CITY_DB_KEY, VIEWER_SECRET_KEY, VsaConfig

log = logging.getLogger(__name__)
EXTENSION_CLASS = "vsa.spark.VsaSparkSessionExtensions"
JARS_DIR = Path(__file__).parent / "jars"
LOG4J_CONFIG = Path(__file__).parent / "log4j2.properties"
# vsa's projections (validation, CDN parsing, enrichment) generate long methods. HotSpot does
# not JIT-compile a method over 8,000 bytes of bytecode, and Spark's default limit (65,535) lets
# whole-stage codegen emit them: they then run interpreted, 2-5x slower. At 8,000, as Spark's
# own documentation advises on HotSpot, Spark splits such a stage into compiled pieces.
HUGE_METHOD_LIMIT = "spark.sql.codegen.hugeMethodLimit"
# Points at a development jar (e.g. scala/target/.../vsa-spark.jar) instead of the bundled one.
DEV_JAR_ENV = "VSA_SPARK_JAR"


def bundled_jars() -> list[str]:
    """Absolute paths of the jars vsa needs: vsa-spark and the Kafka connector.

    Raises
    ------
    FileNotFoundError
        When the package was installed without its jars (a source tree that was never built).
    """
    jars = sorted(str(p) for p in JARS_DIR.glob("*.jar"))
    dev_jar = os.environ.get(DEV_JAR_ENV)
    if dev_jar:
        if not Path(dev_jar).is_file():
            raise FileNotFoundError(f"{DEV_JAR_ENV}={dev_jar} is not a file")
        jars = [j for j in jars if not Path(j).name.startswith("vsa-spark")] + [dev_jar]
    if not any(Path(j).name.startswith("vsa-spark") for j in jars):
        raise FileNotFoundError(
            f"no vsa-spark jar in {JARS_DIR}: build it with `make jars` (or set {DEV_JAR_ENV})"
        )
    return jars


def geoip_files(conf: dict[str, str]) -> list[str]:
    """The GeoIP databases ``conf`` names that are files of this machine (the driver's).

    ``spark.files`` ships them to every executor, where the jar opens the copy ``SparkFiles``
    keeps when the driver's path does not exist there (``GeoIpDatabase.resolve``).
    """
    paths = (conf.get(key) for key in (GEOIP_CITY_DB_KEY, GEOIP_ASN_DB_KEY))
    return [str(Path(p).resolve()) for p in paths if p and Path(p).is_file()]


def _append(existing: str | None, additions: list[str]) -> str:
    items = [i.strip() for i in (existing or "").split(",") if i.strip()]
    # spark-submit writes its --jars and --files as file: URIs; a path is the same file.
    present = {urlparse(i).path if i.startswith("file:") else i for i in items}
    return ",".join(items + [a for a in additions if a not in present])


def configure_spark(
    builder: SparkSession.Builder, config: VsaConfig | None = None
) -> SparkSession.Builder:
    """Configures ``builder`` for vsa and returns it.

    Adds the bundled jars to ``spark.jars`` and vsa's extension to ``spark.sql.extensions``,
    after whatever the builder already holds, sets the ``spark.vsa.*`` keys of ``config`` (the
    GeoIP databases) and applies ``config.spark_conf``. The GeoIP databases that are local
    files (the embedded GeoLite2 City default included) join ``spark.files``, so the
    executors of a cluster get them too (:func:`geoip_files`). Unless the builder or ``config`` sets
    it, ``spark.sql.codegen.hugeMethodLimit`` becomes 8000, so no generated method is too long
    for the JIT compiler (see :data:`HUGE_METHOD_LIMIT`). Nothing is downloaded: the jars ship
    inside the package.

    Parameters
    ----------
    builder
        A ``SparkSession.builder`` (classic; for Spark Connect set the same options on the
        server).
    config
        The vsa configuration; its GeoIP paths (``spark.vsa.geoip.cityDb``,
        ``spark.vsa.geoip.asnDb``) and its ``spark_conf`` entries are set on the builder.

    Examples
    --------
    >>> from pyspark.sql import SparkSession
    >>> import vsa
    >>> spark = vsa.configure_spark(SparkSession.builder.master("local[1]")).getOrCreate()
    >>> spark.sql("SELECT vsa_parse_ua('Mozilla/5.0 (X11; Linux x86_64)').os_family").first()[0]
    'Linux'
    """
    if not isinstance(builder, SparkSession.Builder):
        raise TypeError(f"configure_spark expects a SparkSession.Builder, got {type(builder)!r}")
    options = getattr(builder, "_options", {})
    conf = {**config.jvm_conf, **config.spark_conf} if config else {}
    if HUGE_METHOD_LIMIT not in options:
        conf = {HUGE_METHOD_LIMIT: "8000", **conf}
    for key, value in conf.items():
        builder = builder.config(key, value)
    shipped = geoip_files({**options, **conf})
    if shipped:
        builder = builder.config("spark.files", _append(options.get("spark.files"), shipped))
    return builder.config("spark.jars", _append(options.get("spark.jars"), bundled_jars())).config(
        "spark.sql.extensions", _append(options.get("spark.sql.extensions"), [EXTENSION_CLASS])
    )


def build_session(
    config: VsaConfig, app_name: str = "vsa", master: str | None = None
) -> SparkSession:
    """A SparkSession for a vsa job: vsa configured, quiet logs, UTC, few shuffle partitions
    unless ``config.spark_conf`` says otherwise, and in local mode ``file:`` paths through the
    jar's local file system (:func:`vsa.jvm.use_nio_local_file_system`)."""
    # Python workers run the driver's interpreter, which has vsa and its dependencies.
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    builder = SparkSession.builder.appName(app_name)
    # Under spark-submit the master is spark-submit's --master.
    if master or not (SparkSession.getActiveSession() or _submitted()):
        builder = builder.master(master or "local[2]")
    defaults = {
        "spark.sql.session.timeZone": "UTC",
        "spark.sql.shuffle.partitions": "4",
        "spark.ui.enabled": "false",
        "spark.ui.showConsoleProgress": "false",
        "spark.sql.streaming.forceDeleteTempCheckpointLocation": "true",
        # Each micro-batch plans a dozen table writes; with Spark's default of 100 generated
        # classes cached, a batch evicts what the next one needs and compiles it again.
        "spark.sql.codegen.cache.maxEntries": "1000",
        # The KPI tables aggregate sketches, which Spark's hash aggregation of objects holds
        # for at most 128 groups a task (its default) before it sorts every row and aggregates
        # again by sort: a batch of thousands of records has more (a minute times a dimension).
        "spark.sql.objectHashAggregate.sortBased.fallbackThreshold": "1024",
    }
    if not _submitted():  # spark-submit started the JVM already, with its own logging
        defaults["spark.driver.extraJavaOptions"] = f"-Dlog4j2.configurationFile={LOG4J_CONFIG}"
    for key, value in defaults.items():
        if key not in config.spark_conf:
            builder = builder.config(key, value)
    if _submitted():
        # configure_spark appends to spark-submit's --jars and --files instead of replacing them
        # (the builder's value would win, and executors would miss, e.g., hadoop-aws).
        for key, value in _submitted_conf(("spark.jars", "spark.files")).items():
            builder = builder.config(key, value)
    spark = configure_spark(builder, config).getOrCreate()
    spark.sparkContext.setLogLevel("WARN")
    # Without Hadoop's native library (pyspark has none), its local file system starts a `chmod`
    # process for every file it creates and a `readlink` for every rename of a log entry:
    # hundreds a micro-batch. The jar's does the same through java.nio (docs/performance.md).
    jvm.use_nio_local_file_system(spark)
    log.info("Spark %s, master %s", spark.version, spark.sparkContext.master)
    return spark


def _submitted() -> bool:
    """Whether this Python runs under spark-submit (which starts the JVM first and tells
    PySpark where its gateway is)."""
    return "PYSPARK_GATEWAY_PORT" in os.environ


def _submitted_conf(keys: tuple[str, ...]) -> dict[str, str]:
    """The values spark-submit gave ``keys``: the JVM it started holds them."""
    SparkContext._ensure_initialized()
    conf = SparkConf()
    return {key: conf.get(key) for key in keys if conf.contains(key)}


def use_viewer_secret(spark: SparkSession, config: VsaConfig) -> None:
    """Puts ``config.viewer_secret`` into the session's conf, where ``vsa_viewer_key`` reads it
    when a plan is resolved: the secret then never is a literal of a plan (Spark logs plans
    when a query fails). For a session built for another config, as a notebook's may be."""
    if config.viewer_secret:
        spark.conf.set(VIEWER_SECRET_KEY, config.viewer_secret)
