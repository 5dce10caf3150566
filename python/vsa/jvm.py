"""The one module that talks to the JVM through py4j: every call goes to the jar's facade,
``vsa.spark.PythonApi``, whose methods are compile-checked against the jar's objects. Other
modules call the typed functions here and never touch ``spark._jvm``, ``_jsc``, ``_jdf`` or
``_jsparkSession`` (``tests/test_boundary.py`` fails if one does).

A JVM exception comes out of these functions as py4j raises it (one of :data:`JVM_ERRORS`);
:func:`java_message` says it in one line.
"""

from __future__ import annotations

import struct
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from py4j.protocol import Py4JJavaError
from pyspark import SparkContext
from pyspark.errors.exceptions.captured import CapturedException
from pyspark.sql import Column, DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql.classic.column import Column as ClassicColumn
from pyspark.sql.classic.dataframe import DataFrame as ClassicDataFrame

# A JVM exception as a py4j call raises it: PySpark converts the ones it knows.
JVM_ERRORS = (Py4JJavaError, CapturedException)
# What PythonApi.writability answers.
WRITABLE, NO_PARENT, NOT_A_DIRECTORY = "writable", "no parent", "not a directory"
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MS = timedelta(milliseconds=1)


def _api(spark: SparkSession) -> Any:
    return spark._jvm.vsa.spark.PythonApi  # type: ignore[attr-defined]


def _session(spark: SparkSession) -> Any:
    return spark._jsparkSession  # type: ignore[attr-defined]


# Row schemas: the jar's column lists, read once per process (the jar does not change while
# it runs). They need a session, so each is a function of one, not a constant at import time.


@dataclass(frozen=True)
class RowSchemas:
    """The jar's row schemas that Python shapes the sessionizer's input and output by."""

    slice_columns: tuple[str, ...]
    """The columns of a slice (``SliceRow``), in order."""
    request_figures: dict[str, str]
    """A CDN request's figures the sessionizer attributes (``CdnRequest``): name → SQL type."""
    event_types: tuple[str, ...]
    """The player event types the sessionizer knows, in its tie-break order."""


_schemas: RowSchemas | None = None


def row_schemas(spark: SparkSession) -> RowSchemas:
    """The jar's row schemas (asked once, then kept)."""
    global _schemas
    if _schemas is None:
        api = _api(spark)
        figures = api.requestFigures()
        _schemas = RowSchemas(
            slice_columns=tuple(api.sliceColumns()),
            request_figures={name: figures[name] for name in figures.keySet()},
            event_types=tuple(api.eventTypes()),
        )
    return _schemas


# Kafka.


def topic_names(
    spark: SparkSession, bootstrap_servers: str, options: Mapping[str, str], timeout_ms: int
) -> set[str]:
    """The cluster's topics (Kafka's admin client, with client ``options``)."""
    return set(_api(spark).topicNames(bootstrap_servers, dict(options), timeout_ms))


def topic_partitions(
    spark: SparkSession,
    bootstrap_servers: str,
    options: Mapping[str, str],
    topic: str,
    timeout_ms: int,
) -> list[int]:
    """The partition numbers of ``topic``, ascending; a JVM error naming a topic that does
    not exist ("does not exist")."""
    api = _api(spark)
    return list(api.topicPartitions(bootstrap_servers, dict(options), topic, timeout_ms))


# Bytes of framed records per call of the jar's ``KafkaSend``.
SEND_CHUNK_BYTES = 8 << 20


def kafka_send(
    spark: SparkSession,
    bootstrap_servers: str,
    options: Mapping[str, str],
    topic: str,
    keys: list[str | None],
    values: list[str],
    partitions: list[int],
    timestamps: list[int],
) -> int:
    """Sends the records (a negative partition or timestamp: none) and waits for every
    acknowledgement; how many were sent. They cross to the JVM framed in byte arrays of about
    :data:`SEND_CHUNK_BYTES` (the jar's ``KafkaSend``: a list crosses Py4J one element at a
    time), each sent in order before the next."""
    api = _api(spark)
    sent = 0
    chunk = bytearray()
    for key, value, partition, timestamp in zip(keys, values, partitions, timestamps, strict=True):
        chunk += _frame(key) + _frame(value) + struct.pack(">iq", partition, timestamp)
        if len(chunk) >= SEND_CHUNK_BYTES:
            sent += int(api.kafkaSend(bootstrap_servers, dict(options), topic, bytes(chunk)))
            chunk = bytearray()
    if chunk:
        sent += int(api.kafkaSend(bootstrap_servers, dict(options), topic, bytes(chunk)))
    return sent


def _frame(text: str | None) -> bytes:
    if text is None:
        return b"\xff\xff\xff\xff"  # -1: none
    data = text.encode()
    return struct.pack(">i", len(data)) + data


# Checks.


def geoip_database_type(spark: SparkSession, path: str, conf_key: str) -> str:
    """The type of the GeoIP database at ``path`` (``GeoLite2-City``…), opened and verified
    whole by the jar's reader (once per JVM)."""
    return str(_api(spark).geoipDatabaseType(path, conf_key))


@dataclass(frozen=True)
class Writability:
    """Whether a location can be written: ``outcome`` :data:`WRITABLE`, :data:`NO_PARENT` or
    :data:`NOT_A_DIRECTORY` (``existing``: the file in the way)."""

    outcome: str
    existing: str | None = None


def writability(spark: SparkSession, location: str) -> Writability:
    """Whether ``location`` can be written: a file created and deleted in it, or in its nearest
    existing parent. A file system's refusal is raised."""
    found = _api(spark).writability(_session(spark), location)
    return Writability(str(found["outcome"]), found.get("existing"))


def old_layout(spark: SparkSession, checkpoint_root: str) -> list[str]:
    """The queries of vsa 0.1's layout (one per table) with a checkpoint under the root."""
    return list(_api(spark).oldLayout(_session(spark), checkpoint_root))


@dataclass(frozen=True)
class DamagedFile:
    """A file that cannot be used: ``error`` is why it cannot be read (:func:`java_message`'s
    line), None when it reads but is cut short."""

    path: str
    error: str | None


def damaged_state_file(spark: SparkSession, checkpoint: str) -> DamagedFile | None:
    """The first state file of the query checkpoint at ``checkpoint`` that a restart would load
    and could not (unreadable, or without the LZ4 end mark); None if all end well. Only the
    default state store and codec are checked."""
    found = _api(spark).damagedStateFile(_session(spark), checkpoint)
    if found is None:
        return None
    error = found.get("error")
    return DamagedFile(str(found["path"]), None if error is None else _one_line(_causes(error)))


def unreadable_table_log(spark: SparkSession, table: str) -> DamagedFile | None:
    """The first file of the commit log of the table at ``table`` that does not parse (``path``:
    the log's folder when each file parses on its own), as Spark's reader reads it; None when
    the log reads or there is none."""
    found = _api(spark).unreadableTableLog(_session(spark), table)
    if found is None:
        return None
    return DamagedFile(str(found["where"]), _one_line(_causes(found["error"])))


# The streaming query's checkpoint.


def checkpoint_last_planned(spark: SparkSession, checkpoint: str) -> int:
    """The last batch the query planned; -1 if none, or no checkpoint."""
    return int(_api(spark).checkpointLastPlanned(_session(spark), checkpoint))


def checkpoint_last_committed(spark: SparkSession, checkpoint: str) -> int:
    """The last batch the query committed; -1 if none, or no checkpoint."""
    return int(_api(spark).checkpointLastCommitted(_session(spark), checkpoint))


def checkpoint_watermark_ms(spark: SparkSession, checkpoint: str | None, batch_id: int) -> int:
    """The watermark (epoch ms) batch ``batch_id`` of the query checkpoint at ``checkpoint`` ran
    with; 0 before any (a negative ``batch_id``: ``checkpoint`` is not read), and for a batch
    the log does not hold."""
    return int(_api(spark).checkpointWatermarkMs(_session(spark), checkpoint, batch_id))


def checkpoint_next_watermark_ms(spark: SparkSession, checkpoint: str, batch_id: int) -> int:
    """The watermark (epoch ms) the batch after committed batch ``batch_id`` runs with."""
    return int(_api(spark).checkpointNextWatermarkMs(_session(spark), checkpoint, batch_id))


# Files.


def use_nio_local_file_system(spark: SparkSession) -> bool:
    """In a local session, ``file:`` paths through the jar's ``vsa.spark.fs.NioLocalFileSystem``
    (Hadoop's local file system without its ``chmod`` and ``readlink`` processes) unless the
    session names a ``fs.file.impl``; whether it did."""
    return bool(_api(spark).useNioLocalFileSystem(_session(spark)))


def process_id(spark: SparkSession) -> int:
    """The driver JVM's process id (benchmarks read its CPU time)."""
    return int(spark._jvm.java.lang.ProcessHandle.current().pid())  # type: ignore[attr-defined]


def exists(spark: SparkSession, location: str) -> bool:
    """Whether ``location`` exists (Hadoop's file system: a path or a URI)."""
    return bool(_api(spark).exists(_session(spark), location))


def hour_folders(spark: SparkSession, table: str, start: datetime, end: datetime) -> list[str]:
    """The ``date=…/hour=…`` folders of the table at ``table`` whose UTC hour overlaps
    ``[start, end)``; [] when there are none, or no table."""
    # Whole ms: the start rounded down, the end up, so that no hour in range is lost.
    start_ms = (start - _EPOCH) // _MS
    end_ms = -((_EPOCH - end) // _MS)
    return list(_api(spark).hourFolders(_session(spark), table, start_ms, end_ms))


# The stages in the jar.


def batch_now() -> Column:
    """``current_timestamp()`` handed to generated code by reference: a plan built once and
    run each micro-batch (the writer's) compiles once, not once a batch, though its time is new
    each batch (the jar's ``BatchConstant``). Needs an active SparkContext."""
    context = SparkContext._active_spark_context
    if context is None:
        raise RuntimeError("vsa.jvm.batch_now needs an active SparkContext")
    now = F.current_timestamp()
    return ClassicColumn(context._jvm.vsa.spark.PythonApi.batchConstant(now._jc))  # type: ignore[attr-defined]


def sessionize(
    prepared: DataFrame,
    view_timeout_ms: int,
    max_event_gap_ms: int,
    max_pending_events: int,
    cdn_attr: int = -1,
    country_attr: int = -1,
) -> DataFrame:
    """The jar's sessionizer over ``prepared`` (the columns of its ``SessionEvent``);
    ``cdn_attr``, ``country_attr``: where ``attrs`` holds the live view's dimensions (-1:
    nowhere)."""
    spark = prepared.sparkSession
    sessionized = _api(spark).sessionize(
        prepared._jdf,  # type: ignore[attr-defined]
        view_timeout_ms,
        max_event_gap_ms,
        max_pending_events,
        cdn_attr,
        country_attr,
    )
    return ClassicDataFrame(sessionized, spark)


class TableWriter:
    """One table's writer in the jar (``vsa.spark.streaming.TableWriter``): Spark's file sink,
    each batch id committed once."""

    def __init__(self, spark: SparkSession, location: str, partition_columns: Iterable[str]):
        self._api = _api(spark)
        self._writer = self._api.tableWriter(_session(spark), location, list(partition_columns))

    def last_committed(self) -> int:
        """The last batch id the table committed, -1 if none."""
        return int(self._api.tableLastCommitted(self._writer))

    def write(self, batch_id: int, df: DataFrame) -> int:
        """Writes ``df`` as batch ``batch_id`` unless committed already; the rows written."""
        return int(self._api.writeTable(self._writer, batch_id, df._jdf))  # type: ignore[attr-defined]

    def commit_empty(self, batch_id: int) -> None:
        """Commits batch ``batch_id`` with no rows, unless committed already."""
        self._api.commitEmptyTable(self._writer, batch_id)


def tables_last_committed(spark: SparkSession, writers: list[TableWriter]) -> list[int]:
    """The last batch id each writer's table committed (-1 if none), in one call."""
    return [int(n) for n in _api(spark).tablesLastCommitted([w._writer for w in writers])]


def batch_slot(rows: DataFrame) -> DataFrame:
    """A frame of ``rows``' columns with no rows of its own: plans built on it once are filled
    with each batch's rows by :func:`fill_batch_slot` (the jar's ``BatchSlot``)."""
    spark = rows.sparkSession
    return ClassicDataFrame(_api(spark).batchSlot(rows._jdf), spark)  # type: ignore[attr-defined]


def fill_batch_slot(template: DataFrame, rows: DataFrame) -> DataFrame:
    """``template`` (a plan over :func:`batch_slot`) with ``rows`` in place of its slot:
    ``rows`` must have the slot's columns, in order. One call, however large the plan."""
    spark = template.sparkSession
    filled = _api(spark).fillBatchSlot(template._jdf, rows._jdf)  # type: ignore[attr-defined]
    return ClassicDataFrame(filled, spark)


def write_tables(
    spark: SparkSession, batch_id: int, writers: list[TableWriter], frames: list[DataFrame]
) -> list[int]:
    """Writes each frame to its writer's table as batch ``batch_id``, all at once, then
    commits each table (tables that committed the batch already are skipped); the rows written,
    in the order of ``writers``."""
    rows = _api(spark).writeTables(
        batch_id,
        [w._writer for w in writers],
        [df._jdf for df in frames],  # type: ignore[attr-defined]
    )
    return [int(n) for n in rows]


# JVM errors in one line.


def java_causes(error: BaseException) -> list[tuple[str, str]]:
    """The class and message of a JVM exception and of each of its causes, outermost first;
    [] for a Python error."""
    return _causes(getattr(error, "java_exception", None) or getattr(error, "_origin", None))


def _causes(java: Any) -> list[tuple[str, str]]:
    chain: list[tuple[str, str]] = []
    while java is not None and len(chain) < 20:
        chain.append((java.getClass().getName(), java.getMessage() or ""))
        java = java.getCause()
    return chain


def java_message(error: BaseException, outer: bool = False) -> str:
    """A JVM exception's message in one line: the innermost cause's that has one (``outer``:
    the exception's own, when it names the thing), with its class's short name; a Python
    error's first line."""
    chain = java_causes(error)
    if not chain:
        return first_line(str(error))
    return _one_line(chain, outer)


def _one_line(chain: list[tuple[str, str]], outer: bool = False) -> str:
    order = chain if outer else list(reversed(chain))
    name, message = next(((n, m) for n, m in order if m), chain[-1])
    if outer:
        return first_line(message)
    return f"{name.rpartition('.')[2]}: {first_line(message)}"


def first_line(text: str) -> str:
    """The first non-blank line of ``text``."""
    return next((line.strip() for line in text.splitlines() if line.strip()), text)
