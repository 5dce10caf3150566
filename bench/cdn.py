"""Lines per second of each CDN log format: vsa against what a Spark user writes by hand.

    .venv/bin/python bench/cdn.py --lines 300000 [--parts]

For each format, one log file of --lines lines (requests of simulated players, 70% of the
sessions with CMCD in the query, vsa.simulate.cdn) is written first; then on local[2], in the
same run and from the same file:
  vsa:  read, parse and validate (dead letters), CMCD, user agent + GeoIP, privacy mask, write
        ``cdn_requests`` (every column of tables.md) as Parquet, as the job's writer does: the
        batch's records persisted, the table's rows taken from them (BatchWriter.write);
  hand: the job a Spark user writes by hand, with Spark's own reader of the format (CSV for the
        CloudFront formats, JSON for Akamai, Edgio and Fastly, one regular expression for
        nginx), casts, URL decoding, ``vsa_parse_cmcd`` of the query, the same jar enrichment
        (``vsa_parse_ua``, ``vsa_geoip``, ``vsa_mask_ip``), ~60 columns into Parquet; no
        validation, no dead letters.
The ratio is vsa's lines/s over the hand-written job's, by wall time and by the CPU time the
JVM spent (user + system, all threads: on a loaded machine the steadier of the two). Both
variants run once to warm up, then take turns --runs times; the best run of each counts. The
load average is printed with the figures: compare ratios of one run only.
"""

from __future__ import annotations

import argparse
import dataclasses
import functools
import os
import random
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from pyspark.sql import Column, DataFrame, SparkSession
from pyspark.sql import functions as F

from vsa import jvm
from vsa.config import CDN_LOG_FORMATS, VsaConfig
from vsa.functions import geo_lookup, mask_ip, parse_cmcd, parse_user_agent
from vsa.normalize.cdn import CLOUDFRONT_FIELDS, CLOUDFRONT_REALTIME_FIELDS, parse_cdn_logs
from vsa.pipeline import cdn_records, transform
from vsa.simulate.cdn import CLOUDFRONT_HEADER, Request, cdn_requests, log_line
from vsa.sinks import split
from vsa.sources import read_cdn_files
from vsa.spark_session import build_session
from vsa.tables import CDN_LOGS

# The vendored third-party data (tests/data/third_party/README.md); VSA_SHARED_DATA: another copy.
DATA = Path(
    os.environ.get("VSA_SHARED_DATA")
    or Path(__file__).resolve().parents[1] / "tests" / "data" / "third_party"
)
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


def timed(variants: dict[str, Callable[[], None]], runs: int, jvm_pid: int) -> dict:
    """{name: (wall seconds, CPU seconds of the JVM)} of the best of ``runs`` runs of each
    variant. Every variant runs once to warm up (JIT, caches) before any is timed; then the
    variants take turns, so that neither is favoured by the JIT's order or by a noisy moment.
    CPU seconds count the work itself, whatever else loads the machine."""
    for run in variants.values():
        run()
    best = {name: (float("inf"), float("inf")) for name in variants}
    for _ in range(runs):
        for name, run in variants.items():
            began, began_cpu = time.perf_counter(), cpu_seconds(jvm_pid)
            run()
            wall, cpu = time.perf_counter() - began, cpu_seconds(jvm_pid) - began_cpu
            best[name] = (min(best[name][0], wall), min(best[name][1], cpu))
    return best


def cpu_seconds(pid: int) -> float:
    """User plus system CPU time of process ``pid`` (all its threads), from /proc."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def write(df: DataFrame, out: str) -> None:
    df.write.mode("overwrite").parquet(out)


def write_as_the_job(spark: SparkSession, log: str, config: VsaConfig, fmt: str, out: str) -> None:
    """``cdn_requests`` of the file ``log`` written the way :class:`vsa.sinks.BatchWriter`
    writes it in a job of CDN logs only: the batch's rows (:func:`vsa.pipeline.transform`) persisted
    once, the table's rows taken from them (so its plan is not the unpersisted records' with
    every filter pushed through the validation)."""
    raw = read_cdn_files(spark, log, headers=fmt == "cloudfront")
    batch = transform(None, config, cdn_records(raw, config, fmt)).persist()
    try:
        requests = split(batch, config, lambda table, seconds: None, sources=(CDN_LOGS,))
        write(requests.cdn_requests, out)
    finally:
        batch.unpersist()


def parts(spark: SparkSession, log: str, config: VsaConfig, fmt: str, out: str) -> dict:
    """What vsa's time is made of (--parts): the same table written straight from the
    unpersisted plan (no batch cache), that without privacy masking, and the parse alone (the
    good lines' parsed columns, no enrichment)."""

    def records(conf: VsaConfig) -> DataFrame:
        return cdn_records(read_cdn_files(spark, log, headers=fmt == "cloudfront"), conf, fmt)

    def parsed() -> DataFrame:
        raw = read_cdn_files(spark, log, headers=fmt == "cloudfront")
        good = parse_cdn_logs(raw, config, {None: fmt}).where(F.col("reason").isNull())
        return good.select("request.*", "kafka_topic", "kafka_partition", "kafka_offset")

    no_privacy = dataclasses.replace(config, privacy=False)
    return {
        "vsa, no batch cache": lambda: write(records(config).select("cdn_request.*"), out),
        "vsa, no cache, privacy off": lambda: write(
            records(no_privacy).select("cdn_request.*"), out
        ),
        "parse only": lambda: write(parsed(), out),
    }


def enriched(df: DataFrame) -> DataFrame:
    """The hand-written jobs' common end: CMCD of the query, user agent, GeoIP, masked address."""
    query = F.col("query")
    return (
        df.select(
            *[c for c in df.columns if c != "client_ip"],
            parse_cmcd(F.when(query.contains("CMCD="), F.concat(F.lit("?"), query))).alias("cmcd"),
            parse_user_agent("user_agent").alias("ua"),
            geo_lookup("client_ip").alias("geo"),
            mask_ip("client_ip").alias("client_ip"),
        )
        .select("*", "cmcd.*", "ua.*", "geo.*")
        .drop("cmcd", "ua", "geo")
    )


def seconds(value: str) -> Column:
    return F.col(value).cast("double").cast("timestamp")


def hand_cloudfront(spark: SparkSession, log: str) -> DataFrame:
    schema = ", ".join(f"`{name}` string" for name in CLOUDFRONT_FIELDS)
    df = spark.read.csv(log, sep="\t", comment="#", schema=schema)
    return df.select(
        F.concat_ws(" ", "date", "time").cast("timestamp").alias("timestamp"),
        F.col("c-ip").alias("client_ip"),
        F.url_decode("cs(User-Agent)").alias("user_agent"),
        F.col("x-host-header").alias("host"),
        F.col("cs-uri-stem").alias("path"),
        F.col("cs-uri-query").alias("query"),
        F.col("sc-status").cast("int").alias("status"),
        F.col("sc-bytes").cast("bigint").alias("bytes"),
        (F.col("time-to-first-byte").cast("double") * 1000).alias("ttfb_ms"),
        (F.col("time-taken").cast("double") * 1000).alias("download_ms"),
        F.col("x-edge-result-type").alias("cache_status"),
        F.col("x-edge-location").alias("pop"),
    )


def hand_cloudfront_realtime(spark: SparkSession, log: str) -> DataFrame:
    schema = ", ".join(f"`{name}` string" for name in CLOUDFRONT_REALTIME_FIELDS)
    df = spark.read.csv(log, sep="\t", schema=schema)
    return df.select(
        seconds("timestamp").alias("timestamp"),
        F.col("c-ip").alias("client_ip"),
        F.url_decode("cs-user-agent").alias("user_agent"),
        F.col("cs-host").alias("host"),
        F.col("cs-uri-stem").alias("path"),
        F.col("cs-uri-query").alias("query"),
        F.col("sc-status").cast("int").alias("status"),
        F.col("sc-bytes").cast("bigint").alias("bytes"),
        (F.col("time-to-first-byte").cast("double") * 1000).alias("ttfb_ms"),
        (F.col("time-taken").cast("double") * 1000).alias("download_ms"),
        F.col("x-edge-result-type").alias("cache_status"),
        F.col("x-edge-location").alias("pop"),
    )


def hand_akamai(spark: SparkSession, log: str) -> DataFrame:
    keys = (
        "reqTimeSec cliIP UA reqHost reqPath queryStr statusCode bytes timeToFirstByte "
        "turnAroundTimeMSec transferTimeMSec cacheStatus serverCountry"
    )
    df = spark.read.json(log, schema=", ".join(f"{k} string" for k in keys.split()))
    return df.select(
        seconds("reqTimeSec").alias("timestamp"),
        F.col("cliIP").alias("client_ip"),
        F.url_decode("UA").alias("user_agent"),
        F.col("reqHost").alias("host"),
        F.col("reqPath").alias("path"),
        F.col("queryStr").alias("query"),
        F.col("statusCode").cast("int").alias("status"),
        F.col("bytes").cast("bigint").alias("bytes"),
        F.col("timeToFirstByte").cast("double").alias("ttfb_ms"),
        (
            F.col("turnAroundTimeMSec").cast("double") + F.col("transferTimeMSec").cast("double")
        ).alias("download_ms"),
        F.col("cacheStatus").alias("cache_status"),
        F.col("serverCountry").alias("pop"),
    )


def hand_edgecast(spark: SparkSession, log: str) -> DataFrame:
    schema = (
        "timestamp double, client_ip string, user_agent string, host string, path string, "
        "query string, status_code int, bytes_out bigint, total_time double, "
        "prewrite_time double, cache_status string, pop string"
    )
    df = spark.read.json(log, schema=schema)
    return df.select(
        F.col("timestamp").cast("timestamp").alias("timestamp"),
        "client_ip",
        "user_agent",
        "host",
        "path",
        F.expr("substring(query, 2)").alias("query"),
        F.col("status_code").alias("status"),
        F.col("bytes_out").alias("bytes"),
        (F.col("prewrite_time") * 1000).alias("ttfb_ms"),
        (F.col("total_time") * 1000).alias("download_ms"),
        "cache_status",
        "pop",
    )


def hand_fastly(spark: SparkSession, log: str) -> DataFrame:
    schema = (
        "timestamp string, client_ip string, user_agent string, host string, url string, "
        "status int, bytes bigint, time_elapsed bigint, time_to_first_byte string, "
        "fastly_info_state string, pop string"
    )
    df = spark.read.json(log, schema=schema)
    return df.select(
        F.to_timestamp("timestamp", "yyyy-MM-dd'T'HH:mm:ss.SSSZ").alias("timestamp"),
        "client_ip",
        "user_agent",
        "host",
        F.substring_index("url", "?", 1).alias("path"),
        F.substring_index("url", "?", -1).alias("query"),
        "status",
        "bytes",
        (F.col("time_to_first_byte").cast("double") * 1000).alias("ttfb_ms"),
        (F.col("time_elapsed") / 1000).alias("download_ms"),
        F.col("fastly_info_state").alias("cache_status"),
        "pop",
    )


# nginx combined plus `rt=... ut="..." cs=...`, as a user matches it.
NGINX = (
    r'^(\S+) \S+ \S+ \[([^\]]+)\] "(\S+) ([^ ?]+)\??(\S*) [^"]*" (\d{3}) (\d+|-) "([^"]*)" '
    r'"([^"]*)" rt=(\S+) ut="([^"]*)" cs=(\S+)'
)


def hand_nginx(spark: SparkSession, log: str) -> DataFrame:
    line = F.col("value")

    def group(n: int) -> Column:
        return F.regexp_extract(line, NGINX, n)

    return spark.read.text(log).select(
        F.to_timestamp(group(2), "dd/MMM/yyyy:HH:mm:ss Z").alias("timestamp"),
        group(1).alias("client_ip"),
        group(9).alias("user_agent"),
        F.lit(None).cast("string").alias("host"),
        group(4).alias("path"),
        group(5).alias("query"),
        group(6).cast("int").alias("status"),
        group(7).cast("bigint").alias("bytes"),
        (group(11).cast("double") * 1000).alias("ttfb_ms"),
        (group(10).cast("double") * 1000).alias("download_ms"),
        group(12).alias("cache_status"),
        F.lit("edge-1").alias("pop"),
    )


HAND_WRITTEN = {
    "cloudfront": hand_cloudfront,
    "cloudfront-realtime": hand_cloudfront_realtime,
    "akamai-ds2": hand_akamai,
    "edgecast": hand_edgecast,
    "fastly": hand_fastly,
    "nginx": hand_nginx,
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lines", type=int, default=300_000)
    parser.add_argument("--runs", type=int, default=2)
    parser.add_argument("--formats", nargs="*", default=list(CDN_LOG_FORMATS))
    parser.add_argument(
        "--parts", action="store_true", help="also time what vsa's time is made of (seconds)"
    )
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
    jvm_pid = jvm.process_id(spark)
    print(
        "| format | vsa lines/s | hand-written lines/s | vsa/hand "
        "| vsa lines/CPU-s | hand-written lines/CPU-s | vsa/hand (CPU) | load average |"
    )
    print("|---|---|---|---|---|---|---|---|")
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        for fmt in args.formats:
            log = work / f"{fmt}.log"
            write_logs(fmt, [Request(**r.__dict__) for r in reqs], log)
            # Two input splits, so both cores work on every variant.
            size = log.stat().st_size
            spark.conf.set("spark.sql.files.maxPartitionBytes", str(size // 2 + 1))
            hand = enriched(HAND_WRITTEN[fmt](spark, str(log)))
            assert hand.count() == args.lines, fmt
            out = str(work / "out-vsa")
            # The file is read in the timed run: CloudFront's costs a pass for its #Fields lines.
            vsa_job = functools.partial(write_as_the_job, spark, str(log), config, fmt, out)
            vsa_job()
            assert spark.read.parquet(out).count() == args.lines, fmt
            variants = {"vsa": vsa_job, "hand": functools.partial(write, hand, str(work / "hand"))}
            if args.parts:
                variants.update(parts(spark, str(log), config, fmt, out))
            best = timed(variants, args.runs, jvm_pid)
            (vsa, vsa_cpu), (by_hand, hand_cpu) = best["vsa"], best["hand"]
            n = args.lines
            load = os.getloadavg()[0]
            print(
                f"| {fmt} | {n / vsa:,.0f} | {n / by_hand:,.0f} | {by_hand / vsa:.2f} "
                f"| {n / vsa_cpu:,.0f} | {n / hand_cpu:,.0f} | {hand_cpu / vsa_cpu:.2f} "
                f"| {load:.1f} |",
                flush=True,
            )
            if args.parts:
                print(
                    f"  {fmt}, wall seconds: "
                    + ", ".join(f"{k} {w:.2f}" for k, (w, _) in best.items())
                )
    spark.stop()


if __name__ == "__main__":
    main()
