"""Every hand-written scenario of test_simulate, run through the real pipeline as well.

test_simulate pins each rule of docs/views.md with events and the expected view written out
by hand, checked against the plain-Python truth. Here the same scenarios run again with the
truth function swapped for one that also sends the events through the pipeline
(`pipeline.transform`: normalize → enrich → the jar's sessionizer → view_slices → views) and
asserts that its views and slices equal the truth's, column by column.
"""

from __future__ import annotations

import json
from datetime import UTC

import pytest

import test_simulate
from vsa.config import VsaConfig
from vsa.pipeline import transform
from vsa.sessions import view_slices, views
from vsa.simulate.truth import Rules, compute
from vsa.sources import RAW_SCHEMA

SCENARIOS = [
    name
    for name, fn in vars(test_simulate).items()
    if name.startswith("test_")
    and fn.__code__.co_firstlineno
    < test_simulate.test_slices_sum_to_their_view.__code__.co_firstlineno
    and "sim" not in fn.__code__.co_varnames[: fn.__code__.co_argcount]
]


def epoch_ms(value):
    return round(value.replace(tzinfo=UTC).timestamp() * 1000)


def through_pipeline(spark, events: list[dict], rules: Rules):
    config = VsaConfig(
        view_timeout_seconds=rules.view_timeout_ms // 1000,
        max_event_gap_seconds=rules.max_event_gap_ms // 1000,
        watermark_seconds=rules.watermark_ms // 1000,
    )
    raw = spark.createDataFrame(
        [(json.dumps(e), "t", 0, i, None) for i, e in enumerate(events)], RAW_SCHEMA
    )
    slices = view_slices(transform(raw, config)).cache()
    got_views = [r.asDict() for r in views(slices).collect()]
    got_slices = [r.asDict() for r in slices.drop("closed_view").collect()]
    slices.unpersist()
    return got_views, got_slices


def assert_same(got: list[dict], expected: list[dict], key: tuple[str, ...], times: set[str]):
    def normal(row: dict) -> dict:
        return {k: epoch_ms(v) if k in times and v is not None else v for k, v in row.items()}

    got_by_key = {tuple(normal(r)[k] for k in key): normal(r) for r in got}
    expected_by_key = {tuple(r[k] for k in key): r for r in expected}
    assert got_by_key.keys() == expected_by_key.keys()
    for k, row in expected_by_key.items():
        for column, value in row.items():
            actual = got_by_key[k][column]
            if isinstance(value, float):
                assert actual == pytest.approx(value), (k, column)
            else:
                assert actual == value, (k, column, actual, value)


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_scenario_through_the_pipeline(spark, monkeypatch, scenario):
    checked = []

    def truth_and_pipeline(evs, **rules):
        rules_ = Rules(**rules)
        expected = compute(evs, rules_)
        got_views, got_slices = through_pipeline(spark, evs, rules_)
        assert_same(
            got_views, expected.views, ("view_id",), {"view_start", "view_end", "closed_at"}
        )
        assert_same(got_slices, expected.slices, ("view_id", "minute"), {"minute"})
        checked.append(len(expected.views))
        return expected

    monkeypatch.setattr(test_simulate, "truth", truth_and_pipeline)
    getattr(test_simulate, scenario)()
    if not checked:
        pytest.skip(f"{scenario} does not build views from events")
