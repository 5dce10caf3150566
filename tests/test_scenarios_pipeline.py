"""Every hand-written scenario of test_simulate, run through the real pipeline as well.

test_simulate pins each rule of docs/views.md with events and the expected view written out
by hand, checked against the plain-Python truth. Here the same scenarios run again with the
truth function swapped for one that also sends the events through the pipeline
(`pipeline.transform`: normalize → enrich → the jar's sessionizer → view_slices → views) and
asserts that its views and slices equal the truth's, column by column.

The pipeline runs once per set of rules, not once per scenario (docs/testing.md): every call of
the truth is recorded first, each call's sessions are renamed apart (`<call>/<session_id>`, so
no two calls share a session), and all the calls with the same rules go through one pipeline
run; each scenario then compares the rows of its own calls, the names put back.
"""

from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import dataclass
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


@dataclass
class Call:
    """One call of the truth by a scenario, and what the pipeline made of its events."""

    scenario: str
    events: list[dict]
    rules: Rules
    views: list[dict] | None = None
    slices: list[dict] | None = None


def recorded_calls() -> list[Call]:
    """Every scenario run with a truth that records its calls (and still answers them)."""
    calls: list[Call] = []
    for scenario in SCENARIOS:

        def record(evs, scenario=scenario, **rules):
            calls.append(Call(scenario, evs, Rules(**rules)))
            return compute(evs, calls[-1].rules)

        with pytest.MonkeyPatch.context() as patch:
            patch.setattr(test_simulate, "truth", record)
            getattr(test_simulate, scenario)()
    return calls


def own_rows(rows: list[dict], call: int) -> list[dict]:
    """The rows of call ``call``'s sessions, their session and view ids as the call named them."""
    prefix = f"{call}/"
    return [
        {**r, "session_id": r["session_id"][len(prefix) :], "view_id": r["view_id"][len(prefix) :]}
        for r in rows
        if r["session_id"].startswith(prefix)
    ]


@pytest.fixture(scope="module")
def calls(spark) -> dict[str, list[Call]]:
    """Each scenario's calls of the truth, with the pipeline's views and slices of each."""
    recorded = recorded_calls()
    by_rules: dict[Rules, list[int]] = defaultdict(list)
    for n, call in enumerate(recorded):
        by_rules[call.rules].append(n)
    for rules, numbers in by_rules.items():
        events = [
            {**e, "session_id": f"{n}/{e['session_id']}"} if "session_id" in e else e
            for n in numbers
            for e in recorded[n].events
        ]
        got_views, got_slices = through_pipeline(spark, events, rules)
        for n in numbers:
            recorded[n].views = own_rows(got_views, n)
            recorded[n].slices = own_rows(got_slices, n)
    by_scenario: dict[str, list[Call]] = defaultdict(list)
    for call in recorded:
        by_scenario[call.scenario].append(call)
    return by_scenario


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
def test_scenario_through_the_pipeline(calls, monkeypatch, scenario):
    mine = iter(calls[scenario])
    checked = []

    def truth_and_pipeline(evs, **rules):
        rules_ = Rules(**rules)
        expected = compute(evs, rules_)
        call = next(mine)
        assert (call.events, call.rules) == (evs, rules_)  # the call whose rows these are
        assert_same(
            call.views, expected.views, ("view_id",), {"view_start", "view_end", "closed_at"}
        )
        assert_same(call.slices, expected.slices, ("view_id", "minute"), {"minute"})
        checked.append(len(expected.views))
        return expected

    monkeypatch.setattr(test_simulate, "truth", truth_and_pipeline)
    getattr(test_simulate, scenario)()
    assert next(mine, None) is None
    if not checked:
        pytest.skip(f"{scenario} does not build views from events")
