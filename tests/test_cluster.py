"""The streaming job on a real Spark standalone cluster (a master and two workers on loopback,
``vsa.cluster``), submitted with ``spark-submit``, writes the very tables of a ``local[2]`` run
of the same events; the GeoIP databases reach the executors through ``spark.files``."""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest
from pyspark.sql import functions as F

import vsa
from conftest import flush
from vsa import functions as vf
from vsa import generate, pipeline
from vsa.cluster import LocalCluster
from vsa.config import GEOIP_ASN_DB_KEY, GEOIP_CITY_DB_KEY, VsaConfig, embedded_city_db
from vsa.kafka import produce
from vsa.kpis.live import COUNTS as LIVE_COUNTS
from vsa.kpis.live import DIMENSIONS as LIVE_DIMENSIONS
from vsa.sinks import read_table
from vsa.spark_session import EXTENSION_CLASS, bundled_jars
from vsa.tables import TABLES

# Every test here starts a standalone Spark cluster and spark-submit (docs/testing.md).
pytestmark = pytest.mark.e2e

T0 = 1_764_000_000_000  # 2025-11-24 16:00:00 UTC
# Processing time: when the record was received, not what it says.
VOLATILE = {"received_at", "date", "hour"}
# A sketch merged in another order holds other bytes for the same contents: what it says is
# compared (the distinct count; the number of startups and their deciles).
SKETCHES = {
    "unique_viewers_sketch": vf.sketch_estimate,
    "startup_time_sketch": lambda sketch: F.when(
        F.kll_sketch_get_n_bigint(sketch) > 0,
        F.array(
            F.kll_sketch_get_n_bigint(sketch),
            *(F.kll_sketch_get_quantile_bigint(sketch, F.lit(d / 10)) for d in range(11)),
        ),
    ),
}
MALFORMED = ["{not json", '{"event_type": "heartbeat"}', "[1, 2]"]


def submit(master: str, config_file: Path, cwd: Path) -> subprocess.CompletedProcess:
    """``spark-submit --master MASTER --jars <bundled> vsa run --available-now``, the documented
    command (docs/deploy.md), run in ``cwd``; ``--files`` ships the config file too, so a test
    sees that vsa's ``spark.files`` adds to spark-submit's instead of replacing it."""
    entry = Path(vsa.__file__).parent / "__main__.py"
    env = {
        **os.environ,
        "PYSPARK_PYTHON": sys.executable,
        "PYSPARK_DRIVER_PYTHON": sys.executable,
        "SPARK_LOCAL_IP": "127.0.0.1",
    }
    return subprocess.run(
        [
            str(Path(sys.executable).parent / "spark-submit"),
            *("--master", master, "--jars", ",".join(bundled_jars()), "--files", str(config_file)),
            *("--conf", f"spark.sql.extensions={EXTENSION_CLASS}"),
            *("--conf", "spark.ui.enabled=false"),
            *(str(entry), "run", "--available-now", "--config", str(config_file)),
        ],
        capture_output=True,
        text=True,
        env=env,
        cwd=cwd,
        timeout=600,
    )


def table_rows(spark, config: VsaConfig, table: str) -> list[str]:
    """Every row of ``table`` but its processing-time columns, sketches by what they say,
    sorted; ``live`` added up per tick."""
    df = read_table(spark, config, table)
    if table == "live":  # provisional parts of each batch: what they add up to
        df = df.groupBy("tick", *LIVE_DIMENSIONS).agg(*[F.sum(c).alias(c) for c in LIVE_COUNTS])
    columns = [
        SKETCHES[c](c).alias(c) if c in SKETCHES else c for c in sorted(set(df.columns) - VOLATILE)
    ]
    return sorted(repr(row) for row in df.select(*columns).collect())


@pytest.fixture
def cluster(tmp_path) -> LocalCluster:
    with LocalCluster(tmp_path / "spark", workers=2, cores=1, memory="1g") as running:
        yield running


def test_a_standalone_cluster_writes_the_tables_of_a_local_run(
    spark, kafka, third_party, cluster, tmp_path
):
    topic = "player-events-cluster"
    kafka.create_topic(topic, partitions=2)
    # The City database is the embedded default (an absolute path); the ASN database a path
    # relative to the driver's folder, which no executor can open but as its spark.files copy.
    asn = third_party / "mmdb" / "GeoLite2-ASN-Test.mmdb"
    driver_dir = tmp_path / "driver"
    driver_dir.mkdir()
    (driver_dir / asn.name).symlink_to(asn)
    on_cluster = VsaConfig(
        kafka_bootstrap_servers=kafka.bootstrap_servers,
        player_events_topic=topic,
        cdn_logs_topic="",
        output_root=str(tmp_path / "cluster"),
        max_offsets_per_trigger=400,
        geoip_asn_db=asn.name,
    )
    records = list(
        generate.generate(generate.Traffic(sessions=20, seed=17, start_ms=T0, span_s=300))
    )
    produce(spark, kafka.bootstrap_servers, topic, records)
    flush(spark, on_cluster, records)
    produce(spark, kafka.bootstrap_servers, topic, [(None, bad) for bad in MALFORMED])
    config_file = tmp_path / "vsa.toml"
    config_file.write_text(
        f'kafka_bootstrap_servers = "{kafka.bootstrap_servers}"\n'
        f'player_events_topic = "{topic}"\n'
        'cdn_logs_topic = ""\n'
        f'output_root = "{on_cluster.output_root}"\n'
        "max_offsets_per_trigger = 400\n"
        f'geoip_asn_db = "{asn.name}"\n'
        '[spark_conf]\n"spark.sql.shuffle.partitions" = 2\n'
    )

    done = submit(cluster.master_url, config_file, cwd=driver_dir)

    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert f"master {cluster.master_url}" in done.stdout
    # Both workers ran executors, and each executor got both databases and spark-submit's file.
    executor_dirs = [d for n in (1, 2) for d in cluster.worker_dir(n).glob("app-*/*")]
    assert len(executor_dirs) == 2, executor_dirs
    for folder in executor_dirs:
        shipped = {f.name for f in folder.iterdir()}
        assert {"GeoLite2-City.mmdb", asn.name, config_file.name} <= shipped, folder

    # The same events through the same job in local[2], with the same databases.
    local = replace(on_cluster, output_root=str(tmp_path / "local"), geoip_asn_db=str(asn))
    session = spark.newSession()
    session.conf.set(GEOIP_CITY_DB_KEY, embedded_city_db())
    session.conf.set(GEOIP_ASN_DB_KEY, str(asn))
    result = pipeline.run_until_caught_up(session, local)

    compared = set()
    for table in (t.name for t in TABLES):
        written = [Path(c.table_path(table)).is_dir() for c in (on_cluster, local)]
        assert written[0] == written[1], table
        if not written[1] or not result.rows_written.get(table):
            continue
        assert table_rows(spark, on_cluster, table) == table_rows(spark, local, table), table
        compared.add(table)
    assert {"player_events", "dead_letter", "view_slices", "views", "kpi_minute"} <= compared
    # The embedded City database located viewers on the cluster's executors.
    located = read_table(spark, on_cluster, "player_events").where("country IS NOT NULL")
    assert located.count() > 0
