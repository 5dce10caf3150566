"""No accepted record lost: `vsa collect` under load from a pool of threads, killed with
SIGKILL and started again, then its broker killed with SIGKILL and started again. Every CMCD
line of every request answered 2xx is in Kafka afterwards; while the broker is down, the
collector answers 503 with Retry-After and /healthz says so. The broker is this module's own
(it is killed), the collector a `vsa collect --port N` process."""

from __future__ import annotations

import http.client
import itertools
import os
import signal
import threading
import time
from collections.abc import Iterator

import pytest

from collect_support import Collector, cmcd_line, read_topic, request
from vsa.kafka import LocalKafka
from vsa.kafka.broker import free_port

# Every test here starts a broker and collectors of their own (docs/testing.md).
pytestmark = pytest.mark.e2e

TOPIC = "collect-durable"
THREADS = 12
LINES = 5


class Load:
    """Requests of :data:`LINES` CMCD lines each, from :data:`THREADS` threads, until stopped;
    every request's lines and its answer are kept."""

    def __init__(self, port: int, prefix: str) -> None:
        self.port, self.prefix = port, prefix
        self.results: list[tuple[list[bytes], int | None, str | None]] = []
        self._numbers = itertools.count()
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._threads = [threading.Thread(target=self._work) for _ in range(THREADS)]

    def __enter__(self) -> Load:
        for thread in self._threads:
            thread.start()
        return self

    def __exit__(self, *_) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join()

    def _work(self) -> None:
        while not self._stop.is_set():
            n = next(self._numbers)
            lines = [
                b'e=t,sid="%s-%d",sn=%d,ts=%d,v=2'
                % (self.prefix.encode(), n % 40, n * LINES + j, time.time_ns() // 1_000_000)
                for j in range(LINES)
            ]
            try:
                status, headers, _ = request(
                    self.port, "POST", "/cmcd", b"\n".join(lines), timeout=60
                )
            except (OSError, http.client.HTTPException):  # refused, reset, cut: collector down
                status, headers = None, {}
                time.sleep(0.05)
            with self._lock:
                self.results.append((lines, status, headers.get("retry-after")))

    def count(self, *statuses: int | None) -> int:
        with self._lock:
            return sum(status in statuses for _, status, _ in self.results)

    def wait_for(self, statuses: tuple[int | None, ...], more: int, timeout: float = 120) -> None:
        goal = self.count(*statuses) + more
        deadline = time.monotonic() + timeout
        while self.count(*statuses) < goal:
            assert time.monotonic() < deadline, f"no {more} more {statuses} in {timeout} s"
            time.sleep(0.05)

    def accepted(self) -> set[bytes]:
        return {line for lines, status, _ in self.results if status == 200 for line in lines}

    def sent(self) -> set[bytes]:
        return {line for lines, _, _ in self.results for line in lines}


@pytest.fixture(scope="module")
def broker(tmp_path_factory) -> Iterator[LocalKafka]:
    node = LocalKafka(tmp_path_factory.mktemp("kafka-durable"), port=free_port())
    node.start()
    node.create_topic(TOPIC, partitions=2)
    yield node
    node.stop()


@pytest.fixture(scope="module")
def collector(broker, tmp_path_factory) -> Iterator[Collector]:
    folder = tmp_path_factory.mktemp("collect-durable")
    path = folder / "vsa.toml"
    path.write_text(
        f'kafka_bootstrap_servers = "{broker.bootstrap_servers}"\n'
        f'player_events_topic = "{TOPIC}"\n'
        'cdn_logs_topic = ""\n'
        "collect_delivery_timeout_seconds = 5\n"
        "collect_retry_after_seconds = 2\n"
        "collect_progress_seconds = 2\n"
    )
    service = Collector(path, free_port(), folder / "collect.log")
    service.start()
    yield service
    service.stop()


def kill_broker(broker: LocalKafka) -> None:
    pid = int(broker.pid_file.read_text())
    os.killpg(pid, signal.SIGKILL)
    deadline = time.monotonic() + 30
    while broker.is_running() and time.monotonic() < deadline:
        time.sleep(0.05)


def test_kill_9_of_the_collector_under_load_loses_no_accepted_record(collector, broker):
    with Load(collector.port, "kill-collector") as load:
        load.wait_for((200,), 1000)
        collector.kill()
        load.wait_for((None,), 20)
        collector.start()
        load.wait_for((200,), 1000)
    in_kafka = {cmcd_line(m.value()) for m in read_topic(broker.bootstrap_servers, TOPIC)}
    accepted = load.accepted()
    assert len(accepted) >= 2000 * LINES
    assert accepted - in_kafka == set()
    # Nothing that was not sent.
    assert {v for v in in_kafka if b"kill-collector" in v} <= load.sent()


def test_kill_9_of_the_broker_under_load_gets_503_and_loses_no_accepted_record(collector, broker):
    with Load(collector.port, "kill-broker") as load:
        load.wait_for((200,), 1000)
        kill_broker(broker)
        load.wait_for((503,), 20, timeout=60)
        status, headers, _ = request(collector.port, "GET", "/healthz")
        assert (status, headers["retry-after"]) == (503, "2")
        broker.start()
        load.wait_for((200,), 1000)
    answers = [(status, retry) for _, status, retry in load.results if status not in (200,)]
    assert answers and {retry for status, retry in answers if status == 503} == {"2"}
    assert {status for status, _ in answers} <= {503, 429}
    in_kafka = {cmcd_line(m.value()) for m in read_topic(broker.bootstrap_servers, TOPIC)}
    accepted = load.accepted()
    assert accepted - in_kafka == set()
    assert len(accepted & {v for v in in_kafka if b"kill-broker" in v}) >= 2000 * LINES
