"""Start-up time of the local Kafka broker (storage format + start until it serves).

.venv/bin/python bench/broker_startup.py --runs 5
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

from vsa.kafka import LocalKafka
from vsa.kafka.broker import free_port


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    fresh, warm = [], []
    for _ in range(args.runs):
        with tempfile.TemporaryDirectory() as tmp:
            broker = LocalKafka(Path(tmp), port=free_port())
            began = time.monotonic()
            broker.start()
            fresh.append(time.monotonic() - began)
            broker.stop()
            began = time.monotonic()
            broker.start()
            warm.append(time.monotonic() - began)
            broker.stop()
    for name, times in (("fresh (format + start)", fresh), ("restart (data kept)", warm)):
        print(
            f"{name:24s} median {statistics.median(times):5.2f} s  "
            f"max {max(times):5.2f} s  over {len(times)} runs"
        )


if __name__ == "__main__":
    main()
