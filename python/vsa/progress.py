"""What a running job tells its operator: a line per micro-batch, and a summary at the end.

:class:`Progress` is a ``StreamingQueryListener``: Spark calls it after every micro-batch of
every query of the session. On a terminal it prints one line per batch; otherwise (a service,
a pipe, CI) it logs the same line through :mod:`logging` at INFO, so nothing writes to a
stdout nobody reads. :func:`summary` is what ``vsa run``, ``vsa batch`` and ``vsa rollup``
print when they finish.
"""

from __future__ import annotations

import logging
import socket
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TextIO

from pyspark.sql import SparkSession
from pyspark.sql import functions as F
from pyspark.sql.streaming import StreamingQueryListener
from pyspark.sql.utils import AnalysisException

from vsa.config import VsaConfig

log = logging.getLogger(__name__)


@dataclass
class Totals:
    """What the listener has seen since it was added, summed over micro-batches."""

    batches: int = 0
    rows_written: dict[str, int] = field(default_factory=dict)
    late_events: int = 0


class Progress(StreamingQueryListener):
    """Reports each micro-batch of the job's query: its input and processing rates, its
    watermark, the rows it wrote (all tables), the events it dead-lettered as late, the dead
    letters written so far, the rows held in its state.

    Parameters
    ----------
    out
        Where the lines go when ``live``; defaults to ``sys.stdout``.
    live
        Print the lines (True) or log them at INFO (False); defaults to whether ``out`` is a
        terminal.
    kafka_servers
        The job's bootstrap servers: while a query runs, a :class:`KafkaWatch` reports when
        they stop answering, and when they answer again.

    ``Progress.attach(spark)`` adds one to a session. The job's writer reports what each
    batch wrote to :meth:`record` (``vsa.pipeline.start``'s ``on_batch``); ``totals`` sums it.
    """

    def __init__(
        self, out: TextIO | None = None, live: bool | None = None, kafka_servers: str | None = None
    ) -> None:
        self.out = out or sys.stdout
        self.live = self.out.isatty() if live is None else live
        self.totals = Totals()
        self._batch: dict[int, tuple[int, int]] = {}
        self._lock = threading.Lock()
        self._watch = KafkaWatch(kafka_servers, self.say) if kafka_servers else None

    @classmethod
    def attach(cls, spark: SparkSession, **kwargs: object) -> Progress:
        """A new listener, added to ``spark``'s streaming queries."""
        progress = cls(**kwargs)  # type: ignore[arg-type]
        spark.streams.addListener(progress)
        return progress

    def record(self, batch_id: int, rows_written: dict[str, int], late: int) -> None:
        """What micro-batch ``batch_id`` wrote, per table, and the events it found late."""
        with self._lock:
            self.totals.batches += 1
            for table, rows in rows_written.items():
                self.totals.rows_written[table] = self.totals.rows_written.get(table, 0) + rows
            self.totals.late_events += late
            self._batch[batch_id] = (sum(rows_written.values()), late)

    def say(self, line: str) -> None:
        """One progress line: printed when live, else logged at INFO."""
        if self.live:
            print(line, file=self.out, flush=True)
        else:
            log.info("%s", line)

    def onQueryStarted(self, event) -> None:  # noqa: N802 - Spark's name
        log.info("query %s started (id %s)", event.name, event.id)
        if self._watch:
            self._watch.start()

    def onQueryProgress(self, event) -> None:  # noqa: N802
        p = event.progress
        with self._lock:
            written, late = self._batch.pop(p.batchId, (0, 0))
            dead = self.totals.rows_written.get("dead_letter", 0)
        line = batch_line(
            name=p.name,
            batch=p.batchId,
            input_rows=p.numInputRows,
            input_rate=p.inputRowsPerSecond,
            processed_rate=p.processedRowsPerSecond,
            watermark=p.eventTime.get("watermark"),
            written=written,
            late=late,
            dead_letters=dead,
            state_rows=sum(op.numRowsTotal for op in p.stateOperators),
        )
        self.say(line)

    def onQueryIdle(self, event) -> None:  # noqa: N802
        pass

    def onQueryTerminated(self, event) -> None:  # noqa: N802
        if self._watch:
            self._watch.stop()
        if event.exception:
            log.error("query %s failed: %s", event.id, event.exception)


class KafkaWatch:
    """Tells the operator once when none of the bootstrap servers accepts a connection, and
    once when one does again: a query waiting for Kafka says nothing of its own, and Kafka's
    client repeats its warnings every second (quieted in vsa's ``log4j2.properties``).

    A daemon thread tries a TCP connection to each server every ``every`` seconds."""

    def __init__(self, servers: str, report: Callable[[str], None], every: float = 5.0):
        self.servers = servers
        self.report = report
        self.every = every
        self._stopped = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="vsa-kafka-watch", daemon=True)
            self._thread.start()

    def stop(self) -> None:
        self._stopped.set()

    def _run(self) -> None:
        since: float | None = None
        while not self._stopped.wait(self.every):
            answers = any(_connects(server) for server in self.servers.split(","))
            if not answers and since is None:
                since = time.time()
                at = datetime.fromtimestamp(since, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
                self.report(
                    f"Kafka unreachable at {self.servers} since {at}; the job resumes when it "
                    "answers"
                )
            elif answers and since is not None:
                self.report(
                    f"Kafka reachable again at {self.servers} after {time.time() - since:.0f} s"
                )
                since = None


def _connects(server: str, timeout: float = 2.0) -> bool:
    """Whether ``host:port`` accepts a TCP connection (9092 when it names no port)."""
    host, _, port = server.strip().rpartition(":")
    if not host or not port.isdigit():
        host, port = server.strip(), "9092"
    try:
        with socket.create_connection((host.strip("[]"), int(port)), timeout=timeout):
            return True
    except OSError:
        return False


def batch_line(
    *,
    name: str,
    batch: int,
    input_rows: int,
    input_rate: float,
    processed_rate: float,
    watermark: str | None,
    written: int,
    late: int,
    dead_letters: int,
    state_rows: int,
) -> str:
    """One micro-batch on one line; ``dead_letters`` is the total written so far."""
    return (
        f"{name} batch {batch:>4}  {input_rows:>8,} rows  "
        f"in {input_rate:>9,.0f}/s  processed {processed_rate:>9,.0f}/s  "
        f"watermark {_short_time(watermark)}  written {written:,}  late {late:,}  "
        f"dead letters {dead_letters:,}  state {state_rows:,} rows"
    )


def _short_time(iso: str | None) -> str:
    """``2025-11-24T10:03:00.000Z`` → ``2025-11-24 10:03:00``; ``-`` before the first one."""
    if not iso or iso.startswith("1970-01-01T00:00:00"):
        return "-"
    return iso.replace("T", " ")[:19]


def summary(
    spark: SparkSession,
    config: VsaConfig,
    rows_written: dict[str, int],
    late_events: int | None = None,
) -> str:
    """Rows written per table and where, dead letters by reason (the whole ``dead_letter``
    table), late events (None: not counted by this command), the checkpoints."""
    width = max((len(t) for t in rows_written), default=0)
    lines = ["rows written:"]
    lines += [
        f"  {table:<{width}}  {rows:>10,}  {config.table_path(table)}"
        for table, rows in rows_written.items()
    ]
    reasons = dead_letters_by_reason(spark, config)
    if reasons:
        listed = ", ".join(f"{reason} {n:,}" for reason, n in reasons.items())
        lines.append(f"dead letters by reason: {listed}")
    elif "dead_letter" in rows_written:
        lines.append("dead letters by reason: none")
    if late_events is not None:  # a streaming run
        lines.append(f"late events (dead-lettered as late): {late_events:,}")
        lines.append(f"checkpoints: {config.checkpoint_path('')}")
    return "\n".join(lines)


def dead_letters_by_reason(spark: SparkSession, config: VsaConfig) -> dict[str, int]:
    """Counts of the ``dead_letter`` table's rows by ``reason``, largest first ({} when the
    table does not exist yet)."""
    try:
        table = spark.read.parquet(config.table_path("dead_letter"))
    except AnalysisException:
        return {}
    counts = table.groupBy("reason").agg(F.count(F.lit(1)).alias("n")).orderBy(F.desc("n"))
    return {row["reason"]: row["n"] for row in counts.collect()}


def quiet_logs() -> None:
    """Python-side log noise down: py4j's per-call DEBUG/INFO lines."""
    logging.getLogger("py4j").setLevel(logging.WARNING)
