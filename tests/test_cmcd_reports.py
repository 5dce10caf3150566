"""CMCD v2 event reports (CTA-5004-B event mode) become views: the sequence dash.js 5.2.1 sent
while it played a local stream in headless Chromium (docs/inputs.md), as `vsa collect` writes
it (an envelope with the receipt time and the client's stamps), through `vsa batch`."""

from __future__ import annotations

import json

from vsa import pipeline
from vsa.config import VsaConfig
from vsa.sinks import read_table

# The real sequence, `sid` shortened: a heartbeat before any play state, startup buffering
# (`sta=r` before the first `sta=p`: not a stall), a stall, then a pause and the end.
DASH_JS = """\
cid="bar-content",e=t,sid="s1",ts=1796554615546,v=2
bl=(0;v 0;a),cid="bar-content",e=ps,sid="s1",sta=s,ts=1796554615553,v=2
bl=(0;v 0;a),br=(300;v),cid="bar-content",e=ps,sf=d,sid="s1",st=v,sta=r,ts=1796554615766,v=2
bl=(2000;v 0;a),br=(300;v),cid="bar-content",e=ps,mtp=(45300;v),sf=d,sid="s1",st=v,sta=p,ts=1796554615920,v=2
cid="bar-content",e=t,sf=d,sid="s1",st=v,sta=p,ts=1796554625545,v=2
bl=(0;v 0;a),br=(300;v),cid="bar-content",e=ps,mtp=(46000;v),sf=d,sid="s1",st=v,sta=r,ts=1796554627901,v=2
bl=(2000;v 0;a),br=(300;v),cid="bar-content",e=ps,mtp=(145800;v),sf=d,sid="s1",st=v,sta=p,ts=1796554632474,v=2
bl=(0;v 0;a),br=(300;v),cid="bar-content",e=ps,mtp=(143000;v),sf=d,sid="s1",st=v,sta=a,ts=1796554644480,v=2
bl=(0;v 0;a),br=(300;v),cid="bar-content",e=ps,mtp=(143000;v),sf=d,sid="s1",st=v,sta=e,ts=1796554644484,v=2
"""  # noqa: E501
CHROME = (
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/156.0.0.0 Safari/537.36"
)


def envelope(line: str, received_at: int) -> str:
    """A report as `vsa collect` writes it to the player topic."""
    return json.dumps(
        {"cmcd": line, "received_at": received_at, "client_ip": "81.2.69.142", "user_agent": CHROME}
    )


def ts_of(line: str) -> int:
    return int(line.split("ts=")[1].split(",")[0])


def test_a_dash_js_playback_reported_in_cmcd_v2_is_one_view(spark, tmp_path):
    lines = DASH_JS.splitlines()
    # Each report reached the collector 80 ms after the player stamped it.
    records = [envelope(line, ts_of(line) + 80) for line in lines]
    records += [
        records[5],  # the reporter sent one report again (a retry): counted once
        envelope('e=rr,sid="s1",ts=1796554626000,v=2', 1796554626080),  # no use to the model
        envelope("e=ps,sta=,sid", 1796554626100),  # not a CMCD dictionary
        envelope('e=t,sid="s1",sta=e,ts=1796554650000,v=2', 1796554650080),  # after the end
        # A bare line (no envelope) of another player: read too, without the stamps.
        'cid="c2",e=ps,sid="s2",sta=s,ts=1796554616000,v=2',
        "not json, not cmcd",
    ]
    path = tmp_path / "reports.jsonl"
    path.write_text("\n".join(records) + "\n")
    config = VsaConfig(output_root=str(tmp_path / "out"))

    pipeline.run_batch(spark, config, str(path))

    (view,) = read_table(spark, config, "views").where("session_id = 's1'").collect()
    # Startup runs from the view's first report to its first `sta=p`.
    assert view.startup_time_ms == 1796554615920 - 1796554615546
    assert view.started and not view.start_missing and view.end_reason == "finish"
    assert view.stall_count == 1
    assert view.stall_time_ms == 1796554632474 - 1796554627901
    # Watch time runs to the pause; the pause itself (4 ms) is not watched.
    assert view.watch_time_ms == 1796554644480 - 1796554615546
    assert view.playing_time_ms == view.watch_time_ms - view.startup_time_ms - view.stall_time_ms
    assert view.avg_bitrate_kbps == 300
    assert view.video_id == "bar-content"
    # Times follow the collector's clock: the device's plus the least delay seen (80 ms).
    assert view.view_start.timestamp() * 1000 == 1796554615546 + 80
    assert view.country == "GB" and view.browser_family == "Chrome"

    events = read_table(spark, config, "player_events")
    # player_events holds every valid record as received, the retried report too.
    assert events.where("session_id = 's1'").count() == len(lines) + 1
    s1 = events.where("session_id = 's1'").dropDuplicates(["event_id"]).orderBy("ts")
    kinds = [r.event_type for r in s1.collect()]
    assert kinds == [
        "playback_request",
        "playback_request",
        "playback_stall",
        "playback_start",
        "heartbeat",
        "playback_stall",
        "playback_start",
        "playback_pause",
        "playback_finish",
    ]
    assert events.where("session_id = 's2'").count() == 1
    letters = sorted(
        (r.reason, r.detail) for r in read_table(spark, config, "dead_letter").collect()
    )
    assert [reason for reason, _ in letters] == ["duplicate", "malformed_cmcd", "malformed_json"]
    assert letters[1][1].startswith("CMCD: ")
