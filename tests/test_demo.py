"""``vsa demo`` deletes only what it made, never uses the user's checkpoints, and ends with a
report whose every card has data."""

from __future__ import annotations

import shutil
import subprocess
import sys

import pytest

from browser import CHROMIUM, Browser
from test_report import CARDS_JS
from vsa.checks import QUERY
from vsa.config import VsaConfig
from vsa.demo import MARKER, demo_config, prepare_workdir


def test_demo_refuses_a_folder_it_did_not_make(tmp_path):
    (tmp_path / "notes.txt").write_text("mine")
    (tmp_path / "project").mkdir()
    (tmp_path / "project" / "main.py").write_text("print('hi')")
    done = subprocess.run(
        [sys.executable, "-m", "vsa", "demo", "--workdir", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 1
    lines = done.stderr.strip().splitlines()
    assert lines == [
        f"vsa: error: {tmp_path} exists and was not made by vsa demo (no {MARKER} in it): "
        "choose a new or empty --workdir"
    ]
    assert (tmp_path / "notes.txt").read_text() == "mine"
    assert (tmp_path / "project" / "main.py").read_text() == "print('hi')"
    assert not (tmp_path / MARKER).exists()


def test_demo_empties_only_its_own_folder(tmp_path):
    workdir = prepare_workdir(tmp_path / "demo")
    assert (workdir / MARKER).is_file()
    (workdir / "tables").mkdir()
    (workdir / "tables" / "old.parquet").write_bytes(b"PAR1")
    # A second demo in the folder the demo made starts it afresh.
    assert prepare_workdir(tmp_path / "demo") == workdir
    assert sorted(p.name for p in workdir.iterdir()) == [MARKER]
    # An empty folder becomes the demo's.
    empty = tmp_path / "empty"
    empty.mkdir()
    prepare_workdir(empty)
    assert (empty / MARKER).is_file()


def test_demo_keeps_its_checkpoints_in_its_folder(tmp_path):
    user = VsaConfig(checkpoint_root=str(tmp_path / "real-job-checkpoints"), watermark_seconds=30)
    config = demo_config(user, tmp_path / "demo", "127.0.0.1:1")
    assert config.checkpoint_path(QUERY) == str(tmp_path / "demo" / "checkpoints" / QUERY)
    assert config.table_path("views") == str(tmp_path / "demo" / "tables" / "views")
    assert config.watermark_seconds == 30  # the user's other settings stay


@pytest.mark.skipif(shutil.which(CHROMIUM) is None, reason="no chromium: `make chromium`")
def test_the_demo_fills_every_card_of_its_report(tmp_path):
    workdir = tmp_path / "demo"
    done = subprocess.run(
        [sys.executable, "-m", "vsa", "demo", "--workdir", str(workdir), "--sessions", "80"],
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert "cloudfront log lines of the same sessions to cdn-logs" in done.stdout
    with Browser() as browser:
        browser.open((workdir / "report.html").as_uri())
        cards = browser.evaluate(CARDS_JS)
        assert browser.errors == []
    assert len(cards) > 15
    for card in cards:
        assert card["empty"] is None, card
        assert card["marks"] > 0 and card["drawn"] == card["marks"], card
