"""``vsa report`` rendered in a real headless Chromium: every chart drew, no console error, no
request beyond the file itself."""

from __future__ import annotations

import shutil
from dataclasses import replace
from datetime import datetime, timedelta

import pytest

from browser import CHROMIUM, Browser
from vsa.charts import bar_chart, line_chart, nice_ticks
from vsa.report import REPORT_FILE, write_report

# Per card: its title, whether it holds an SVG, how many marks (bars, lines) it has and how
# many of them have a non-empty box on screen, and its "no data" text.
CARDS_JS = """
Array.from(document.querySelectorAll('section.card')).map(card => {
  const svg = card.querySelector('svg');
  const marks = svg ? Array.from(svg.querySelectorAll('.mark')) : [];
  const box = svg ? svg.getBoundingClientRect() : {width: 0, height: 0};
  return {
    title: card.querySelector('h2').textContent,
    width: box.width, height: box.height, marks: marks.length,
    drawn: marks.filter(m => { const b = m.getBBox(); return b.width > 0 || b.height > 0; })
      .length,
    empty: card.querySelector('.empty') ? card.querySelector('.empty').textContent : null,
  };
})
"""
CDN_CARDS = {"CDN error %", "CDN TTFB"}
POP_CARDS = {"Rebuffer ratio by POP", "TTFB p95 against rebuffer ratio by POP"}

pytestmark = pytest.mark.skipif(
    shutil.which(CHROMIUM) is None, reason="no chromium: `make chromium` installs Debian's"
)


@pytest.fixture(scope="module")
def tables(streamed, tmp_path_factory):
    """The streamed run's KPI tables, seen under a root of this module's own."""
    root = tmp_path_factory.mktemp("report-tables")
    for table in ("kpi_minute", "kpi_by_geo", "kpi_by_device", "live"):
        (root / table).symlink_to(streamed.config.table_path(table))
    return replace(streamed.config, output_root=str(root))


def render(spark, config, out):
    path = write_report(spark, config, out)
    with Browser() as browser:
        browser.open(path.as_uri())
        cards = browser.evaluate(CARDS_JS)
        text = browser.evaluate("document.body.innerText")
        assert browser.errors == []
        assert browser.requests == [path.as_uri()], "the report must need no network"
    return path, cards, text


def test_report_without_cdn_data(spark, tables, tmp_path):
    path, cards, text = render(spark, tables, tmp_path)
    assert path.name == REPORT_FILE
    titles = [c["title"] for c in cards]
    assert titles[:2] == ["Views and concurrent viewers", "Startup time"]
    assert {"Startup time histogram", "Rebuffer ratio", "Failures, VSF, EBVS"} <= set(titles)
    assert {"Top countries", "Devices", "Operating systems", "Browsers"} <= set(titles)
    assert {"Experience scores", "Picture quality", "Ads and content", "Bitrate"} <= set(titles)
    assert "Live: the last 10 minutes" in titles
    assert set(titles) >= POP_CARDS
    for card in cards:
        if card["title"] in CDN_CARDS | POP_CARDS:
            assert card["empty"].startswith("no CDN data"), card
        else:
            assert card["width"] > 200 and card["height"] > 100, card
            assert card["marks"] > 0 and card["drawn"] == card["marks"], card
    # The test City database locates the generated clients: London is GB, Milton US, ...
    assert "GB" in text and "US" in text
    assert "unique viewers" in text and "experience score" in text


def test_report_with_cdn_data(spark, tables, tmp_path):
    config = replace(tables, output_root=str(tmp_path / "tables"))
    (tmp_path / "tables").mkdir()
    for table in ("kpi_minute", "kpi_by_geo", "kpi_by_device"):
        (tmp_path / "tables" / table).symlink_to(tables.table_path(table))
    start = datetime(2025, 11, 24, 10, 0)
    rows = [
        (start + timedelta(minutes=m), start + timedelta(minutes=m + 1), cdn, pop, "GB",
         "segment", 100 + m, 1_000_000, e4, e5, p50, p50 * 3)
        for m in range(3)
        for cdn, pop, e4, e5, p50 in (("akamai", "LHR", 1, 0, 40.0), ("fastly", "FRA", 3, 2, 75.0))
    ]  # fmt: skip
    columns = (
        "window_start timestamp, window_end timestamp, cdn string, pop string, country string, "
        "object_type string, requests long, bytes long, errors_4xx long, errors_5xx long, "
        "ttfb_p50_ms double, ttfb_p95_ms double"
    )
    spark.createDataFrame(rows, columns).write.parquet(config.table_path("cdn_qos_minute"))
    _, cards, text = render(spark, config, tmp_path / "report")
    cdn = {c["title"]: c for c in cards if c["title"] in CDN_CARDS}
    assert set(cdn) == CDN_CARDS
    assert cdn["CDN error %"]["marks"] == 2 and cdn["CDN error %"]["drawn"] == 2
    assert cdn["CDN TTFB"]["marks"] == 4  # p50 and p95 for each CDN / POP
    assert "fastly / FRA" in text and "akamai / LHR" in text
    # fastly: 5 errors in each of 3 minutes over 303 requests.
    assert f"{15 * 100 / 303:.2f}%" in text


def test_report_with_pop_data(spark, tables, tmp_path):
    """``kpi_by_pop`` rows (the columns docs/kpis.md gives it) draw the two POP cards, worst
    rebuffer ratio first; an empty table says so."""
    config = replace(tables, output_root=str(tmp_path / "tables"))
    (tmp_path / "tables").mkdir()
    for table in ("kpi_minute", "kpi_by_geo", "kpi_by_device"):
        (tmp_path / "tables" / table).symlink_to(tables.table_path(table))
    start = datetime(2025, 11, 24, 10, 0)
    # (cdn, pop, requests, rebuffer ratio, ttfb p95) in two minutes; FRA is the faulty POP.
    pops = [
        ("fastly", "FRA", (100, 300), (0.10, 0.14), (900.0, 1100.0)),
        ("fastly", "LCY", (200, 200), (0.01, 0.03), (90.0, 110.0)),
        ("akamai", "GB", (50, 50), (0.02, None), (60.0, None)),
    ]
    rows = [
        (start + timedelta(minutes=m), start + timedelta(minutes=m + 1), cdn, pop, "GB",
         requests[m], rebuffer[m], ttfb[m])
        for m in range(2)
        for cdn, pop, requests, rebuffer, ttfb in pops
    ]  # fmt: skip
    columns = (
        "window_start timestamp, window_end timestamp, cdn string, pop string, country string, "
        "requests long, rebuffer_ratio double, ttfb_p95_ms double"
    )
    path = config.table_path("kpi_by_pop")
    spark.createDataFrame(rows, columns).limit(0).write.parquet(path)
    _, cards, _ = render(spark, config, tmp_path / "empty")
    assert all(c["empty"].startswith("no CDN data") for c in cards if c["title"] in POP_CARDS)

    spark.createDataFrame(rows, columns).write.mode("overwrite").parquet(path)
    _, cards, text = render(spark, config, tmp_path / "report")
    by_title = {c["title"]: c for c in cards}
    for title in POP_CARDS:
        assert by_title[title]["marks"] == 3 == by_title[title]["drawn"], by_title[title]
    # Request-weighted: FRA (0.10 × 100 + 0.14 × 300) / 400 = 13 %, LCY 2 %, akamai GB 2 %.
    assert "13%" in text and "2%" in text
    assert text.index("fastly / FRA") < text.index("fastly / LCY")
    assert "fastly / FRA: 1,050 ms, 13%" in html_of(tmp_path / "report")


def html_of(out) -> str:
    return (out / REPORT_FILE).read_text(encoding="utf-8")


def test_no_tables_is_a_clear_error(spark, tables, tmp_path):
    with pytest.raises(FileNotFoundError, match="no kpi_minute table"):
        write_report(spark, replace(tables, output_root=str(tmp_path)), tmp_path)


def test_chart_helpers():
    assert nice_ticks(0, 87) == [0, 20, 40, 60, 80, 100]
    assert bar_chart([]) is None
    assert line_chart([("a", [(0.0, None)])]) is None
    # A missing minute splits the line instead of drawing it down to zero.
    svg = line_chart([("a", [(0.0, 1.0), (60_000.0, 2.0), (120_000.0, None), (180_000.0, 3.0)])])
    assert svg.count("<polyline") == 1 and svg.count("<circle") == 1
