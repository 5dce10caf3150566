"""A Spark standalone cluster on loopback: one master and its workers, each a JVM started with
pyspark's own ``bin/spark-class``, each worker in a work folder of its own.

    python -m vsa.cluster --workdir .vsa/cluster      # prints the master URL; Ctrl-C stops it

It serves tests and trials of ``spark-submit --master spark://…`` on one machine; a real
cluster runs the same two classes on its hosts (docs/deploy.md).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

from pyspark.find_spark_home import _find_spark_home

from vsa.kafka.broker import free_port

MASTER_CLASS = "org.apache.spark.deploy.master.Master"
WORKER_CLASS = "org.apache.spark.deploy.worker.Worker"
MASTER_READY = "I have been elected leader"
WORKER_READY = "Successfully registered with master"
# The master and worker daemons only schedule; their default heap (1 GiB each) is far more
# than that needs on a shared machine.
DAEMON_MEMORY = "256m"
# And they favour a quick start over peak speed (as the local Kafka broker does).
DAEMON_JVM_FLAGS = "-XX:+UseSerialGC -XX:TieredStopAtLevel=1"


@dataclass
class LocalCluster:
    """A standalone master on 127.0.0.1 and ``workers`` workers of ``cores`` cores and
    ``memory`` each; logs and work folders under ``workdir``.

    Examples
    --------
    >>> cluster = LocalCluster(Path("/tmp/vsa-cluster"))  # doctest: +SKIP
    >>> cluster.start()  # doctest: +SKIP
    'spark://127.0.0.1:40123'
    """

    workdir: Path
    workers: int = 2
    cores: int = 1
    memory: str = "1g"
    port: int = field(default_factory=free_port)
    # Each daemon by its log file, in the order started.
    _daemons: dict[Path, subprocess.Popen] = field(default_factory=dict, init=False, repr=False)

    def __post_init__(self) -> None:
        self.workdir = Path(self.workdir).resolve()

    @property
    def master_url(self) -> str:
        return f"spark://127.0.0.1:{self.port}"

    def worker_dir(self, number: int) -> Path:
        """The work folder of worker ``number`` (from 1): its executors' folders and logs."""
        return self.workdir / f"worker-{number}"

    def start(self, timeout: float = 120.0) -> str:
        """Starts the master, then the workers (together); returns the master URL once every
        worker has registered. On failure (or Ctrl-C) every daemon started is stopped."""
        self.workdir.mkdir(parents=True, exist_ok=True)
        deadline = time.monotonic() + timeout
        try:
            # Web UIs on port 0: a free port each, so two clusters (or workers) never collide.
            master = ["--host", "127.0.0.1", "--port", str(self.port), "--webui-port", "0"]
            self._await(self._launch("master", MASTER_CLASS, master), MASTER_READY, deadline)
            workers = []
            for number in range(1, self.workers + 1):
                work = self.worker_dir(number)
                work.mkdir(exist_ok=True)
                args = [
                    *("--host", "127.0.0.1", "--webui-port", "0", "--work-dir", str(work)),
                    *("--cores", str(self.cores), "--memory", self.memory, self.master_url),
                ]
                workers.append(self._launch(f"worker-{number}", WORKER_CLASS, args))
            for log in workers:
                self._await(log, WORKER_READY, deadline)
        except BaseException:
            self.stop()
            raise
        return self.master_url

    def stop(self, timeout: float = 30.0) -> None:
        """Stops the workers, then the master (SIGTERM, then SIGKILL)."""
        for process in reversed(list(self._daemons.values())):
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)
            try:
                process.wait(timeout)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()
        self._daemons.clear()

    def __enter__(self) -> LocalCluster:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _launch(self, name: str, cls: str, args: list[str]) -> Path:
        """Runs ``spark-class cls args`` with its output in ``workdir/name.log``; returns the
        log."""
        spark_home = _find_spark_home()
        env = {
            **os.environ,
            "SPARK_HOME": spark_home,
            "SPARK_DAEMON_MEMORY": DAEMON_MEMORY,
            "SPARK_DAEMON_JAVA_OPTS": DAEMON_JVM_FLAGS,
            "SPARK_LOCAL_IP": "127.0.0.1",
        }
        log = self.workdir / f"{name}.log"
        with open(log, "w") as out:
            process = subprocess.Popen(
                [str(Path(spark_home) / "bin" / "spark-class"), cls, *args],
                stdout=out,
                stderr=subprocess.STDOUT,
                env=env,
                start_new_session=True,
            )
        self._daemons[log] = process
        return log

    def _await(self, log: Path, ready: str, deadline: float) -> None:
        """Waits until ``log`` shows ``ready``; raises if its daemon died first or the deadline
        passed."""
        process = self._daemons[log]
        while ready not in log.read_text(errors="replace"):
            if process.poll() is not None or time.monotonic() > deadline:
                tail = "\n".join(log.read_text(errors="replace").splitlines()[-30:])
                raise RuntimeError(f"Spark {log.stem} did not start; see {log}:\n{tail}")
            time.sleep(0.2)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m vsa.cluster", description=__doc__)
    parser.add_argument("--workdir", type=Path, default=Path(".vsa/cluster"))
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--cores", type=int, default=1, help="cores of each worker")
    parser.add_argument("--memory", default="1g", help="memory of each worker")
    parser.add_argument("--port", type=int, default=7077, help="the master's port")
    args = parser.parse_args(argv)
    cluster = LocalCluster(args.workdir, args.workers, args.cores, args.memory, args.port)
    # SIGTERM, like Ctrl-C, stops the daemons (they run in sessions of their own).
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    with cluster:
        print(f"{cluster.master_url} ({args.workers} workers; logs in {cluster.workdir})")
        with contextlib.suppress(KeyboardInterrupt):
            signal.pause()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
