"""The local broker's command line: start, status, stop, with real processes."""

from __future__ import annotations

import subprocess
import sys
import time

from vsa.kafka.broker import free_port


def vsa_kafka(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "vsa.kafka", *args], capture_output=True, text=True, timeout=120
    )


def test_start_status_stop(tmp_path):
    port = str(free_port())
    where = ["--data-dir", str(tmp_path / "kafka"), "--port", port]
    assert vsa_kafka("status", *where).returncode == 3

    began = time.monotonic()
    started = vsa_kafka("start", *where)
    elapsed = time.monotonic() - began
    assert started.returncode == 0, started.stderr
    assert f"Kafka up at 127.0.0.1:{port}" in started.stdout
    print(f"broker start (command, incl. storage format): {elapsed:.1f} s")
    try:
        status = vsa_kafka("status", *where)
        assert status.returncode == 0 and "running" in status.stdout
        # Starting again is harmless: the running broker is reused.
        assert vsa_kafka("start", *where).returncode == 0
    finally:
        stopped = vsa_kafka("stop", *where)
    assert stopped.stdout.strip() == "stopped"
    assert vsa_kafka("status", *where).returncode == 3
    # Its data survives a restart.
    assert vsa_kafka("start", *where).returncode == 0
    assert vsa_kafka("stop", *where).stdout.strip() == "stopped"


def test_a_taken_port_is_a_clear_error(tmp_path, kafka):
    taken = vsa_kafka("start", "--data-dir", str(tmp_path / "k"), "--port", str(kafka.port))
    assert taken.returncode != 0
    assert f"port {kafka.port} is taken" in taken.stderr
