"""Simulated player traffic with its ground truth: to files, to Kafka, or both.

    python -m vsa.simulate --out /tmp/sim --sessions 2000 --seed 7 --start 2025-11-24T10:00:00Z
    python -m vsa.simulate --kafka 127.0.0.1:9092 --topic player-events --sessions 200 --rate 500
    vsa simulate --config vsa.toml --kafka --sessions 200   # the config's Kafka, topic, security

Files written to ``--out``: ``events.jsonl`` (the records in delivery order, malformed ones
included), ``truth_views.jsonl``, ``truth_slices.jsonl`` and ``truth_summary.json``.
Without ``--start`` the start is taken from the clock (two hours ago, on a minute) and recorded
in ``truth_summary.json``; with it, the same arguments give byte-identical files.
"""

from __future__ import annotations

import argparse
import json
from datetime import datetime
from pathlib import Path

from vsa.config import ConfigError, load_config
from vsa.kafka.producer import send
from vsa.simulate import (
    Behaviour,
    Faults,
    FaultyPop,
    Simulation,
    Spec,
    receipt_times,
    simulate,
)


def _start(text: str) -> int:
    """Epoch ms, or ISO-8601 with an offset."""
    if text.lstrip("-").isdigit():
        return int(text)
    moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    if moment.tzinfo is None:
        raise argparse.ArgumentTypeError(f"--start needs an offset (e.g. Z): {text}")
    return int(moment.timestamp() * 1000)


def _faulty_pop(text: str) -> FaultyPop:
    try:
        return FaultyPop.parse(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m vsa.simulate",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--out", type=Path, help="directory for events.jsonl and the truth files")
    p.add_argument("--config", type=Path, metavar="FILE", help="a vsa TOML config file")
    p.add_argument(
        "--kafka",
        metavar="BOOTSTRAP",
        nargs="?",
        const="",
        help="send the records to this Kafka (alone: kafka_bootstrap_servers of the config)",
    )
    p.add_argument("--topic", help="default: player_events_topic of the config")
    p.add_argument(
        "--rate",
        type=float,
        help="with --kafka: records per second (default: as fast as possible)",
    )
    p.add_argument("--sessions", type=int, default=Spec.sessions)
    p.add_argument("--viewers", type=int, default=Spec.viewers)
    p.add_argument("--videos", type=int, default=Spec.videos)
    p.add_argument(
        "--span", type=float, default=Spec.span_s, help="seconds over which sessions start"
    )
    p.add_argument("--start", type=_start, help="epoch ms or ISO-8601 (default: 2 h ago)")
    p.add_argument("--seed", type=int, default=Spec.seed)
    p.add_argument("--view-timeout", type=float, default=600, help="seconds (default 600)")
    p.add_argument("--max-event-gap", type=float, default=30, help="seconds (default 30)")
    p.add_argument("--watermark", type=float, default=120, help="seconds (default 120)")
    p.add_argument("--duplicate-share", type=float, default=Faults.duplicate)
    p.add_argument("--out-of-order-share", type=float, default=Faults.out_of_order)
    p.add_argument("--late-share", type=float, default=Faults.late)
    p.add_argument("--malformed-share", type=float, default=Faults.malformed)
    p.add_argument("--lost-start-share", type=float, default=Behaviour.lost_start)
    p.add_argument(
        "--iso-ts-share",
        type=float,
        default=Faults.iso_ts,
        help="share of valid events with ts as ISO-8601 text instead of epoch ms",
    )
    p.add_argument(
        "--cdn-format",
        help="with --out: also write cdn.log, the sessions' CDN requests in this log format "
        "(vsa.simulate.cdn)",
    )
    p.add_argument(
        "--cmcd-sid-share",
        type=float,
        default=Spec.cmcd_sid_share,
        help="share of players whose CMCD sid differs from session_id (sent as cmcd_sid)",
    )
    p.add_argument(
        "--clock-skew-share",
        type=float,
        default=Spec.clock_skew_share,
        help="share of sessions whose device clock is off, by up to 10 minutes either way",
    )
    p.add_argument(
        "--faulty-pop",
        type=_faulty_pop,
        metavar="CDN/POP",
        help="one POP (e.g. fastly/FRA) that serves slowly and with 5xx errors, whose players "
        "stall more (default: none)",
    )
    p.add_argument(
        "--flush",
        action="store_true",
        help="end with one far-ahead event (session 'flush') that closes every view",
    )
    return p


def spec_from(args: argparse.Namespace) -> Spec:
    return Spec(
        sessions=args.sessions,
        viewers=args.viewers,
        videos=args.videos,
        span_s=args.span,
        start_ms=args.start,
        seed=args.seed,
        view_timeout_ms=int(args.view_timeout * 1000),
        max_event_gap_ms=int(args.max_event_gap * 1000),
        watermark_ms=int(args.watermark * 1000),
        flush=args.flush,
        behaviour=Behaviour(lost_start=args.lost_start_share),
        faults=Faults(
            duplicate=args.duplicate_share,
            out_of_order=args.out_of_order_share,
            late=args.late_share,
            malformed=args.malformed_share,
            iso_ts=args.iso_ts_share,
        ),
        cmcd_sid_share=args.cmcd_sid_share,
        faulty_pop=args.faulty_pop,
        clock_skew_share=args.clock_skew_share,
    )


def write(sim: Simulation, out: Path) -> None:
    """Writes the four files of ``sim`` into ``out``."""
    out.mkdir(parents=True, exist_ok=True)
    with open(out / "events.jsonl", "w", encoding="utf-8", newline="\n") as f:
        f.writelines(value + "\n" for _, value in sim.records)
    for name, rows in (("truth_views.jsonl", sim.views), ("truth_slices.jsonl", sim.slices)):
        with open(out / name, "w", encoding="utf-8", newline="\n") as f:
            f.writelines(json.dumps(row, separators=(",", ":")) + "\n" for row in rows)
    with open(out / "truth_summary.json", "w", encoding="utf-8", newline="\n") as f:
        json.dump(sim.summary, f, indent=2)
        f.write("\n")


def write_cdn_log(sim: Simulation, out: Path, fmt: str) -> int:
    """Writes ``out/cdn.log``: the CDN requests of ``sim``'s sessions as ``fmt`` lines."""
    from vsa.simulate import cdn

    requests = cdn.cdn_requests(sim.events(), cdn.VENDOR[fmt], sim.spec.seed, sim.spec.faulty_pop)
    with open(out / "cdn.log", "w", encoding="utf-8", newline="\n") as f:
        if fmt == "cloudfront":
            f.write(cdn.CLOUDFRONT_HEADER + "\n")
        f.writelines(cdn.log_line(r, fmt) + "\n" for r in requests)
    return len(requests)


def main(argv: list[str] | None = None) -> int:
    p = parser()
    args = p.parse_args(argv)
    if args.out is None and args.kafka is None:
        p.error("give --out DIR, --kafka BOOTSTRAP, or both")
    sim = simulate(spec_from(args))
    if args.out is not None:
        write(sim, args.out)
        print(f"wrote {len(sim.records)} records and {len(sim.views)} views to {args.out}")
        if args.cdn_format:
            print(f"wrote {write_cdn_log(sim, args.out, args.cdn_format)} CDN log lines")
    if args.kafka is not None:
        try:
            config = load_config(args.config)
        except ConfigError as error:
            p.error(str(error))
        bootstrap = args.kafka or config.kafka_bootstrap_servers
        topic = args.topic or config.player_events_topic
        # keyed by session: each session's records stay in delivery order in one partition;
        # each record's Kafka timestamp is its receipt time, as a collector would stamp it
        sent = send(
            bootstrap,
            topic,
            sim.records,
            rate=args.rate,
            options=config.kafka_options,
            timestamps=receipt_times(sim.records),
        )
        print(f"sent {sent} records to {topic} at {bootstrap}")
    summary = {k: v for k, v in sim.summary.items() if k != "late_event_ids"}
    print(json.dumps(summary))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
