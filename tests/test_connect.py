"""vsa's functions from a Spark Connect client: a local Connect server (the one pyspark ships,
started with spark-submit) with vsa's jars and extension, asked by a client in its own process
(PySpark allows no classic and Connect session side by side), and the answers compared with a
classic session's."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from vsa import functions as vf
from vsa.config import GEOIP_CITY_DB_KEY
from vsa.kafka.broker import free_port
from vsa.spark_session import EXTENSION_CLASS, bundled_jars

# Every test here starts a Spark Connect server (docs/testing.md).
pytestmark = pytest.mark.e2e

CONNECT_SERVER = "org.apache.spark.sql.connect.service.SparkConnectServer"
UA_IPAD = (
    "Mozilla/5.0 (iPad; CPU OS 16_6 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
    "Version/16.6 Mobile/15E148 Safari/604.1"
)
# Each case: its name, one input value, the expression over column "a" (Python source, so the
# client process builds the same expression).
CASES = {
    "parse_user_agent": (UA_IPAD, "vf.parse_user_agent('a')"),
    "mask_ip": ("81.2.69.142", "vf.mask_ip('a')"),
    "geo_lookup": ("81.2.69.142", "vf.geo_lookup('a')"),
    "viewer_key": ("viewer-1", "vf.viewer_key('a', 'secret')"),
    "sketch_estimate": ("viewer-1", "vf.sketch_estimate(vf.viewer_sketch('a'))"),
}
CLIENT = """
import json, sys
from pyspark.sql import SparkSession
from vsa import functions as vf

spark = SparkSession.builder.remote(sys.argv[1]).getOrCreate()
cases = json.loads(sys.argv[2])
answers = {"session": type(spark).__module__}
for name, (value, expression) in cases.items():
    row = spark.createDataFrame([(value,)], ["a"]).select(eval(expression).alias("r")).first()
    answers[name] = row.asDict(recursive=True)["r"]
answers["sql"] = spark.sql("SELECT vsa_parse_ua('Roku/DVP-12.5').device_type AS t").first()["t"]
print(json.dumps(answers))
"""


@pytest.fixture(scope="module")
def connect_url(third_party: Path, tmp_path_factory) -> Iterator[str]:
    port = free_port()
    log = tmp_path_factory.mktemp("connect") / "server.log"
    server = subprocess.Popen(
        [
            str(Path(sys.executable).parent / "spark-submit"),
            "--class",
            CONNECT_SERVER,
            "--master",
            "local[1]",
            "--jars",
            ",".join(bundled_jars()),
            "--conf",
            f"spark.sql.extensions={EXTENSION_CLASS}",
            "--conf",
            f"{GEOIP_CITY_DB_KEY}={third_party / 'mmdb' / 'GeoIP2-City-Test.mmdb'}",
            "--conf",
            f"spark.connect.grpc.binding.port={port}",
            "--conf",
            "spark.connect.grpc.binding.address=127.0.0.1",
            "--conf",
            "spark.ui.enabled=false",
            "--conf",
            "spark.sql.session.timeZone=UTC",
        ],
        stdout=log.open("w"),
        stderr=subprocess.STDOUT,
        env={**os.environ, "PYSPARK_PYTHON": sys.executable},
        start_new_session=True,  # its own process group, so stopping it ends its JVM too
    )
    try:
        _wait_for_port(port, server, log)
        yield f"sc://127.0.0.1:{port}"
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=60)


def _wait_for_port(port: int, server: subprocess.Popen, log: Path, timeout: float = 240) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.poll() is not None:
            pytest.fail(f"Connect server exited: {log.read_text()[-2000:]}")
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(1)
    pytest.fail(f"Connect server not listening after {timeout} s: {log.read_text()[-2000:]}")


@pytest.fixture(scope="module")
def remote_answers(connect_url: str) -> dict:
    done = subprocess.run(
        [sys.executable, "-c", CLIENT, connect_url, json.dumps(CASES)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_the_client_session_is_spark_connect(remote_answers):
    assert remote_answers["session"].startswith("pyspark.sql.connect")
    assert remote_answers["sql"] == "tv"


@pytest.mark.parametrize("name", CASES)
def test_function_from_a_connect_client(remote_answers, spark, name):
    value, expression = CASES[name]
    column = eval(expression, {"vf": vf})
    row = spark.createDataFrame([(value,)], ["a"]).select(column.alias("r")).first()
    expected = row.asDict(recursive=True)["r"]
    assert remote_answers[name] is not None
    assert remote_answers[name] == expected


def test_geo_lookup_reads_the_servers_database(remote_answers):
    assert remote_answers["geo_lookup"]["country"] == "GB"
    assert remote_answers["geo_lookup"]["city"] == "London"
