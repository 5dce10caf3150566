"""The writer's table plans, built once over a slot and filled with each batch's rows, give the
rows the tables' builders give when built for that batch (vsa.sinks.writer.TablePlans)."""

from __future__ import annotations

from pyspark.sql import DataFrame

from vsa.config import VsaConfig
from vsa.pipeline import transform
from vsa.simulate import Faults, Spec, simulate
from vsa.sinks import split, with_partitions
from vsa.sinks.writer import TablePlans
from vsa.sources import empty_raw, read_text_files
from vsa.tables import PLAYER_EVENTS, ROLLUPS, tables_of

T0 = 1_764_000_000_000


def _rows(frame: DataFrame) -> list[str]:
    return sorted(repr(row) for row in frame.collect())


def test_tables_planned_once_give_each_batch_the_rows_built_for_it(spark, tmp_path):
    config = VsaConfig()
    tables = tables_of((PLAYER_EVENTS,))
    plans = None
    for seed in (6, 7):  # two batches through the same plans
        sim = simulate(
            Spec(sessions=12, seed=seed, start_ms=T0, span_s=600, faults=Faults(malformed=0.05))
        )
        path = tmp_path / f"events-{seed}.jsonl"
        path.write_text("".join(f"{value}\n" for _, value in sim.records))
        rows = transform(read_text_files(spark, str(path)), config).persist()
        plans = plans or TablePlans.build(rows, config, tables, (PLAYER_EVENTS,))
        built = split(rows, config, lambda table, seconds: None)
        shared = [plans.fill(frame, rows).persist() for frame in plans.shared]
        for t in tables:
            if t.name in ROLLUPS:  # they read closed windows back: built for each batch
                assert t.name not in plans.rows
                continue
            expected = with_partitions(t.build(built), t.time_column)
            filled = plans.fill(plans.rows[t.name], rows)
            # A dead letter's received_at is the time its query ran: two queries, two times.
            now = [c for c in ("received_at",) if c in expected.columns]
            got = _rows(filled.drop(*now))
            assert got == _rows(expected.drop(*now)), t.name
            # Each table has rows, so the comparison is not of nothing; but kpi_by_pop, whose
            # rows come from CDN requests, which player events alone do not have.
            assert bool(got) == (t.name != "kpi_by_pop"), t.name
        for frame in shared:
            frame.unpersist()
        rows.unpersist()
    # The KPI tables read one aggregation, persisted once a batch.
    assert plans is not None and len(plans.shared) == 1


def test_a_table_that_reads_closed_windows_is_built_for_each_batch(spark):
    config = VsaConfig(window_seconds=300)  # KPI windows closed from view_slices read back
    rows = transform(empty_raw(spark), config)
    plans = TablePlans.build(rows, config, tables_of((PLAYER_EVENTS,)), (PLAYER_EVENTS,))
    assert set(plans.rows) == {"player_events", "dead_letter", "view_slices", "views", "live"}
    assert plans.shared == ()
