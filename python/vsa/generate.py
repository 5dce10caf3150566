"""Player traffic without faults into Kafka: the simulator (:mod:`vsa.simulate`) with its
faults off.

One session model, the simulator's: a play request, a start-up delay, heartbeats, ads, bitrate
switches, stalls, pauses, seeks, and a finish, a close, a failure or a silent player, with real
user agents and client IPs that GeoIP databases know. Generated traffic has no duplicates,
nothing out of order or late and every ``ts`` in epoch ms; each session is one view and starts
within the span. Malformed records are mixed in only on request (``malformed_share``).

    python -m vsa.generate --bootstrap 127.0.0.1:9092 --sessions 200 --seed 7
"""

from __future__ import annotations

import argparse
import random
import time
from collections.abc import Iterator
from dataclasses import dataclass

from vsa.config import VsaConfig
from vsa.kafka.producer import send
from vsa.simulate import Behaviour, Faults, FaultyPop, Spec, deliver_sessions
from vsa.simulate.faults import with_malformed
from vsa.simulate.model import CLIENT_NETWORKS, USER_AGENTS, client_ip

__all__ = [
    "CLIENT_NETWORKS",
    "USER_AGENTS",
    "Traffic",
    "add_arguments",
    "client_ip",
    "generate",
    "main",
    "run",
    "traffic_from",
]

MALFORMED_KEY = "malformed"
# Not even the ISO-8601 ts the simulator sends by default: every ts in epoch ms.
NO_FAULTS = Faults(duplicate=0.0, out_of_order=0.0, late=0.0, malformed=0.0, iso_ts=0.0)


@dataclass(frozen=True)
class Traffic:
    """What to generate: ``sessions`` sessions starting within ``span_s`` seconds of
    ``start_ms`` (default: now), among ``viewers`` viewers and ``videos`` videos."""

    sessions: int = 100
    viewers: int = 60
    videos: int = 8
    span_s: float = 180.0
    start_ms: int | None = None
    malformed_share: float = 0.0
    seed: int = 1
    cmcd_sid_share: float = 0.0  # players that send their CMCD sid as cmcd_sid
    faulty_pop: FaultyPop | None = None  # their players stall more (vsa.simulate)

    def spec(self, start_ms: int) -> Spec:
        """The simulator's spec of this traffic from ``start_ms``: faults off, no session
        starting just before the next hour (so all start within the span), one view per
        session (no further views and no deliberate ``ts`` ties, which may split a view)."""
        return Spec(
            sessions=self.sessions,
            viewers=self.viewers,
            videos=self.videos,
            span_s=self.span_s,
            start_ms=start_ms,
            seed=self.seed,
            hour_edge_share=0.0,
            behaviour=Behaviour(extra_views=0.0, tie_session=0.0),
            faults=NO_FAULTS,
            cmcd_sid_share=self.cmcd_sid_share,
            faulty_pop=self.faulty_pop,
        )


def generate(traffic: Traffic) -> Iterator[tuple[str | None, str]]:
    """``(session_id, json)`` records of every session, in event-time order; with
    ``malformed_share``, malformed records (key ``"malformed"``) after that share of them."""
    start_ms = traffic.start_ms if traffic.start_ms is not None else int(time.time() * 1000)
    records = deliver_sessions(traffic.spec(start_ms), start_ms).records
    if traffic.malformed_share:
        rng = random.Random(f"{traffic.seed}/malformed")
        records = with_malformed(records, traffic.malformed_share, rng, key=MALFORMED_KEY)
    return iter(records)


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
    parser.add_argument(
        "--cmcd-sid-share",
        type=float,
        default=0.0,
        help="share of players whose CMCD sid differs from session_id (sent as cmcd_sid)",
    )
    parser.add_argument(
        "--faulty-pop",
        type=FaultyPop.parse,
        metavar="CDN/POP",
        help="players served by this POP (e.g. fastly/FRA) stall more (default: none)",
    )


def traffic_from(args: argparse.Namespace) -> Traffic:
    """The traffic the flags of :func:`add_arguments` describe."""
    return Traffic(
        sessions=args.sessions,
        viewers=args.viewers,
        videos=args.videos,
        span_s=args.span,
        malformed_share=args.malformed_share,
        seed=args.seed,
        cmcd_sid_share=args.cmcd_sid_share,
        faulty_pop=args.faulty_pop,
    )


def run(args: argparse.Namespace, config: VsaConfig | None = None) -> int:
    """Sends the traffic ``args`` describe; the flags ``--bootstrap`` and ``--topic`` win over
    ``config``, which gives the Kafka client settings."""
    config = config or VsaConfig()
    bootstrap = args.bootstrap or config.kafka_bootstrap_servers
    topic = args.topic or config.player_events_topic
    records = list(generate(traffic_from(args)))
    sent = send(bootstrap, topic, records, rate=args.rate, options=config.kafka_options)
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
