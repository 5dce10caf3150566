"""A small traffic generator: realistic player events into Kafka.

Sessions follow the event model of spec/kpis.md: a play request, a start-up delay, heartbeats,
bitrate switches, stalls, pauses, and a finish, a close or a failure. User agents are real
browser and device strings; client IPs come from networks that GeoIP databases know.

    python -m vsa.generate --bootstrap 127.0.0.1:9092 --sessions 200 --seed 7
"""

from __future__ import annotations

import argparse
import json
import random
import time
import uuid
from collections.abc import Iterator, Mapping
from dataclasses import dataclass

from vsa.config import VsaConfig

USER_AGENTS = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/120.0.0.0 Safari/537.36",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) "
    "Version/17.2 Safari/605.1.15",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:121.0) Gecko/20100101 Firefox/121.0",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_2 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Version/17.2 Mobile/15E148 Safari/604.1",
    "Mozilla/5.0 (iPad; CPU OS 16_6 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
    "Version/16.6 Mobile/15E148 Safari/604.1",
    "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/120.0.6099.144 Mobile Safari/537.36",
    "Mozilla/5.0 (Linux; Android 13; SM-S918B) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/119.0.6045.193 Mobile Safari/537.36",
    "Mozilla/5.0 (SMART-TV; LINUX; Tizen 6.5) AppleWebKit/537.36 (KHTML, like Gecko) "
    "76.0.3809.146/6.5 TV Safari/537.36",
    "Mozilla/5.0 (Web0S; Linux/SmartTV) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/79.0.3945.79 Safari/537.36 WebAppManager",
    "Roku/DVP-12.5 (12.5.0.4178-C2)",
    "Mozilla/5.0 (PlayStation; PlayStation 5/2.26) AppleWebKit/605.1.15 (KHTML, like Gecko)",
    "Mozilla/5.0 (X11; CrOS x86_64 14541.0.0) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/120.0.0.0 Safari/537.36",
)
# Client addresses: (template, first host, last host) over ranges that MaxMind's test City
# database locates (London, Milton WA, Linköping, Changchun, Boxford, an IPv6 block in the
# US), plus an Australian carrier's block that only its ASN database knows.
CLIENT_NETWORKS = (
    ("81.2.69.{}", 142, 207),
    ("216.160.83.{}", 56, 71),
    ("89.160.20.{}", 112, 254),
    ("175.16.199.{}", 1, 254),
    ("2.125.160.{}", 216, 223),
    ("1.128.0.{}", 1, 254),
    ("2001:480:10::{:x}", 1, 0xFFFF),
)


def client_ip(rng: random.Random) -> str:
    """A client address from :data:`CLIENT_NETWORKS`."""
    template, first, last = rng.choice(CLIENT_NETWORKS)
    return template.format(rng.randint(first, last))


PLAYERS = (("shaka", "4.7.11"), ("hls.js", "1.5.7"), ("exoplayer", "2.19.1"), ("avplayer", "17.2"))
CDNS = ("akamai", "cloudfront", "fastly")
BITRATES_KBPS = (800, 1600, 3000, 4500, 6000)
MALFORMED = (
    "{not json",
    '{"event_type": "heartbeat", "ts": 1700000000000}',  # no event_id, no session_id
    '{"event_id": "x1", "event_type": "heartbeat", "ts": "yesterday", "session_id": "s"}',
    '{"event_id": "x2", "event_type": "teleport", "ts": 1700000000000, "session_id": "s"}',
    '{"event_id": "x3", "event_type": "rendition_update", "ts": 1700000000000, '
    '"session_id": "s", "bitrate_kbps": "fast"}',
    "[1, 2, 3]",
    "",
)


@dataclass(frozen=True)
class Traffic:
    """What to generate: ``sessions`` sessions starting within ``span_s`` seconds of
    ``start_ms``, among ``viewers`` viewers and ``videos`` videos."""

    sessions: int = 100
    viewers: int = 60
    videos: int = 8
    span_s: float = 180.0
    start_ms: int | None = None
    malformed_share: float = 0.0
    seed: int = 1


def generate(traffic: Traffic) -> Iterator[tuple[str, str]]:
    """``(session_id, json)`` records of every session, in event-time order."""
    rng = random.Random(traffic.seed)
    start_ms = traffic.start_ms if traffic.start_ms is not None else int(time.time() * 1000)
    events: list[dict] = []
    for n in range(traffic.sessions):
        begin = start_ms + int(rng.uniform(0, traffic.span_s * 1000))
        events.extend(_session(rng, n, begin, traffic))
    events.sort(key=lambda e: e["ts"])
    for event in events:
        if traffic.malformed_share and rng.random() < traffic.malformed_share:
            yield "malformed", rng.choice(MALFORMED)
        yield event["session_id"], json.dumps(event, separators=(",", ":"))


def _session(rng: random.Random, n: int, begin: int, traffic: Traffic) -> list[dict]:
    viewer = rng.randrange(traffic.viewers)
    player, player_version = rng.choice(PLAYERS)
    common = {
        "session_id": f"s-{traffic.seed}-{n}",
        "viewer_id": f"viewer-{viewer}",
        "video_id": f"video-{rng.randrange(traffic.videos)}",
        "stream_type": rng.choice(("vod", "vod", "live")),
        "player_name": player,
        "player_version": player_version,
        "user_agent": USER_AGENTS[viewer % len(USER_AGENTS)],
        "client_ip": client_ip(rng),
        "cdn": rng.choice(CDNS),
    }
    out: list[dict] = []

    def emit(event_type: str, ts: int, **fields: object) -> None:
        event_id = str(uuid.UUID(int=rng.getrandbits(128)))
        out.append({"event_id": event_id, "event_type": event_type, "ts": ts, **common, **fields})

    t = begin
    emit("playback_request", t)
    if rng.random() < 0.05:  # exits before the video starts
        emit("view_end", t + rng.randint(500, 8000))
        return out
    t += int(rng.lognormvariate(6.9, 0.6))  # start-up, median about 1 s
    if rng.random() < 0.03:  # fails before the first frame
        emit(
            "playback_fail",
            t,
            error_code="MEDIA_ERR_SRC_NOT_SUPPORTED",
            error_message="no playable source",
        )
        return out
    bitrate = rng.choice(BITRATES_KBPS)
    emit("rendition_update", t, bitrate_kbps=bitrate, video_width=bitrate // 3, video_height=720)
    emit("playback_start", t)
    end = t + rng.randint(20_000, 240_000)
    playhead = 0
    while t < end:
        step = rng.randint(9_000, 11_000)
        t += step
        playhead += step
        emit("heartbeat", t, playhead_ms=playhead)
        roll = rng.random()
        if roll < 0.05:
            emit("playback_stall", t + 100)
            t += rng.randint(300, 4_000)
            emit("playback_start", t)
        elif roll < 0.08:
            emit("playback_pause", t + 200)
            t += rng.randint(2_000, 30_000)
            emit("playback_request", t)
            emit("playback_start", t + 150)
        elif roll < 0.12:
            bitrate = rng.choice(BITRATES_KBPS)
            emit(
                "rendition_update",
                t + 50,
                bitrate_kbps=bitrate,
                video_width=bitrate // 3,
                video_height=720,
            )
    ending = rng.random()
    if ending < 0.6:
        emit("playback_finish", t + 500)
    elif ending < 0.97:
        emit("view_end", t + 500)
    else:
        emit("playback_fail", t + 500, error_code="NETWORK_ERROR", error_message="segment 404")
    return out


def send(
    bootstrap_servers: str,
    topic: str,
    traffic: Traffic,
    rate: float | None = None,
    options: Mapping[str, str] | None = None,
) -> int:
    """Generates ``traffic`` into ``topic``: as fast as possible, or ``rate`` records/s.
    ``options``: Kafka client settings (``VsaConfig.kafka_options``)."""
    from pyspark.sql import SparkSession

    from vsa.kafka import produce
    from vsa.session import configure_spark

    spark = configure_spark(
        SparkSession.builder.master("local[1]")
        .appName("vsa-generate")
        .config("spark.ui.enabled", "false")
    ).getOrCreate()
    records = list(generate(traffic))
    if not rate:
        return produce(spark, bootstrap_servers, topic, records, options)
    sent = 0
    batch = max(1, int(rate))
    for i in range(0, len(records), batch):
        began = time.monotonic()
        sent += produce(spark, bootstrap_servers, topic, records[i : i + batch], options)
        time.sleep(max(0.0, 1.0 - (time.monotonic() - began)))
    return sent


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--bootstrap", help="Kafka bootstrap servers (default: kafka_bootstrap_servers)"
    )
    parser.add_argument("--topic", help="default: player_events_topic")
    parser.add_argument("--sessions", type=int, default=200)
    parser.add_argument("--viewers", type=int, default=120)
    parser.add_argument("--videos", type=int, default=8)
    parser.add_argument(
        "--span", type=float, default=180.0, help="seconds of event time over which sessions start"
    )
    parser.add_argument(
        "--malformed-share",
        type=float,
        default=0.0,
        help="share of malformed records mixed in (0..1)",
    )
    parser.add_argument(
        "--rate", type=float, default=None, help="records per second (default: as fast as possible)"
    )
    parser.add_argument("--seed", type=int, default=1)


def run(args: argparse.Namespace, config: VsaConfig | None = None) -> int:
    """Sends the traffic ``args`` describe; the flags ``--bootstrap`` and ``--topic`` win over
    ``config``, which gives the Kafka client settings."""
    config = config or VsaConfig()
    bootstrap = args.bootstrap or config.kafka_bootstrap_servers
    topic = args.topic or config.player_events_topic
    traffic = Traffic(
        sessions=args.sessions,
        viewers=args.viewers,
        videos=args.videos,
        span_s=args.span,
        malformed_share=args.malformed_share,
        seed=args.seed,
    )
    sent = send(bootstrap, topic, traffic, rate=args.rate, options=config.kafka_options)
    print(f"sent {sent} records to {topic} at {bootstrap}")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m vsa.generate",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_arguments(parser)
    return run(parser.parse_args(argv))


if __name__ == "__main__":
    raise SystemExit(main())
