"""Throughput of `vsa collect` against a bare endpoint of the same server, side by side.

One uvicorn server (the collector's own settings, `vsa.collect.server_config`) serves the
collector's app and, at `/bare`, an endpoint that reads the body and answers 204. Load comes
from other processes: asyncio clients on keep-alive connections, each POSTing bodies of 5 CMCD
lines (as `@svta/cml-cmcd`'s reporter batches them) as fast as answers come. The rounds
alternate bare and `/cmcd`; every `/cmcd` answer is 200 only after Kafka (a local broker, acks
= all) acknowledged its lines.

.venv/bin/python bench/collect.py --seconds 10 --rounds 2 --clients 2 --connections 128
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from vsa.kafka import LocalKafka
from vsa.kafka.broker import free_port

TOPIC = "bench-collect"
LINES = 5
REPO = Path(__file__).resolve().parents[1]


def bare_and_collector(config_path: str):
    """The collector's ASGI app with ``/bare`` beside it: read the body, answer 204."""
    from vsa.collect.app import Collector
    from vsa.collect.producer import librdkafka_settings
    from vsa.config import load_config

    config = load_config(config_path)
    collector = Collector(config, librdkafka_settings(config, Path(config_path).parent))

    async def app(scope, receive, send):
        if scope["type"] == "http" and scope["path"] == "/bare":
            while (await receive()).get("more_body"):
                pass
            await send({"type": "http.response.start", "status": 204, "headers": []})
            await send({"type": "http.response.body", "body": b""})
        else:
            await collector(scope, receive, send)

    return app, config


def serve(config_path: str) -> None:
    import uvicorn

    from vsa.collect import server_config

    app, config = bare_and_collector(config_path)
    uvicorn.Server(server_config(app, config)).run()


def body(n: int) -> bytes:
    now = time.time_ns() // 1_000_000
    return b"\n".join(
        b'e=t,pt=%d,sid="bench-%d",sn=%d,ts=%d,v=2' % (n * 1000, n % 1000, n * LINES + j, now)
        for j in range(LINES)
    )


async def connection(port: int, path: str, deadline: float, latencies: list[float]) -> int:
    """POSTs over one keep-alive connection until ``deadline``; the requests answered 2xx."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    done = n = 0
    while time.monotonic() < deadline:
        payload = body(n)
        n += 1
        head = (
            f"POST {path} HTTP/1.1\r\nHost: bench\r\nContent-Type: application/cmcd\r\n"
            f"Content-Length: {len(payload)}\r\n\r\n"
        ).encode()
        began = time.monotonic()
        writer.write(head + payload)
        status_line = await reader.readline()
        length = 0
        while (line := await reader.readline()) not in (b"\r\n", b""):
            name, _, value = line.partition(b":")
            if name.lower() == b"content-length":
                length = int(value)
        await reader.readexactly(length)
        latencies.append(time.monotonic() - began)
        done += status_line.split()[1].startswith(b"2")
    writer.close()
    return done


def client(port: int, path: str, seconds: float, connections: int, out) -> None:
    async def run() -> tuple[int, list[float]]:
        latencies: list[float] = []
        deadline = time.monotonic() + seconds
        counts = await asyncio.gather(
            *(connection(port, path, deadline, latencies) for _ in range(connections))
        )
        return sum(counts), latencies

    out.put(asyncio.run(run()))


def round_of(port: int, path: str, args: argparse.Namespace) -> tuple[float, float, float]:
    """Requests/s, p50 and p99 latency (ms) of one round from ``args.clients`` processes."""
    queue = multiprocessing.Queue()
    workers = [
        multiprocessing.Process(
            target=client, args=(port, path, args.seconds, args.connections, queue)
        )
        for _ in range(args.clients)
    ]
    for worker in workers:
        worker.start()
    results = [queue.get() for _ in workers]
    for worker in workers:
        worker.join()
    latencies = sorted(x for _, lat in results for x in lat)
    rate = sum(count for count, _ in results) / args.seconds
    p50 = latencies[len(latencies) // 2] * 1000
    p99 = latencies[int(len(latencies) * 0.99)] * 1000
    return rate, p50, p99


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--clients", type=int, default=2, help="load processes")
    # Many connections, as many players would hold: each /cmcd request waits for Kafka's
    # acknowledgement (milliseconds), so few connections measure that wait, not the server.
    parser.add_argument("--connections", type=int, default=128, help="per load process")
    parser.add_argument("--serve", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        serve(args.serve)
        return
    with tempfile.TemporaryDirectory() as tmp:
        broker = LocalKafka(Path(tmp) / "kafka", port=free_port())
        broker.start()
        server = None
        try:
            broker.create_topic(TOPIC, partitions=2)
            port = free_port()
            config = Path(tmp) / "vsa.toml"
            config.write_text(
                f'kafka_bootstrap_servers = "{broker.bootstrap_servers}"\n'
                f'player_events_topic = "{TOPIC}"\ncdn_logs_topic = ""\n'
                f"collect_port = {port}\ncollect_progress_seconds = 0\n"
            )
            server = subprocess.Popen([sys.executable, __file__, "--serve", str(config)], cwd=REPO)
            wait_ready(port)
            round_of(port, "/bare", argparse.Namespace(**{**vars(args), "seconds": 2}))
            rows: dict[str, list[tuple[float, float, float]]] = {"/bare": [], "/cmcd": []}
            for _ in range(args.rounds):
                for path in rows:
                    rows[path].append(round_of(port, path, args))
        finally:
            if server is not None:
                server.terminate()
                server.wait(30)
            broker.stop()
    print(
        f"{args.clients} load processes x {args.connections} connections, {LINES} CMCD lines "
        f"a body, {args.rounds} rounds of {args.seconds:.0f} s each"
    )
    print(f"{'endpoint':10s} {'requests/s':>11s} {'lines/s':>9s} {'p50 ms':>7s} {'p99 ms':>7s}")
    summary = {}
    for path, results in rows.items():
        rate = statistics.mean(r for r, _, _ in results)
        p50 = statistics.mean(p for _, p, _ in results)
        p99 = statistics.mean(p for _, _, p in results)
        summary[path] = rate
        print(f"{path:10s} {rate:11.0f} {rate * LINES:9.0f} {p50:7.1f} {p99:7.1f}")
    print(f"vsa collect / bare: {summary['/cmcd'] / summary['/bare']:.2f}x")


def wait_ready(port: int, timeout: float = 60) -> None:
    import http.client

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
            connection.request("GET", "/healthz")
            if connection.getresponse().status == 200:
                return
        except OSError:
            time.sleep(0.2)
    raise TimeoutError("the collector did not start")


if __name__ == "__main__":
    main()
