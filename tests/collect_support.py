"""What the collector's tests share: a `vsa collect` process, HTTP over loopback, and a real
Kafka consumer that reads a topic back whole."""

from __future__ import annotations

import http.client
import json
import os
import subprocess
import sys
import time
import uuid
from pathlib import Path

from confluent_kafka import Consumer, Message, TopicPartition

from conftest import PROJECT_ROOT


class Collector:
    """``vsa collect --port N --config FILE`` in a process of its own."""

    def __init__(self, config: Path, port: int, log: Path) -> None:
        self.config, self.port, self.log = config, port, log
        self.process: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = 60.0) -> None:
        env = {k: v for k, v in os.environ.items() if not k.startswith("VSA_")}
        with open(self.log, "ab") as out:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "vsa", "collect", "--port", str(self.port)]
                + ["--config", str(self.config)],
                stdout=out,
                stderr=subprocess.STDOUT,
                cwd=PROJECT_ROOT,
                env=env,
            )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"vsa collect exited: {self.log.read_text()[-3000:]}")
            try:
                if request(self.port, "GET", "/healthz", timeout=5)[0] == 200:
                    return
            except OSError:
                pass
            time.sleep(0.2)
        raise TimeoutError(f"vsa collect not ready: {self.log.read_text()[-3000:]}")

    def stop(self) -> int | None:
        """SIGTERM, as a supervisor stops it; its exit code."""
        if self.process is None:
            return None
        if self.process.poll() is None:
            self.process.terminate()
        return self.process.wait(30)

    def kill(self) -> None:
        assert self.process is not None
        self.process.kill()
        self.process.wait(30)


def request(
    port: int,
    method: str,
    path: str,
    body: bytes | None = None,
    headers: dict[str, str] | None = None,
    timeout: float = 30.0,
) -> tuple[int, dict[str, str], bytes]:
    """One HTTP request to 127.0.0.1:``port``: the status, the headers (lower-case names) and
    the body of the answer."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        connection.request(method, path, body=body, headers=headers or {})
        answer = connection.getresponse()
        return answer.status, {k.lower(): v for k, v in answer.getheaders()}, answer.read()
    finally:
        connection.close()


def read_topic(servers: str, topic: str, options: dict[str, str] | None = None) -> list[Message]:
    """Every record ``topic`` holds now, in partition and offset order."""
    consumer = Consumer(
        {
            "bootstrap.servers": servers,
            "group.id": f"vsa-test-{uuid.uuid4()}",
            "enable.auto.commit": False,
            **(options or {}),
        }
    )
    try:
        metadata = consumer.list_topics(topic, timeout=30).topics[topic]
        if metadata.error is not None:
            return []
        records: list[Message] = []
        for partition in sorted(metadata.partitions):
            low, high = consumer.get_watermark_offsets(TopicPartition(topic, partition), 30)
            if high <= low:
                continue
            consumer.assign([TopicPartition(topic, partition, low)])
            got: list[Message] = []
            deadline = time.monotonic() + 60
            while len(got) < high - low and time.monotonic() < deadline:
                for message in consumer.consume(1000, timeout=1):
                    if message.error() is None:
                        got.append(message)
            records += got
        return records
    finally:
        consumer.close()


def headers_of(message: Message) -> dict[str, str]:
    return {name: value.decode() for name, value in message.headers() or []}


def cmcd_line(value: bytes) -> bytes:
    """The CMCD line a player-topic record carries: its envelope's ``cmcd``, or the value as
    written (a line that is not UTF-8 has no envelope)."""
    if value.startswith(b'{"cmcd":'):
        return json.loads(value)["cmcd"].encode()
    return value
