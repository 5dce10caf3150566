"""``vsa simulate --cdn-format F`` for every CDN log format, with the default fault shares: the
malformed player records among the events never break the CDN log of the same sessions."""

from __future__ import annotations

import json
import re

import pytest

from vsa.cli import main
from vsa.config import CDN_LOG_FORMATS

START = "2025-11-24T16:00:00Z"
# The first fields of a CloudFront real-time log record, in CloudFront's documented order
# (vsa's default field list keeps it).
REALTIME_FIELDS = [
    "timestamp",
    "c-ip",
    "time-to-first-byte",
    "sc-status",
    "sc-bytes",
    "cs-method",
    "cs-protocol",
    "cs-host",
    "cs-uri-stem",
]
NGINX = re.compile(
    r'^\S+ - - \[[^\]]+\] "GET (\S+) HTTP/1\.1" (\d{3}) \d+ "-" "[^"]*" '
    r'rt=[0-9.]+ ut="[0-9.]+" cs=\S+$'
)
# What the simulated players request: the manifest, video segments at a whole bitrate, audio.
PATH = re.compile(r"^/live/(master\.m3u8|[0-9]+k/seg_[0-9]{5}\.m4s|audio/seg_[0-9]{5}\.aac)$")


def path_and_status(fmt: str, line: str, names: list[str]) -> tuple[str, int]:
    """The URI path and the HTTP status of one line of ``fmt`` (``names``: the leading
    tab-separated fields of the CloudFront formats)."""
    if fmt in ("cloudfront", "cloudfront-realtime"):
        row = dict(zip(names, line.split("\t"), strict=False))
        return row["cs-uri-stem"], int(row["sc-status"])
    if fmt == "nginx":
        match = NGINX.match(line)
        assert match, line
        return match[1].partition("?")[0], int(match[2])
    record = json.loads(line)
    if fmt == "akamai-ds2":
        return record["reqPath"], int(record["statusCode"])
    if fmt == "edgecast":
        return record["path"], record["status_code"]
    return record["url"].partition("?")[0], record["status"]  # fastly


def text_bitrate(record: str) -> bool:
    """Whether ``record`` is a JSON object whose ``bitrate_kbps`` is text."""
    try:
        event = json.loads(record)
    except ValueError:
        return False
    return isinstance(event, dict) and isinstance(event.get("bitrate_kbps"), str)


@pytest.mark.parametrize("fmt", CDN_LOG_FORMATS)
def test_simulate_writes_a_cdn_log_despite_malformed_events(tmp_path, capsys, fmt):
    assert main(["simulate", "--out", str(tmp_path), "--start", START, "--cdn-format", fmt]) == 0
    # The default fault shares give malformed events, one with a text bitrate among them.
    assert any(map(text_bitrate, (tmp_path / "events.jsonl").read_text().splitlines()))

    lines = (tmp_path / "cdn.log").read_text().splitlines()
    names = REALTIME_FIELDS
    if fmt == "cloudfront":
        assert lines[0] == "#Version: 1.0"
        assert lines[1].startswith("#Fields: ")
        names = lines[1].split()[1:]
        lines = lines[2:]
    assert lines
    assert f"wrote {len(lines)} CDN log lines" in capsys.readouterr().out
    # Positional fields: as many in every record as the header lists, or as the first has.
    if fmt == "cloudfront":
        assert {len(line.split("\t")) for line in lines} == {len(names)}
    elif fmt == "cloudfront-realtime":
        assert {len(line.split("\t")) for line in lines} == {len(lines[0].split("\t"))}
    for line in lines:
        path, status = path_and_status(fmt, line, names)
        assert PATH.match(path), line
        assert 200 <= status < 600, line
