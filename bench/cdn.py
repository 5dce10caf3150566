"""Lines per second of each CDN log format through parse + CMCD + enrich → Parquet, against the
I/O floor of the same run.

    .venv/bin/python bench/cdn.py --lines 300000

For each format, one log file of --lines lines (requests of simulated players, 70% of the
sessions with CMCD in the query, vsa.simulate.cdn) is written first; then on local[2]:
  (a) vsa: read the file, parse, CMCD (vsa_parse_cmcd), user agent + GeoIP, privacy mask, write
      ``cdn_requests`` as Parquet;
  (b) floor: read the same file and write its lines as Parquet, nothing else;
  (r) a reference, not a target: (a)'s output read back from Parquet and written again, no
      parsing at all: what reading and writing ``cdn_requests``' ~60 columns alone costs;
and once, for CloudFront standard logs:
  (c) (a) with CMCD read by a Python UDF instead of the jar (a deliberately minimal parser:
      URL-decode, split on ',' and '=', no escapes, no inner lists, so a lower bound of what a
      real Python parser costs).
Each variant runs once to warm up, then --runs times; the best run counts.
"""

from __future__ import annotations

import argparse
import os
import random
import tempfile
import time
from pathlib import Path
from urllib.parse import unquote

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from vsa.config import CDN_LOG_FORMATS, VsaConfig
from vsa.pipeline import cdn_tables
from vsa.session import build_session
from vsa.simulate.cdn import CLOUDFRONT_HEADER, Request, cdn_requests, log_line
from vsa.sources import read_cdn_files

DATA = Path(os.environ.get("VSA_SHARED_DATA", Path(__file__).resolve().parents[2] / "shared/data"))
AGENTS = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/120.0.0.0 Safari/537.36",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like "
    "Gecko) Version/17.1 Mobile/15E148 Safari/604.1",
    "AppleCoreMedia/1.0.0.21A5326a (iPhone; U; CPU OS 17_0 like Mac OS X; en_us)",
    "Mozilla/5.0 (SMART-TV; Linux; Tizen 6.0) AppleWebKit/538.1 (KHTML, like Gecko) "
    "Version/6.0 TV Safari/538.1",
    "ExoPlayerLib/2.19.1 (Linux; Android 13) ",
)


def requests(lines: int, seed: int = 3) -> list[Request]:
    """``lines`` requests: the players' sessions of vsa.simulate.cdn, repeated over time."""
    rng = random.Random(seed)
    events = []
    for n in range(400):
        start = 1_764_000_000_000 + rng.randrange(3_600_000)
        ip = f"81.2.69.{rng.randrange(1, 255)}" if n % 3 else f"2001:218:{n:x}::{n:x}"
        ua = AGENTS[n % len(AGENTS)]
        kinds = ["playback_request", "playback_start"] + ["heartbeat"] * 30
        for k, kind in enumerate(kinds):
            events.append(
                {
                    "session_id": f"s-{n}",
                    "event_type": "playback_stall" if k % 11 == 10 else kind,
                    "ts": start + k * 4000,
                    "client_ip": ip,
                    "user_agent": ua,
                    "bitrate_kbps": rng.choice((800, 1600, 3000, 6000)),
                }
            )
    base = cdn_requests(events, "cloudfront", seed)
    out = []
    while len(out) < lines:
        shift = len(out) // len(base) * 3_600_000
        out.extend(Request(**{**r.__dict__, "ts_ms": r.ts_ms + shift}) for r in base)
    return out[:lines]


def write_logs(fmt: str, reqs: list[Request], path: Path) -> None:
    vendor = {"akamai-ds2": "akamai", "cloudfront-realtime": "cloudfront"}.get(fmt, fmt)
    with path.open("w") as f:
        if fmt == "cloudfront":
            f.write(CLOUDFRONT_HEADER + "\n")
        for r in reqs:
            if vendor in ("akamai", "fastly", "edgecast", "nginx"):
                r.cache = {"akamai": "1", "fastly": "HIT", "edgecast": "TCP_HIT"}.get(vendor, "HIT")
            f.write(log_line(r, fmt) + "\n")


def timed(run, runs: int) -> float:
    run()  # warm-up: JIT, caches
    best = float("inf")
    for _ in range(runs):
        began = time.perf_counter()
        run()
        best = min(best, time.perf_counter() - began)
    return best


def write(df: DataFrame, out: str) -> None:
    df.write.mode("overwrite").parquet(out)


def python_cmcd(df: DataFrame) -> DataFrame:
    """(c): the query's CMCD by a minimal Python UDF, in place of vsa_parse_cmcd's columns."""

    @F.udf("struct<br:bigint,bl:bigint,bs:boolean,mtp:bigint,sid:string,ot:string,su:boolean>")
    def parse(query: str | None) -> dict | None:
        if not query or "CMCD=" not in query:
            return None
        text = unquote(query.split("CMCD=", 1)[1].split("&", 1)[0])
        pairs = dict(p.split("=", 1) if "=" in p else (p, "true") for p in text.split(","))
        ints = {k: int(pairs[k]) for k in ("br", "bl", "mtp") if k in pairs}
        return {
            **ints,
            "bs": "bs" in pairs,
            "su": "su" in pairs,
            "sid": pairs.get("sid", "").strip('"') or None,
            "ot": pairs.get("ot"),
        }

    cmcd = [c for c in df.columns if c.startswith("cmcd_")]
    parsed = parse("query")
    return df.drop(*cmcd).withColumns(
        {f"cmcd_{k}": parsed.getField(k) for k in ("br", "bl", "bs", "mtp", "sid", "ot", "su")}
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lines", type=int, default=300_000)
    parser.add_argument("--runs", type=int, default=2)
    parser.add_argument("--formats", nargs="*", default=list(CDN_LOG_FORMATS))
    args = parser.parse_args()

    config = VsaConfig(
        geoip_city_db=str(DATA / "mmdb" / "GeoIP2-City-Test.mmdb"),
        geoip_asn_db=str(DATA / "mmdb" / "GeoLite2-ASN-Test.mmdb"),
        cdn_pop="edge-1",
        spark_conf={"spark.ui.showConsoleProgress": "false", "spark.sql.shuffle.partitions": "2"},
    )
    spark: SparkSession = build_session(config, app_name="vsa-bench-cdn", master="local[2]")
    reqs = requests(args.lines)
    print(f"{args.lines} lines per format, best of {args.runs} runs, local[2]")
    print("| format | vsa lines/s | floor lines/s | vsa/floor | (r) rewrite lines/s | (r)/floor |")
    print("|---|---|---|---|---|---|")
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        for fmt in args.formats:
            log = work / f"{fmt}.log"
            write_logs(fmt, [Request(**r.__dict__) for r in reqs], log)
            # Two input splits, so both cores work on every variant.
            size = log.stat().st_size
            spark.conf.set("spark.sql.files.maxPartitionBytes", str(size // 2 + 1))
            raw = read_cdn_files(spark, str(log), headers=fmt == "cloudfront")
            full = cdn_tables(raw, config, fmt)["cdn_requests"]
            rows = full.count()
            assert rows == args.lines, (fmt, rows)
            vsa = timed(lambda full=full: write(full, str(work / "out-vsa")), args.runs)
            floor_df = spark.read.text(str(log))
            floor = timed(lambda df=floor_df: write(df, str(work / "out-floor")), args.runs)
            parsed = spark.read.parquet(str(work / "out-vsa"))
            rewrite = timed(lambda df=parsed: write(df, str(work / "out-rewrite")), args.runs)
            n = args.lines
            print(
                f"| {fmt} | {n / vsa:,.0f} | {n / floor:,.0f} | {floor / vsa:.2f} "
                f"| {n / rewrite:,.0f} | {floor / rewrite:.2f} |",
                flush=True,
            )
            if fmt == "cloudfront":
                udf = python_cmcd(full)
                py = timed(lambda df=udf: write(df, str(work / "out-py")), args.runs)
                print(
                    f"| cloudfront, CMCD by a Python UDF | {n / py:,.0f} | | {floor / py:.2f} "
                    f"(jar {py / vsa:.1f}x faster) | | |",
                    flush=True,
                )
    spark.stop()


if __name__ == "__main__":
    main()
