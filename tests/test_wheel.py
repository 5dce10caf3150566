"""`pip wheel .` gives a wheel that carries the jars and works on its own in a fresh venv."""

from __future__ import annotations

import re
import subprocess
import sys
import sysconfig
import textwrap
import venv
import zipfile
from pathlib import Path

import pytest

from conftest import PROJECT_ROOT

# Every test here starts a wheel build and a fresh virtual environment (docs/testing.md).
pytestmark = pytest.mark.e2e

CHECK = textwrap.dedent(
    """
    import vsa, sys
    from pyspark.sql import SparkSession
    assert vsa.__file__.startswith(sys.prefix), vsa.__file__  # the wheel's copy, not the tree's
    spark = vsa.configure_spark(
        SparkSession.builder.master("local[1]").config("spark.ui.enabled", "false")
    ).getOrCreate()
    ua = "Mozilla/5.0 (X11; Linux x86_64; rv:120.0) Gecko/20100101 Firefox/120.0"
    row = spark.sql(f"SELECT vsa_parse_ua('{ua}') AS p").first().p
    print(row.browser_family, row.os_family, row.device_type)
    # The Kafka source resolves from the bundled connector jars, with no --packages download.
    kafka = (spark.read.format("kafka").option("kafka.bootstrap.servers", "127.0.0.1:1")
             .option("subscribe", "t").load())
    print(",".join(kafka.columns))
    """
)


def test_wheel_installs_alone_and_works(tmp_path):
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(tmp_path), "."],
        cwd=PROJECT_ROOT,
        check=True,
    )
    (wheel,) = tmp_path.glob("vsa-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    assert any(n.startswith("vsa/jars/vsa-spark_2.13-") for n in names)
    assert any(n.startswith("vsa/jars/spark-sql-kafka-0-10_2.13-") for n in names)
    assert "vsa/log4j2.properties" in names
    # What `pip install vsa` pulls: only what the library imports; the independent parsers the
    # tests compare against (user-agents, geoip2, maxminddb) come with the test/bench extras.
    (metadata,) = [n for n in names if n.endswith(".dist-info/METADATA")]
    requires = [
        line.removeprefix("Requires-Dist:").strip()
        for line in zipfile.ZipFile(wheel).read(metadata).decode().splitlines()
        if line.startswith("Requires-Dist:")
    ]
    runtime = {re.split(r"[<>=!~; \[]", r)[0].lower() for r in requires if "extra ==" not in r}
    assert runtime == {"pyspark", "py4j", "maxminddb-geolite2"}
    assert any(r.startswith("user-agents") and 'extra == "test"' in r for r in requires)

    # A fresh venv that sees pyspark & co. through a .pth but not the source tree's vsa.
    env_dir = tmp_path / "venv"
    venv.create(env_dir, with_pip=True)
    python = env_dir / "bin" / "python"
    site = subprocess.run(
        [python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    Path(site, "deps.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    subprocess.run([python, "-m", "pip", "install", "-q", "--no-deps", str(wheel)], check=True)

    out = subprocess.run([python, "-c", CHECK], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-3000:]
    lines = out.stdout.strip().splitlines()
    assert lines[-2] == "Firefox Linux desktop"
    assert lines[-1].split(",")[:3] == ["key", "value", "topic"]
