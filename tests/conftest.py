"""Shared fixtures: one real SparkSession and one real Kafka broker per test session."""

from __future__ import annotations

import io
import json
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from pyspark.sql import SparkSession

from real_player import RealPlayer
from third_party import third_party_data
from vsa import generate, pipeline
from vsa.config import VsaConfig
from vsa.kafka import LocalKafka, produce
from vsa.progress import Progress
from vsa.sinks import RunResult
from vsa.spark_session import build_session

PROJECT_ROOT = Path(__file__).resolve().parents[1]

# A test that asks for one of these (itself or through another fixture) stands up a Kafka broker,
# a streaming run or the real player: it is end to end (marker `e2e`, docs/testing.md). A test
# that starts such a thing by itself carries the marker in its module.
END_TO_END_FIXTURES = frozenset({"kafka", "streamed", "real_player"})


# The modules whose runs take longest, queued first: under pytest-xdist (`--dist loadfile`, each
# module on one worker) no worker is then left with one of them while the others are done
# (docs/testing.md).
LONGEST_FIRST = (
    "test_truth_crosscheck",
    "test_clocks",
    "test_crash",
    "test_fusion",
    "test_cluster",
    "test_demo",  # a whole `vsa demo` in a subprocess
)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if END_TO_END_FIXTURES.intersection(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.e2e)

    # The longest modules, then the other end-to-end tests, then the rest (a stable sort: each
    # module's tests keep their order).
    def rank(item: pytest.Item) -> tuple[int, bool]:
        module = Path(item.nodeid.split("::")[0]).stem
        longest = LONGEST_FIRST.index(module) if module in LONGEST_FIRST else len(LONGEST_FIRST)
        return longest, item.get_closest_marker("e2e") is None

    items.sort(key=rank)


@pytest.fixture(scope="session")
def third_party() -> Path:
    """The vendored third-party test data (tests/data/third_party/README.md)."""
    path = third_party_data()
    if not (path / "uap").is_dir():
        pytest.fail(f"third-party test data not found at {path} (tests/data/third_party/README.md)")
    return path


@pytest.fixture(scope="session")
def real_player(tmp_path_factory: pytest.TempPathFactory) -> RealPlayer:
    """The real-player harness (tests/real_player.py), its stream made once per session."""
    try:
        return RealPlayer(tmp_path_factory.mktemp("real-player"))
    except FileNotFoundError as missing:
        pytest.fail(str(missing))


@pytest.fixture(scope="session")
def spark(third_party: Path) -> Iterator[SparkSession]:
    config = VsaConfig(
        geoip_city_db=str(third_party / "mmdb" / "GeoIP2-City-Test.mmdb"),
        geoip_asn_db=str(third_party / "mmdb" / "GeoLite2-ASN-Test.mmdb"),
        spark_conf={"spark.sql.shuffle.partitions": "2", "spark.ui.showConsoleProgress": "false"},
    )
    session = build_session(config, app_name="vsa-tests", master="local[2]")
    yield session
    session.stop()


@pytest.fixture(scope="session")
def kafka(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalKafka]:
    """A real single-node Kafka (KRaft) on free loopback ports, removed after the session.

    The modules a worker runs share it, so a topic belongs to the module that created it: a
    second module creating the same name would silently read the first one's records."""
    broker = LocalKafka(tmp_path_factory.mktemp("kafka"))
    broker.start()
    owners: dict[str, str] = {}
    create = broker.create_topic

    def create_topic(topic: str, partitions: int = 1) -> None:
        module = os.environ.get("PYTEST_CURRENT_TEST", "").split("::")[0]
        if owners.setdefault(topic, module) != module:
            raise AssertionError(f"topic {topic!r} is {owners[topic]}'s: name one of {module}'s")
        create(topic, partitions)

    broker.create_topic = create_topic  # type: ignore[method-assign]
    yield broker
    broker.stop()


def flush_event(records: list[tuple[str, str]], config: VsaConfig, partition: int = 0) -> str:
    """An event far enough ahead to move a partition's watermark past every view's timeout
    (the job's watermark follows the slowest partition: flush each, :func:`flush`)."""
    last = max(json.loads(v)["ts"] for _, v in records)
    ahead = (config.view_timeout_seconds + config.watermark_seconds + 120) * 1000
    event = {
        "event_id": f"flush-{partition}",
        "event_type": "heartbeat",
        "ts": last + ahead,
        "session_id": f"__flush__{partition}",
    }
    return json.dumps(event)


def flush(
    spark, config: VsaConfig, records: list[tuple[str, str]], partitions: int = 2
) -> list[str]:
    """Sends :func:`flush_event` to each of ``config.player_events_topic``'s partitions;
    returns the events sent."""
    sent = []
    for partition in range(partitions):
        event = flush_event(records, config, partition)
        produce(
            spark,
            config.kafka_bootstrap_servers,
            config.player_events_topic,
            [(None, event)],
            partition=partition,
        )
        sent.append(event)
    return sent


# Records that are no event: the shared run's dead letters.
MALFORMED = [("bad", "{not json"), ("bad", "[]")]


@dataclass
class StreamedRun:
    """One generated data set (and :data:`MALFORMED`), sent through Kafka and the whole
    streaming job, with the job's progress lines."""

    config: VsaConfig
    records: list[tuple[str, str]]  # the valid events sent, the flush events last
    result: RunResult
    workdir: Path
    progress: Progress  # the listener that watched the run
    progress_lines: list[str]


@pytest.fixture(scope="session")
def streamed(spark, kafka, tmp_path_factory) -> StreamedRun:
    """The test session's one streaming run of generated traffic (docs/testing.md): read it,
    do not change it (copy it first)."""
    out = tmp_path_factory.mktemp("streamed")
    topic = "player-events-streamed"
    config = VsaConfig(
        kafka_bootstrap_servers=kafka.bootstrap_servers,
        player_events_topic=topic,
        output_root=str(out / "stream"),
    )
    records = list(
        generate.generate(
            generate.Traffic(sessions=60, seed=21, start_ms=1764000000000, span_s=300)
        )
    )
    produce(spark, kafka.bootstrap_servers, topic, records + MALFORMED)
    records += [(None, event) for event in flush(spark, config, records)]
    (out / "events.jsonl").write_text("\n".join(v for _, v in records) + "\n")
    lines = io.StringIO()
    progress = Progress.attach(spark, out=lines, live=True)
    try:
        result = pipeline.run_until_caught_up(spark, config, on_batch=progress.record)
        # Listener events arrive asynchronously: wait for the bus to drain.
        spark.sparkContext._jsc.sc().listenerBus().waitUntilEmpty()
    finally:
        spark.streams.removeListener(progress)
    return StreamedRun(config, records, result, out, progress, lines.getvalue().splitlines())
