"""Views and slices through Kafka and the streaming job, and the same through `vsa batch`."""

from __future__ import annotations

from pyspark.sql import DataFrame

from vsa import pipeline
from vsa.config import VsaConfig
from vsa.sinks import read_table
from vsa.tables import KPI_TABLES

KPI_KEY = {t: ["window_start", *dims] for t, dims in KPI_TABLES.items()}
SLICE_SUMS = ("watch_time_ms", "playing_time_ms", "stall_time_ms", "stall_count")


def rows(df: DataFrame, key: list[str]) -> list[dict]:
    # Sketch bytes depend on the order rows reached them; their estimates are compared.
    drop = {"date", "hour", "closed_view", "unique_viewers_sketch", "startup_time_sketch"}
    if "session_id" in df.columns:
        df = df.where("session_id NOT LIKE '__flush__%'")
    return [
        {k: v for k, v in r.asDict().items() if k not in drop} for r in df.orderBy(*key).collect()
    ]


def test_every_session_becomes_a_closed_view(spark, streamed):
    config, records, result = streamed.config, streamed.records, streamed.result
    sessions = {k for k, _ in records} - {None}  # the flush events have no key
    views = read_table(spark, config, "views")
    assert views.count() == len(sessions)
    assert {r.session_id for r in views.collect()} == sessions
    assert result.rows_written["views"] == len(sessions)


def test_slices_sum_to_their_view(spark, streamed):
    config = streamed.config
    slices = read_table(spark, config, "view_slices")
    sums = slices.groupBy("view_id").sum(*SLICE_SUMS)
    views = read_table(spark, config, "views")
    joined = views.join(sums, "view_id").collect()
    assert len(joined) == views.count()
    for r in joined:
        for c in SLICE_SUMS:
            assert r[f"sum({c})"] == r[c], (r.view_id, c)
    per_view = slices.groupBy("view_id").agg({"opened": "count"}).count()
    assert per_view == views.count()
    assert slices.where("opened").count() == views.count()
    assert slices.where("ended").count() == views.count()


def test_batch_gives_the_same_tables(spark, streamed):
    config, out = streamed.config, streamed.workdir
    batch_config = VsaConfig(output_root=str(out / "batch"))
    pipeline.run_batch(spark, batch_config, str(out / "events.jsonl"))
    for table, key in (("views", ["view_id"]), ("view_slices", ["view_id", "minute"])):
        streamed_rows = rows(read_table(spark, config, table), key)
        batch_rows = rows(read_table(spark, batch_config, table), key)
        assert len(streamed_rows) > 0
        assert batch_rows == streamed_rows, table
    # The KPI tables too, for every window the stream has published (its newest windows
    # wait for the watermark; the batch publishes them all).
    for table in KPI_TABLES:
        streamed_rows = rows(read_table(spark, config, table), KPI_KEY[table])
        published = {r["window_start"] for r in streamed_rows}
        batch_rows = [
            r
            for r in rows(read_table(spark, batch_config, table), KPI_KEY[table])
            if r["window_start"] in published
        ]
        assert len(streamed_rows) > 0
        assert batch_rows == streamed_rows, table
