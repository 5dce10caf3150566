"""The live view's truth (docs/kpis.md, "Live"), in plain Python from the views of
:mod:`vsa.simulate.truth`: what the ``live`` table adds up to once every event has come, in
order. Independent of the jar's replay: it reads the views' time segments and closes.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable

from vsa.kpis.live import COUNTS
from vsa.simulate.truth import Rules, closed_views

TICK_MS = 10_000
WATCHING = frozenset({"playing", "stalled", "ad"})


def tick(ts: int) -> int:
    return ts - ts % TICK_MS


def live(events: Iterable[dict], rules: Rules) -> dict[tuple[int, str | None], dict[str, int]]:
    """Per (tick start in epoch ms, CDN): the figures of :data:`COUNTS` of ``events``
    (accepted events, as :func:`vsa.simulate.truth.compute` takes them).

    A session counts once a tick as concurrent while a view of it is watching (playing,
    stalled, in an ad break: over the time between its events, and as each event leaves it)
    and once as stalled, with the CDN of the first such view. A view's time after its last
    event (a timeout's tail) is nobody watching. Each view counts its start where it opens,
    its failure or its exit before the first frame where it closes (a timeout: neither)."""
    figures: dict[tuple[int, str | None], dict[str, int]] = defaultdict(
        lambda: dict.fromkeys(COUNTS, 0)
    )
    seen: dict[tuple[str, str], set[int]] = defaultdict(set)
    for view in closed_views(events, rules):
        cdn = view.fields.get("cdn")
        times = [
            (start, end - 1, state)
            for start, end, state, *_ in view.segments
            if not (view.end_reason == "timeout" and start == view.last_ts)
        ] + [(ts, ts, state) for ts, state in view.instants]
        for first, last, state in times:
            for kind, counted in (
                ("concurrent_viewers", WATCHING),
                ("stalled_viewers", {"stalled"}),
            ):
                if state not in counted:
                    continue
                for t in range(tick(first), tick(last) + 1, TICK_MS):
                    if t not in seen[(view.session_id, kind)]:
                        seen[(view.session_id, kind)].add(t)
                        figures[(t, cdn)][kind] += 1
        figures[(tick(view.view_start), cdn)]["start_attempts"] += 1
        closed = (tick(view.closed_at), cdn)
        if view.end_reason == "fail":
            figures[closed]["playback_failures"] += 1
            figures[closed]["start_failures"] += view.ended_before_first_frame
        elif view.end_reason != "timeout" and view.ended_before_first_frame:
            figures[closed]["exits_before_start"] += 1
    return dict(figures)
