"""The simulator and its ground truth (plain Python, no Spark).

The scenarios apply one rule of docs/views.md each to a few events, with the expected numbers
worked out by hand; the property checks run over a generated data set.
"""

from __future__ import annotations

import json
import math
from collections import defaultdict
from itertools import count

import pytest

from vsa.simulate import Faults, Spec, simulate
from vsa.simulate.__main__ import main as simulate_main
from vsa.simulate.faults import LATE_MIN_WATERMARKS, deliver, iso_ts, malformed_record
from vsa.simulate.truth import Rules, classify, compute, epoch_ms, parse

T0 = 1_764_000_000_000  # 2025-11-24T16:00:00Z, on an hour (and a minute)
MIN = 60_000
S = 1_000


def events(*specs, session="s", video="v1"):
    """Events from ``(event_type, seconds after T0, {fields})`` tuples, ids in order."""
    ids = count(1)
    out = []
    for spec in specs:
        kind, at, *rest = spec
        fields = rest[0] if rest else {}
        out.append(
            {
                "event_id": f"e{next(ids):03d}",
                "event_type": kind,
                "ts": T0 + round(at * S),
                "session_id": session,
                "viewer_id": "u1",
                "video_id": video,
                "stream_type": "vod",
                "cdn": "akamai",
                **fields,
            }
        )
    return out


def truth(evs, **rules):
    return compute(evs, Rules(**rules))


def one_view(evs, **rules):
    result = truth(evs, **rules)
    assert len(result.views) == 1, result.views
    return result.views[0], result.slices


def check(row, **expected):
    assert {k: row[k] for k in expected} == expected


# --------------------------------------------------------------------------------------------
# Scenarios, one rule each


def test_startup_time_and_basic_view():
    view, slices = one_view(
        events(
            ("playback_request", 10),
            ("rendition_update", 10.8, {"bitrate_kbps": 3000}),
            ("playback_start", 11.2),
            ("heartbeat", 21.2),
            ("playback_finish", 25),
        )
    )
    check(
        view,
        view_id="s#1",
        session_id="s",
        viewer_id="u1",
        video_id="v1",
        stream_type="vod",
        cdn="akamai",
        started=True,
        startup_time_ms=1_200,
        watch_time_ms=15_000,
        playing_time_ms=13_800,
        stall_count=0,
        stall_time_ms=0,
        rebuffer_ratio=0.0,
        playback_failed=False,
        video_start_failure=False,
        exit_before_video_start=False,
        avg_bitrate_kbps=3000.0,
        bitrate_switches=0,
        view_start=T0 + 10 * S,
        view_end=T0 + 25 * S,
        closed_at=T0 + 25 * S,
        end_reason="finish",
        start_missing=False,
    )
    assert slices == [
        {
            "view_id": "s#1",
            "minute": T0,
            "viewer_id": "u1",
            "video_id": "v1",
            "opened": True,
            "first_frame": True,
            "startup_time_ms": 1_200,
            "watch_time_ms": 15_000,
            "playing_time_ms": 13_800,
            "stall_time_ms": 0,
            "stall_count": 0,
            "failed": False,
            "vsf": False,
            "ebvs": False,
            "ended": True,
            "active": True,
            "bitrate_kbps_ms": 3000 * 13_800,
            "bitrate_ms": 13_800,
            "upscale_bp_ms": 0,
            "downscale_bp_ms": 0,
            "scaled_ms": 0,
            "bitrate_downshifts": 0,
            "ad_time_ms": 0,
            "ad_breaks": 0,
            "ad_failures": 0,
        }
    ]


def test_pause_before_first_frame_voids_startup_time():
    view, slices = one_view(
        events(
            ("playback_request", 0),
            ("playback_pause", 1),
            ("playback_request", 5),  # resume before the first frame: startup again
            ("playback_start", 6),
            ("playback_finish", 10),
        )
    )
    check(view, started=True, startup_time_ms=None, watch_time_ms=6_000, playing_time_ms=4_000)
    check(slices[0], first_frame=True, startup_time_ms=None)


def test_seek_after_and_before_first_frame():
    view, _ = one_view(
        events(
            ("playback_request", 0),
            ("playback_start", 1),
            ("seek_start", 5),
            ("seek_end", 7),
            ("heartbeat", 10),
            ("view_end", 12),
        )
    )
    check(view, startup_time_ms=1_000, watch_time_ms=12_000, playing_time_ms=9_000)
    # Before the first frame a seek voids startup; seek_end returns to start-up, not playing.
    view, _ = one_view(
        events(
            ("playback_request", 0),
            ("seek_start", 0.5),
            ("seek_end", 1),
            ("playback_start", 2),
            ("view_end", 4),
        )
    )
    check(view, started=True, startup_time_ms=None, watch_time_ms=4_000, playing_time_ms=2_000)


def test_stalls_after_the_first_frame_count_before_it_do_not():
    view, _ = one_view(
        events(
            ("playback_request", 0),
            ("playback_start", 1),
            ("playback_stall", 10),
            ("playback_start", 13),
            ("playback_stall", 20),
            ("view_end", 22),
        )
    )
    check(
        view,
        stall_count=2,
        stall_time_ms=5_000,
        watch_time_ms=22_000,
        playing_time_ms=16_000,
        rebuffer_ratio=5_000 / 22_000,
    )
    view, _ = one_view(
        events(
            ("playback_request", 0),
            ("playback_stall", 0.5),
            ("playback_start", 2),
            ("view_end", 5),
        )
    )
    check(view, stall_count=0, stall_time_ms=0, startup_time_ms=2_000, playing_time_ms=3_000)


def test_gap_cap():
    view, _ = one_view(
        events(
            ("playback_request", 0),
            ("playback_start", 1),
            ("heartbeat", 11),
            ("heartbeat", 111),  # 100 s of silence count 30 s
            ("view_end", 112),
        )
    )
    check(view, watch_time_ms=42_000, playing_time_ms=41_000, view_end=T0 + 112 * S)
    view, _ = one_view(
        events(
            ("playback_request", 0), ("playback_start", 1), ("heartbeat", 11), ("view_end", 111)
        ),
        max_event_gap_ms=60_000,
    )
    check(view, watch_time_ms=71_000)


def test_timeout_splits_and_closes_at_last_event_plus_timeout():
    result = truth(
        events(
            ("playback_request", 0),
            ("playback_start", 1),
            ("heartbeat", 10),
            ("playback_request", 610),  # exactly view_timeout after the last event
            ("playback_start", 611),
            ("view_end", 620),
        )
    )
    first, second = result.views
    check(
        first,
        view_id="s#1",
        end_reason="timeout",
        view_end=T0 + 10 * S,
        closed_at=T0 + 610 * S,
        watch_time_ms=40_000,  # 10 s + the capped 30 s after the last event
        playing_time_ms=39_000,
        exit_before_video_start=False,
    )
    check(second, view_id="s#2", view_start=T0 + 610 * S, startup_time_ms=1_000, end_reason="close")
    first_slices = [s for s in result.slices if s["view_id"] == "s#1"]
    # minutes 0 (the time) and 10 (the end, no time); nothing in between
    assert [s["minute"] for s in first_slices] == [T0, T0 + 10 * MIN]
    check(first_slices[0], watch_time_ms=40_000, ended=False, active=True)
    check(
        first_slices[1],
        opened=False,
        watch_time_ms=0,
        playing_time_ms=0,
        ended=True,
        active=False,
        startup_time_ms=None,
    )
    # A gap just below the timeout keeps one view.
    view, _ = one_view(
        events(
            ("playback_request", 0),
            ("playback_start", 1),
            ("playback_pause", 10),
            ("playback_request", 609.999),
            ("playback_start", 610.5),
            ("view_end", 611),
        )
    )
    check(view, watch_time_ms=10_000 + 501 + 500)


def test_view_still_open_at_the_end_times_out():
    view, slices = one_view(
        events(
            ("playback_request", 0),
            ("playback_start", 1),
            ("heartbeat", 20),
            ("heartbeat", 40),
            ("heartbeat", 50),
        )
    )
    check(
        view,
        end_reason="timeout",
        view_end=T0 + 50 * S,
        closed_at=T0 + 650 * S,
        watch_time_ms=80_000,
    )
    assert [s["minute"] for s in slices] == [T0, T0 + MIN, T0 + 10 * MIN]
    assert [s["watch_time_ms"] for s in slices] == [60_000, 20_000, 0]
    assert [s["ended"] for s in slices] == [False, False, True]


def test_new_video_splits_same_video_resumes():
    result = truth(
        events(
            ("playback_request", 0),
            ("playback_start", 1),
            ("heartbeat", 11),
            ("playback_request", 20, {"video_id": "v2"}),
            ("playback_start", 21, {"video_id": "v2"}),
            ("playback_finish", 30, {"video_id": "v2"}),
        )
    )
    first, second = result.views
    check(
        first,
        video_id="v1",
        end_reason="new_video",
        view_end=T0 + 11 * S,
        closed_at=T0 + 20 * S,
        watch_time_ms=20_000,
        playing_time_ms=19_000,
    )
    check(
        second,
        view_id="s#2",
        video_id="v2",
        startup_time_ms=1_000,
        watch_time_ms=10_000,
        playing_time_ms=9_000,
        end_reason="finish",
    )
    view, _ = one_view(
        events(
            ("playback_request", 0),
            ("playback_start", 1),
            ("playback_pause", 5),
            ("playback_request", 9),  # same video: a resume, state waiting
            ("playback_start", 10),
            ("view_end", 15),
        )
    )
    check(view, watch_time_ms=11_000, playing_time_ms=9_000, startup_time_ms=1_000)
    view, _ = one_view(
        events(
            ("playback_request", 0),
            ("playback_start", 1),
            ("playback_request", 9),  # while playing (its pause was lost): waiting, too
            ("playback_start", 12),
            ("view_end", 15),
        )
    )
    check(view, watch_time_ms=15_000, playing_time_ms=11_000, startup_time_ms=1_000)


def test_closing_events_and_what_follows_them():
    result = truth(
        events(
            ("playback_request", 0),
            ("playback_start", 1),
            ("playback_fail", 5),
            ("heartbeat", 20),  # after the close: opens a lost-start view
            ("view_end", 25),
        )
    )
    failed, lost = result.views
    check(
        failed,
        end_reason="fail",
        playback_failed=True,
        video_start_failure=False,
        exit_before_video_start=False,
        view_end=T0 + 5 * S,
        closed_at=T0 + 5 * S,
        watch_time_ms=5_000,
    )
    check(lost, view_id="s#2", start_missing=True, end_reason="close", watch_time_ms=5_000)
    for kind, reason in (("playback_finish", "finish"), ("view_end", "close")):
        view, _ = one_view(events(("playback_request", 0), ("playback_start", 1), (kind, 3)))
        check(view, end_reason=reason, closed_at=T0 + 3 * S, watch_time_ms=3_000)


def test_video_start_failure():
    view, slices = one_view(events(("playback_request", 0), ("playback_fail", 3)))
    check(
        view,
        started=False,
        startup_time_ms=None,
        playback_failed=True,
        video_start_failure=True,
        exit_before_video_start=False,
        watch_time_ms=3_000,
        playing_time_ms=0,
        rebuffer_ratio=0.0,
        avg_bitrate_kbps=None,
    )
    check(slices[0], first_frame=False, failed=True, vsf=True, ebvs=False, ended=True, active=False)


def test_exit_before_video_start_by_close_and_by_timeout():
    view, _ = one_view(events(("playback_request", 0), ("view_end", 4)))
    check(view, exit_before_video_start=True, video_start_failure=False, playback_failed=False)
    view, slices = one_view(events(("playback_request", 30)))
    check(
        view,
        end_reason="timeout",
        exit_before_video_start=True,
        watch_time_ms=30_000,
        closed_at=T0 + 630 * S,
        rebuffer_ratio=0.0,
    )
    assert [(s["minute"], s["watch_time_ms"], s["ebvs"]) for s in slices] == [
        (T0, 30_000, False),
        (T0 + 10 * MIN, 0, True),
    ]


def test_lost_start():
    view, slices = one_view(
        events(
            ("heartbeat", 5),
            ("heartbeat", 15),
            ("playback_pause", 20),
            ("playback_request", 30),
            ("playback_start", 31),
            ("view_end", 40),
        )
    )
    check(
        view,
        start_missing=True,
        started=True,
        startup_time_ms=None,
        view_start=T0 + 5 * S,
        watch_time_ms=25_000,
        playing_time_ms=24_000,
        exit_before_video_start=False,
    )
    check(slices[0], opened=True, first_frame=False, startup_time_ms=None)
    # opened by a stall: stalled, and the stall counts (the view is past its first frame)
    view, _ = one_view(events(("playback_stall", 0), ("playback_start", 3), ("view_end", 5)))
    check(view, start_missing=True, stall_count=1, stall_time_ms=3_000, playing_time_ms=2_000)
    # opened by a closing event: a view of one instant, never VSF or EBVS
    view, slices = one_view(events(("playback_fail", 7)))
    check(
        view,
        start_missing=True,
        playback_failed=True,
        video_start_failure=False,
        exit_before_video_start=False,
        watch_time_ms=0,
        rebuffer_ratio=None,
    )
    assert len(slices) == 1 and slices[0]["opened"] and slices[0]["ended"]


def test_ads_are_apart_from_content():
    view, slices = one_view(
        events(
            ("playback_request", 0),
            ("ad_break_start", 0.5),
            ("heartbeat", 10.5),
            ("playback_fail", 12, {"error_code": "AD_ERROR"}),  # the ad failed, not the view
            ("ad_break_end", 20.5),
            ("playback_start", 21),
            ("ad_break_start", 30),
            ("playback_stall", 35),  # the ad's own stall
            ("ad_break_end", 45),
            ("view_end", 50),
        )
    )
    # content: startup 0-0.5 s and 20.5-21 s, playing 21-30 s and 45-50 s; ads 0.5-20.5 s and
    # 30-45 s; ads never split a view
    check(
        view,
        startup_time_ms=1_000,
        startup_with_ads_ms=500,
        watch_time_ms=15_000,
        playing_time_ms=14_000,
        stall_count=0,
        ad_time_ms=35_000,
        ad_breaks=2,
        ad_failures=1,
        playback_failed=False,
        end_reason="close",
    )
    check(slices[0], ad_time_ms=35_000, ad_breaks=2, ad_failures=1, watch_time_ms=15_000)
    # an exit during the pre-roll: an exit before video start, with the ad's first frame
    view, _ = one_view(events(("playback_request", 0), ("ad_break_start", 1), ("view_end", 9)))
    check(view, exit_before_video_start=True, ad_time_ms=8_000, startup_time_ms=None)


def test_duplicates_dropped_and_out_of_order_reordered():
    evs = events(
        ("playback_request", 0),
        ("playback_start", 1),
        ("playback_stall", 5),
        ("playback_start", 7),
        ("view_end", 9),
    )
    expected = compute(evs)
    values = [json.dumps(e) for e in evs]
    # the stall re-sent, the start delivered after the stall and the end
    delivered = [values[0], values[2], values[2], values[4], values[1], values[3], values[2]]
    result = classify(delivered)
    assert result.duplicates == ["e003", "e003"]
    assert result.late == [] and result.malformed == 0 and result.valid == 7
    assert compute(result.accepted) == expected
    check(expected.views[0], stall_count=1, stall_time_ms=2_000, watch_time_ms=9_000)


def test_timestamps_epoch_ms_or_iso_8601_with_offset():
    for text, ms in (
        ("1764000000000", T0),
        ("1764000000000.9", T0),
        ("2025-11-24T16:00:00Z", T0),
        ("2025-11-24T16:00Z", T0),
        ("2025-11-24T17:00:00.5+01:00", T0 + 500),
        ("2025-11-24 10:30:00.123456-0530", T0 + 123),
        ("2025-11-24T16:00:00", None),  # no offset
        ("2025-13-24T16:00:00Z", None),
        ("soon", None),
    ):
        assert epoch_ms(text) == ms, text
    for offset in (0, 60, -300, 330):
        assert epoch_ms(iso_ts(T0 + 123, offset)) == T0 + 123


def test_late_events_and_malformed_records():
    far = events(("heartbeat", 0), ("heartbeat", 300), ("heartbeat", 100), ("heartbeat", 180))
    values = [json.dumps(e) for e in far] + ["{not json", "[1]"]
    result = classify(values, watermark_ms=120_000)
    # after ts 300 s the watermark is 180 s: 100 s is late, 180 s is not (not below it)
    assert result.late == ["e003"]
    assert [e["event_id"] for e in result.accepted] == ["e001", "e002", "e004"]
    assert result.malformed == 2 and result.valid == 4
    assert result.final_watermark_ms == T0 + 180 * S


def test_tie_break_order():
    # delivered heartbeat, request for another video, close - all at 10 s
    result = truth(
        events(
            ("playback_request", 0),
            ("playback_start", 1),
            ("heartbeat", 10),
            ("playback_request", 10, {"video_id": "v2"}),
            ("view_end", 10),
            ("playback_start", 11, {"video_id": "v2"}),
            ("view_end", 12, {"video_id": "v2"}),
        )
    )
    first, second = result.views
    # view_end first: the old view closes; the request opens view 2, the heartbeat joins it
    check(first, end_reason="close", view_end=T0 + 10 * S, watch_time_ms=10_000)
    check(second, video_id="v2", view_start=T0 + 10 * S, startup_time_ms=1_000)
    # rendition_update before playback_start at the same ts: known bitrate, not a switch
    view, _ = one_view(
        events(
            ("playback_request", 0),
            ("playback_start", 1),
            ("rendition_update", 1, {"bitrate_kbps": 1600}),
            ("view_end", 5),
        )
    )
    check(view, bitrate_switches=0, avg_bitrate_kbps=1600.0, startup_time_ms=1_000)
    # same type and ts: by event_id, whatever the delivery order (e005 applies last)
    evs = events(
        ("playback_request", 0),
        ("rendition_update", 0.5, {"bitrate_kbps": 1000}),
        ("playback_start", 1),
        ("rendition_update", 5, {"bitrate_kbps": 4000}),
        ("rendition_update", 5, {"bitrate_kbps": 2000}),
        ("view_end", 15),
    )
    view, _ = one_view(evs[::-1])
    check(view, avg_bitrate_kbps=(1000 * 4 + 2000 * 10) / 14, bitrate_switches=2)


def test_average_bitrate_is_weighted_by_playing_time():
    view, _ = one_view(
        events(
            ("playback_request", 0),
            ("rendition_update", 0.5, {"bitrate_kbps": 1000}),
            ("playback_start", 1),
            ("rendition_update", 11, {"bitrate_kbps": 4000}),
            ("playback_pause", 21),
            ("playback_request", 31),
            ("playback_start", 32),
            ("view_end", 42),
        )
    )
    check(view, avg_bitrate_kbps=3000.0, bitrate_switches=1, playing_time_ms=30_000)
    # playing time before any bitrate is known is left out
    view, _ = one_view(
        events(
            ("playback_request", 0),
            ("playback_start", 1),
            ("rendition_update", 11, {"bitrate_kbps": 2000}),
            ("view_end", 21),
        )
    )
    check(view, avg_bitrate_kbps=2000.0, bitrate_switches=1)


def test_picture_upscale_downscale_and_downshifts():
    def rendition(at, kbps, width, height):
        fields = {"bitrate_kbps": kbps, "video_width": width, "video_height": height}
        return ("rendition_update", at, fields)

    view, slices = one_view(
        events(
            ("playback_request", 0, {"player_width": 1920, "player_height": 1080}),
            rendition(0.5, 3000, 1280, 720),
            ("playback_start", 50),
            rendition(60, 6000, 1920, 1080),
            rendition(70, 1600, 960, 540),
            # resized to a 640x360 window: the 960x540 rendition shrinks by a third
            ("heartbeat", 80, {"player_width": 640, "player_height": 360}),
            ("playback_finish", 90),
        )
    )
    # playing 50-60 s upscaled 50 %, 60-70 s at size, 70-80 s upscaled 100 %, 80-90 s
    # downscaled 33.3 %
    check(view, bitrate_switches=2, bitrate_downshifts=1, max_upscale_pct=100.0)
    assert view["upscale_pct"] == pytest.approx((50 + 100) / 4)
    assert view["downscale_pct"] == pytest.approx(33.33 / 4)  # in whole basis points
    assert view["avg_bitrate_kbps"] == pytest.approx((3000 + 6000 + 1600 + 1600) / 4)
    quality = 100 * math.exp(-0.33 * (0.15 * 1.0 + 0.85 * 0.375))
    assert view["score_video_quality"] == pytest.approx(quality)
    # the parts of each minute add up to the view's
    first, second = slices
    check(first, bitrate_ms=10_000, scaled_ms=10_000, upscale_bp_ms=5_000 * 10_000)
    check(second, bitrate_kbps_ms=92_000_000, scaled_ms=30_000, bitrate_downshifts=1)
    check(second, upscale_bp_ms=10_000 * 10_000, downscale_bp_ms=3_333 * 10_000)
    # no display size: nothing is scaled, and there is no video quality score
    view, _ = one_view(events(rendition(0, 3000, 1280, 720), ("view_end", 10)))
    check(view, upscale_pct=None, max_upscale_pct=None, score_video_quality=None)


def test_scores_of_hand_worked_views():
    # a clean start after 2 s; two stalls over 6 s of 60 s watched
    view, _ = one_view(
        events(
            ("playback_request", 0),
            ("playback_start", 2),
            ("playback_stall", 20),
            ("playback_start", 23),
            ("playback_stall", 40),
            ("playback_start", 43),
            ("view_end", 60),
        )
    )
    smooth = (100 / math.sqrt(2) + 100 * math.exp(-10 * 6 / 60)) / 2
    check(view, score_playback_success=100.0, score_startup=80.0, score_video_quality=None)
    assert view["score_smoothness"] == pytest.approx(smooth)
    assert view["score_overall"] == pytest.approx((80 + smooth) / 2)
    # a failure after the start: 0 overall
    view, _ = one_view(events(("playback_request", 0), ("playback_start", 2), ("playback_fail", 9)))
    check(view, score_playback_success=0.0, score_startup=80.0, score_overall=0.0)
    # exits before the start: 50 after 3 s, no score at all after 0.5 s
    view, _ = one_view(events(("playback_request", 0), ("view_end", 3)))
    check(view, score_playback_success=50.0, score_startup=None, score_overall=50.0)
    view, _ = one_view(events(("playback_request", 0), ("view_end", 0.5)))
    check(view, score_playback_success=None, score_smoothness=None, score_overall=None)
    # a video start failure: 0, no startup or smoothness score
    view, _ = one_view(events(("playback_request", 0), ("playback_fail", 4)))
    check(view, score_playback_success=0.0, score_smoothness=None, score_overall=0.0)


def test_minute_and_hour_edge_split():
    view, slices = one_view(
        events(
            ("playback_request", -10),
            ("playback_start", -9),
            ("heartbeat", 1),
            ("playback_stall", 2),
            ("playback_start", 4),
            ("view_end", 15),
        )
    )
    check(view, watch_time_ms=25_000, playing_time_ms=22_000, stall_time_ms=2_000)
    assert [s["minute"] for s in slices] == [T0 - MIN, T0]  # 15:59 and 16:00
    check(
        slices[0],
        opened=True,
        first_frame=True,
        startup_time_ms=1_000,
        watch_time_ms=10_000,
        playing_time_ms=9_000,
        stall_count=0,
        ended=False,
    )
    check(
        slices[1],
        opened=False,
        first_frame=False,
        startup_time_ms=None,
        watch_time_ms=15_000,
        playing_time_ms=13_000,
        stall_time_ms=2_000,
        stall_count=1,
        ended=True,
    )


def test_closing_slice_in_a_later_minute_has_zero_times():
    result = truth(
        events(
            ("playback_request", 0),
            ("playback_start", 1),
            ("heartbeat", 20),
            ("playback_request", 70, {"video_id": "v2"}),  # the silence counts 30 s, to 50 s
        )
    )
    first = [s for s in result.slices if s["view_id"] == "s#1"]
    assert [(s["minute"], s["watch_time_ms"], s["ended"]) for s in first] == [
        (T0, 50_000, False),
        (T0 + MIN, 0, True),
    ]
    check(result.views[0], closed_at=T0 + 70 * S, end_reason="new_video", watch_time_ms=50_000)


def test_paused_view_has_no_active_minute():
    view, slices = one_view(
        events(
            ("playback_request", 0),
            ("playback_start", 1),
            ("heartbeat", 20),
            ("heartbeat", 40),
            ("playback_pause", 50),
            ("heartbeat", 60),
            ("heartbeat", 70),
            ("view_end", 75),
        )
    )
    check(view, watch_time_ms=50_000)
    assert [s["active"] for s in slices] == [True, False]


def test_a_silence_longer_than_the_gap_cap_has_no_slice():
    """Minutes 2 and 3 hold no event and no counted time (the 30-s cap after the heartbeat at
    70 s ends at 100 s, in minute 1): they get no slice, though the view resumes in minute 4."""
    view, slices = one_view(
        events(
            ("playback_request", 0),
            ("playback_start", 1),
            ("heartbeat", 70),
            ("heartbeat", 250),
            ("view_end", 260),
        )
    )
    check(view, watch_time_ms=1_000 + 30_000 + 30_000 + 10_000)  # each gap capped at 30 s
    assert [s["minute"] for s in slices] == [T0, T0 + MIN, T0 + 4 * MIN]
    assert [s["watch_time_ms"] for s in slices] == [31_000, 30_000, 10_000]


# --------------------------------------------------------------------------------------------
# The generated data set


@pytest.fixture(scope="module")
def sim():
    return simulate(Spec(sessions=2000, seed=42, start_ms=T0 - 20 * MIN, span_s=1800))


@pytest.fixture(scope="module")
def parsed(sim):
    """(key, value, event or None) of every record, in delivery order."""
    return [(key, value, parse(value)) for key, value in sim.records]


def test_slices_sum_to_their_view(sim):
    by_view = defaultdict(list)
    for s in sim.slices:
        by_view[s["view_id"]].append(s)
    assert set(by_view) == {v["view_id"] for v in sim.views}
    for view in sim.views:
        slices = by_view[view["view_id"]]
        minutes = [s["minute"] for s in slices]
        assert minutes == sorted(set(minutes)) and all(m % MIN == 0 for m in minutes)
        for column in (
            "watch_time_ms",
            "playing_time_ms",
            "stall_time_ms",
            "stall_count",
            "bitrate_downshifts",
            "ad_time_ms",
            "ad_breaks",
            "ad_failures",
        ):
            assert sum(s[column] for s in slices) == view[column], (view, column)
        startups = [s["startup_time_ms"] for s in slices if s["startup_time_ms"] is not None]
        assert startups == ([] if view["startup_time_ms"] is None else [view["startup_time_ms"]])
        assert sum(s["opened"] for s in slices) == 1 and slices[0]["opened"]
        assert sum(s["ended"] for s in slices) == 1
        ended = next(s for s in slices if s["ended"])
        assert ended["minute"] == view["closed_at"] // MIN * MIN
        assert sum(s["failed"] for s in slices) == view["playback_failed"]
        assert sum(s["vsf"] for s in slices) == view["video_start_failure"]
        assert sum(s["ebvs"] for s in slices) == view["exit_before_video_start"]
        first_frames = sum(s["first_frame"] for s in slices)
        assert first_frames == (view["started"] and not view["start_missing"])
        # active: the viewer played, stalled or watched an ad in the minute
        played = ("playing_time_ms", "stall_time_ms", "ad_time_ms")
        assert all(s["active"] == (sum(s[c] for c in played) > 0) for s in slices)
        assert all(s["viewer_id"] == view["viewer_id"] for s in slices)


def test_view_invariants(sim):
    rules = sim.spec.rules
    for v in sim.views:
        assert 0 <= v["playing_time_ms"] <= v["watch_time_ms"]
        assert v["stall_time_ms"] + v["playing_time_ms"] <= v["watch_time_ms"]
        span = v["view_end"] - v["view_start"]
        tail = rules.max_event_gap_ms if v["end_reason"] in ("timeout", "new_video") else 0
        assert v["watch_time_ms"] <= span + tail
        assert v["closed_at"] >= v["view_end"]
        if v["end_reason"] == "timeout":
            assert v["closed_at"] == v["view_end"] + rules.view_timeout_ms
        assert v["video_start_failure"] + v["exit_before_video_start"] <= 1
        assert not (v["start_missing"] and (v["video_start_failure"] or v["startup_time_ms"]))
        if v["startup_time_ms"] is not None:
            assert v["started"] and v["startup_time_ms"] >= 0


def test_the_data_set_covers_every_case(sim, parsed):
    views = sim.views
    summary = sim.summary
    assert {v["end_reason"] for v in views} == {"finish", "fail", "close", "new_video", "timeout"}
    assert sum(v["start_missing"] for v in views) > 10
    assert sum(v["video_start_failure"] for v in views) > 10
    assert sum(v["exit_before_video_start"] for v in views) > 10
    assert sum(v["stall_count"] > 0 for v in views) > 50
    assert sum(v["bitrate_switches"] > 0 for v in views) > 50
    assert sum(v["startup_time_ms"] is None and v["started"] for v in views) > 10
    assert sum(v["watch_time_ms"] > v["view_end"] - v["view_start"] for v in views) > 10
    # picture quality: renditions above and below the display size, downshifts
    assert sum((v["upscale_pct"] or 0) > 0 for v in views) > 50
    assert sum((v["downscale_pct"] or 0) > 0 for v in views) > 50
    assert sum(v["bitrate_downshifts"] > 0 for v in views) > 20
    assert sum(v["score_video_quality"] is not None for v in views) > 100
    # ads: pre-rolls (content startup apart), mid-rolls, failures inside breaks
    with_ads = [v for v in views if v["startup_with_ads_ms"] is not None]
    assert sum(v["startup_with_ads_ms"] < v["startup_time_ms"] for v in with_ads) > 10
    assert sum(v["ad_breaks"] > 0 and not v["playback_failed"] for v in views) > 20
    assert sum(v["ad_failures"] > 0 for v in views) > 3
    sessions = defaultdict(int)
    for v in views:
        sessions[v["session_id"]] += 1
    assert sum(n > 1 for n in sessions.values()) > 50
    assert any(v["view_start"] < T0 <= v["view_end"] for v in views)  # across an hour edge
    assert sum(len({s for s in _minutes(v)}) > 1 for v in views) > 500  # across minute edges
    for key in ("duplicates", "out_of_order", "late", "malformed"):
        assert summary[key] > 20, key
    assert summary["records"] == summary["valid"] + summary["malformed"]
    assert summary["accepted"] == summary["valid"] - summary["duplicates"] - summary["late"]
    assert summary["late_event_ids"] == sim.late_event_ids
    assert summary["views"] == len(views)
    iso = [v for _, v, e in parsed if e and isinstance(json.loads(v)["ts"], str)]
    assert len(iso) > 100  # valid events with ts as ISO-8601 text
    kinds = {e["event_type"] for _, _, e in parsed if e}
    assert kinds == {
        "playback_request",
        "playback_start",
        "playback_stall",
        "playback_pause",
        "seek_start",
        "seek_end",
        "rendition_update",
        "heartbeat",
        "playback_finish",
        "playback_fail",
        "ad_break_start",
        "ad_break_end",
        "view_end",
    }


def _minutes(view):
    return range(view["view_start"] // MIN, view["view_end"] // MIN + 1)


def test_delivery_model(sim, parsed):
    """Late events are at least 2 watermarks behind; everything else at most a quarter."""
    wm = sim.spec.watermark_ms
    late = set(sim.late_event_ids)
    max_ts = None
    ids = set()
    by_session = defaultdict(list)
    for key, _, event in parsed:
        if event is None:
            continue
        assert key == event["session_id"]
        if event["event_id"] in late:
            assert max_ts - event["ts"] >= LATE_MIN_WATERMARKS * wm
        else:
            assert max_ts is None or max_ts - event["ts"] <= wm // 4
            max_ts = event["ts"] if max_ts is None else max(max_ts, event["ts"])
            if event["event_id"] not in ids:
                by_session[event["session_id"]].append(event["ts"])
            ids.add(event["event_id"])
    # every event has its own event_id; a duplicate is a byte-identical copy
    values = defaultdict(set)
    for _, value, event in parsed:
        if event is not None:
            values[event["event_id"]].add(value)
    assert all(len(v) == 1 for v in values.values())
    assert len(values) == sim.summary["valid"] - sim.summary["duplicates"]
    # ts strictly increases within a session but in the few tie-break sessions
    tied = [s for s, ts in by_session.items() if len(set(ts)) < len(ts)]
    assert 0 < len(tied) < 0.05 * len(by_session)


def test_a_late_event_follows_a_record_of_its_session():
    """A session's first record sets its clock offset, so a late receipt there reads as a slow
    clock: the delivery model delays only events that follow a record of their session, and
    the pipeline's classification agrees with it."""
    import random

    wm = Rules.watermark_ms
    # one long session that carries the watermark, and lone playback requests sent among it
    evs = events(*(("heartbeat", 10 * n, {"received_at": T0 + 10_000 * n}) for n in range(360)))
    for n in range(100):
        sent = T0 + 30_000 * n
        lone = events(("playback_request", 30 * n, {"received_at": sent}), session=f"lone{n}")
        evs.extend({**e, "event_id": f"lone{n}"} for e in lone)
    evs.sort(key=lambda e: e["ts"])
    delivery = deliver(
        evs, Faults(late=0.5, duplicate=0, out_of_order=0, malformed=0), wm, random.Random(2)
    )
    assert delivery.late_event_ids, "the long session still has late events"
    assert not [e for e in delivery.late_event_ids if e.startswith("lone")]
    classified = classify((value for _, value in delivery.records), wm)
    assert classified.late == delivery.late_event_ids


def test_malformed_records_never_parse():
    import random

    rng = random.Random(3)
    near = events(("heartbeat", 0))[0]
    for _ in range(500):
        assert parse(malformed_record(rng, near)) is None


def test_reproducible(sim):
    again = simulate(sim.spec)
    assert again.records == sim.records
    assert again.views == sim.views and again.slices == sim.slices
    assert again.summary == sim.summary
    other = simulate(Spec(sessions=50, seed=43, start_ms=sim.start_ms))
    assert other.records[:50] != sim.records[:50]


def test_cli_writes_identical_files(tmp_path, capsys):
    args = ["--sessions", "40", "--seed", "9", "--start", "2025-11-24T15:50:00Z", "--flush"]
    simulate_main(["--out", str(tmp_path / "a"), *args])
    simulate_main(["--out", str(tmp_path / "b"), *args])
    for name in ("events.jsonl", "truth_views.jsonl", "truth_slices.jsonl", "truth_summary.json"):
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes()
    summary = json.loads((tmp_path / "a" / "truth_summary.json").read_text())
    lines = (tmp_path / "a" / "events.jsonl").read_text().splitlines()
    assert len(lines) == summary["records"]
    assert summary["start_ms"] == T0 - 10 * MIN and not summary["start_from_clock"]
    views = [json.loads(line) for line in (tmp_path / "a" / "truth_views.jsonl").open()]
    assert len(views) == summary["views"]
    # the flush event closes every other view before the final watermark
    others = [v for v in views if v["session_id"] != "flush"]
    assert all(v["closed_at"] <= summary["final_watermark_ms"] for v in others)


def test_no_faults_means_every_event_counts():
    sim = simulate(
        Spec(sessions=30, seed=5, start_ms=T0, faults=Faults(0.0, 0.0, 0.0, 0.0, iso_ts=0.0))
    )
    assert sim.summary["accepted"] == sim.summary["records"] == len(sim.records)
    assert sim.late_event_ids == []


def test_truth_ignores_input_order_and_shifts_with_time(sim):
    import random

    accepted = classify((v for _, v in sim.records), sim.spec.watermark_ms).accepted
    some = {f"s-42-{n}" for n in range(0, 2000, 5)}
    accepted = [e for e in accepted if e["session_id"] in some]
    views = [v for v in sim.views if v["session_id"] in some]
    ids = {v["view_id"] for v in views}
    slices = [s for s in sim.slices if s["view_id"] in ids]
    shuffled = accepted[:]
    random.Random(1).shuffle(shuffled)
    again = compute(shuffled, sim.spec.rules)
    assert again.views == views and again.slices == slices
    shifted = compute([{**e, "ts": e["ts"] + 7 * MIN} for e in accepted], sim.spec.rules)
    moved = ("view_start", "view_end", "closed_at")
    assert shifted.views == [{**v, **{k: v[k] + 7 * MIN for k in moved}} for v in views]
    assert shifted.slices == [{**s, "minute": s["minute"] + 7 * MIN} for s in slices]


def test_final_views_and_slices(sim):
    views, slices = sim.final()
    w = sim.summary["final_watermark_ms"]
    assert 0 < len(views) < len(sim.views) and 0 < len(slices) < len(sim.slices)
    assert all(v["closed_at"] < w for v in views)
    assert all(s["minute"] + MIN < w for s in slices)
    # with a flush event, every view but the flush session's is final
    flushed = simulate(Spec(sessions=40, seed=9, start_ms=T0, flush=True))
    views, slices = flushed.final()
    others = [v for v in flushed.views if v["session_id"] != "flush"]
    assert views == others
    assert slices == [s for s in flushed.slices if not s["view_id"].startswith("flush#")]
