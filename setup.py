"""Builds the vsa-spark jar (and the Kafka connector jars) into the package before packaging,
so `pip wheel .` gives a wheel that works with no download at run time."""

import subprocess
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

ROOT = Path(__file__).resolve().parent


class BuildPyWithJars(build_py):
    def run(self) -> None:
        if not list((ROOT / "python" / "vsa" / "jars").glob("vsa-spark_*.jar")):
            subprocess.run([str(ROOT / "bin" / "sbt"), "bundleJars"], cwd=ROOT, check=True)
        super().run()


setup(cmdclass={"build_py": BuildPyWithJars})
