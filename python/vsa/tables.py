"""The table catalog: every table vsa writes, once, in the order a micro-batch writes them.

Like the jar's ``FunctionCatalog`` for functions, nothing else lists tables: the streaming job,
``vsa batch``, tools/tables_reference.py (and so docs/tables.md) and the sinks all
iterate :data:`TABLES`. A table's builder turns one micro-batch's stage outputs
(:class:`Batch`) into the rows that batch adds to the table, or None when it adds none.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from pyspark.sql import DataFrame

from vsa.config import VsaConfig
from vsa.kpis import POP_DIMENSIONS, cdn_qos, grouped_kpis, kpis_of, live_rows, pop_kpis, rollup

PLAYER_EVENTS = "player_events"
CDN_LOGS = "cdn_logs"
SOURCES = (PLAYER_EVENTS, CDN_LOGS)


@dataclass(frozen=True)
class Batch:
    """What one micro-batch (or one ``vsa batch`` run) hands to the tables' builders.

    A frame the batch has no row of is None (nothing to write).
    ``closed_windows(table, seconds)`` gives the rows of ``table`` (its columns, without the
    partition columns; already written, this batch's included) in the windows of ``seconds``
    that close in this batch (None: no window closes): a window closes in the batch whose
    watermark passes its end. ``sources``: the job's sources (:data:`SOURCES`).
    """

    config: VsaConfig
    player_events: DataFrame | None
    dead_letters: DataFrame | None
    view_slices: DataFrame | None
    views: DataFrame | None
    live: DataFrame | None
    cdn_requests: DataFrame | None
    closed_windows: Callable[[str, int], DataFrame | None]
    sources: tuple[str, ...] = SOURCES
    keep: Callable[[DataFrame], DataFrame] = DataFrame.persist
    """What the batch does with a frame several tables read (default: persists it)."""
    _cached: dict[str, DataFrame | None] = field(default_factory=dict, repr=False)

    def kpis(self) -> DataFrame | None:
        """The rows of every KPI table of :data:`KPI_TABLES` (``grouping`` names the table),
        from one aggregation of the batch's slices, cached: each KPI table selects its own.

        All of a minute's slices come out in the batch whose watermark passes the minute
        (vsa.kpis.minute), so a minute's KPIs are the batch's slices aggregated; a longer
        window closes batches later and is read back from view_slices then."""
        if "kpis" not in self._cached:
            slices = self.closed_slices()
            # A few rows per window and dimension: one partition, so each KPI table's write is
            # one task and one file per hour, not one per shuffle partition.
            self._cached["kpis"] = (
                None
                if slices is None
                else self.keep(grouped_kpis(slices, self.config, KPI_TABLES).coalesce(1))
            )
        return self._cached["kpis"]

    def closed_slices(self) -> DataFrame | None:
        """The view slices of the KPI windows that close in this batch (see :meth:`kpis`)."""
        window = self.config.window_seconds
        return self.view_slices if window == 60 else self.closed_windows("view_slices", window)

    def release(self) -> None:
        """Frees what the batch cached."""
        for frame in self._cached.values():
            if frame is not None:
                frame.unpersist()
        self._cached.clear()


Builder = Callable[[Batch], DataFrame | None]


@dataclass(frozen=True)
class Table:
    """One output table: its name, the event-time column of its ``date``/``hour``
    partitions, its builder, the sources it comes from, the tables it reads back (which
    :data:`TABLES` lists, and a batch writes, before it) and the dimensions of a KPI table."""

    name: str
    time_column: str
    build: Builder
    sources: tuple[str, ...] = (PLAYER_EVENTS,)
    after: tuple[str, ...] = ()
    dimensions: tuple[str, ...] | None = None


def _kpi_table(name: str, dimensions: tuple[str, ...]) -> Table:
    def build(batch: Batch) -> DataFrame | None:
        kpis = batch.kpis()
        return None if kpis is None else kpis_of(kpis, name, dimensions)

    return Table(name, "window_start", build, after=("view_slices",), dimensions=dimensions)


def _pop_table(batch: Batch) -> DataFrame | None:
    slices = batch.closed_slices()
    return None if slices is None else pop_kpis(slices, batch.config).coalesce(1)


@dataclass(frozen=True)
class Rollup:
    """A rollup table: ``minutes`` (a KPI table with ``dimensions``) by ``period``."""

    minutes: str
    period: str
    seconds: int
    dimensions: tuple[str, ...] = ()


ROLLUPS: dict[str, Rollup] = {
    "kpi_hour": Rollup("kpi_minute", "hour", 3600),
    "kpi_day": Rollup("kpi_minute", "day", 86400),
    "kpi_by_pop_hour": Rollup("kpi_by_pop", "hour", 3600, POP_DIMENSIONS),
    "kpi_by_pop_day": Rollup("kpi_by_pop", "day", 86400, POP_DIMENSIONS),
}


def _rollup_table(name: str) -> Table:
    spec = ROLLUPS[name]

    def build(batch: Batch) -> DataFrame | None:
        minutes = batch.closed_windows(spec.minutes, spec.seconds)
        if minutes is None:
            return None
        rolled = rollup(minutes, spec.period, spec.dimensions)
        # A period that `vsa rollup` (a backfill) wrote already is not written twice.
        done = batch.closed_windows(name, spec.seconds)
        return (
            rolled
            if done is None
            else rolled.join(done.select("window_start"), "window_start", "left_anti")
        )

    return Table(name, "window_start", build, after=(spec.minutes,))


def _cdn_qos(batch: Batch) -> DataFrame | None:
    window = batch.config.window_seconds
    requests = batch.closed_windows("cdn_requests", window)
    if requests is None:
        return None
    # The requests attributed in those windows: the job writes a window's slices in the batch
    # that closes it, before this table (none in a job without player events).
    slices = batch.closed_windows("view_slices", window) if PLAYER_EVENTS in batch.sources else None
    return cdn_qos(requests, batch.config, slices)


# In writing order: each table after the tables of its ``after``.
TABLES: tuple[Table, ...] = (
    Table("player_events", "ts", lambda b: b.player_events),
    Table("dead_letter", "received_at", lambda b: b.dead_letters, SOURCES),
    Table("view_slices", "minute", lambda b: b.view_slices),
    Table("views", "view_start", lambda b: b.views),
    Table("live", "tick", lambda b: None if b.live is None else live_rows(b.live)),
    _kpi_table("kpi_minute", ()),
    _kpi_table("kpi_by_geo", ("country", "region", "city")),
    _kpi_table("kpi_by_device", ("os_family", "browser_family", "device_type", "device_brand")),
    _kpi_table("kpi_by_player", ("player_name", "player_version")),
    _kpi_table("kpi_by_content", ("video_id", "stream_type")),
    _kpi_table("kpi_by_cdn", ("cdn",)),
    Table("kpi_by_pop", "window_start", _pop_table, after=("view_slices",)),
    _rollup_table("kpi_hour"),
    _rollup_table("kpi_day"),
    _rollup_table("kpi_by_pop_hour"),
    _rollup_table("kpi_by_pop_day"),
    Table("cdn_requests", "timestamp", lambda b: b.cdn_requests, (CDN_LOGS,)),
    Table("cdn_qos_minute", "window_start", _cdn_qos, (CDN_LOGS,), after=("cdn_requests",)),
)
BY_NAME: dict[str, Table] = {t.name: t for t in TABLES}
# The KPI tables of view slices, with their dimensions.
KPI_TABLES: dict[str, tuple[str, ...]] = {
    t.name: t.dimensions for t in TABLES if t.dimensions is not None
}


def tables_of(sources: tuple[str, ...]) -> tuple[Table, ...]:
    """The tables written from ``sources`` (names of :data:`SOURCES`), in writing order."""
    return tuple(t for t in TABLES if set(t.sources) & set(sources))
