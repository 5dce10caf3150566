"""The local broker: its command line (start, status, stop), its ports, and what stop()
signals, with real processes."""

from __future__ import annotations

import logging
import socket
import subprocess
import sys
import time

import pytest

from vsa.kafka import LocalKafka
from vsa.kafka import broker as broker_module
from vsa.kafka.broker import free_port

# Starts and stops of one broker with a forced port repeat each time.
RESTARTS = 10


def vsa_kafka(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "vsa.kafka", *args], capture_output=True, text=True, timeout=120
    )


@pytest.mark.e2e  # starts brokers of its own
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


def second_pick_repeats_the_first(monkeypatch) -> list[int]:
    """Makes the second port pick of each choice of ports return the first pick's port (as
    two pick-and-close calls can); returns the ports so repeated."""
    real = broker_module._pick_port
    first_picks: dict[int, int] = {}  # by the choice's held sockets
    repeated: list[int] = []

    def pick(held):
        if id(held) in first_picks:
            repeated.append(first_picks.pop(id(held)))
            return repeated[-1]
        first_picks[id(held)] = real(held)
        held.callback(first_picks.pop, id(held), None)
        return first_picks[id(held)]

    monkeypatch.setattr(broker_module, "_pick_port", pick)
    return repeated


@pytest.mark.e2e  # starts brokers of its own
def test_the_broker_and_its_controller_never_get_one_port(tmp_path, monkeypatch):
    """Each start of the loop meets a forced repeat and starts all the same."""
    repeated = second_pick_repeats_the_first(monkeypatch)
    broker = LocalKafka(tmp_path / "kafka")
    began = time.monotonic()
    for start in range(1, RESTARTS + 1):
        assert broker.start() == broker.bootstrap_servers
        assert broker.port != broker.controller_port
        assert len(repeated) == start
        assert broker.stop()
    elapsed = time.monotonic() - began
    print(f"{RESTARTS} starts and stops, each past a repeated port: {elapsed:.0f} s")


@pytest.mark.e2e  # starts brokers of its own
def test_a_start_on_a_port_taken_since_it_was_picked_runs_on_fresh_ports(
    tmp_path, monkeypatch, caplog
):
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", 0))
        squatter.listen()
        taken = squatter.getsockname()[1]
        real = broker_module._pick_port
        first = iter([taken])  # the first pick: a port another process holds by the start
        monkeypatch.setattr(broker_module, "_pick_port", lambda held: next(first, 0) or real(held))
        broker = LocalKafka(tmp_path / "kafka")
        with caplog.at_level(logging.INFO, logger="vsa.kafka.broker"):
            broker.start()
        try:
            assert taken not in (broker.port, broker.controller_port)
            assert f"start 1: port {taken} was taken; again on fresh ports" in caplog.messages
        finally:
            broker.stop()


def test_a_given_port_taken_is_an_error_not_a_retry(tmp_path):
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", 0))
        squatter.listen()
        taken = squatter.getsockname()[1]
        with pytest.raises(RuntimeError, match=f"port {taken} is taken by another process"):
            LocalKafka(tmp_path / "kafka", controller_port=taken).start()


def test_stop_signals_no_process_but_this_broker(tmp_path, kafka):
    """A stale kafka.pid names another process (the number reused): stop leaves it alone."""
    unrelated = subprocess.Popen(["sleep", "60"], start_new_session=True)
    try:
        for pid in (unrelated.pid, kafka._running_pid()):
            broker = LocalKafka(tmp_path / f"stale-{pid}", port=kafka.port)
            broker.data_dir.mkdir()
            broker.pid_file.write_text(str(pid))
            assert not broker.is_running()
            assert broker.stop() is False
            assert not broker.pid_file.exists()
        time.sleep(0.5)
        assert unrelated.poll() is None, "stop() signalled an unrelated process"
        assert kafka.is_running(), "stop() signalled another broker"
    finally:
        unrelated.kill()
        unrelated.wait()


def test_a_broker_of_a_running_node_s_folder_finds_its_ports(kafka):
    """The session's broker picked its ports; another LocalKafka of its folder reuses it."""
    again = LocalKafka(kafka.data_dir)
    assert again.start() == kafka.bootstrap_servers
    assert (again.port, again.controller_port) == (kafka.port, kafka.controller_port)
    assert again._running_pid() == kafka._running_pid()
