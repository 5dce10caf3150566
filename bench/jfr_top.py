"""Where a JVM's CPU went, from a Java Flight Recording: the share of execution samples per
thread kind, and, per kind, the frames that appear most often in the samples' stacks (inclusive:
a frame counts once per sample it is on), or only at their top (exclusive, ``--top``).

    .venv/bin/python bench/pipeline.py --cases full:local[2] --sessions 300 --batch 1000 \
        --conf "spark.driver.extraJavaOptions=-XX:StartFlightRecording=filename=/tmp/full.jfr"
    .venv/bin/python bench/jfr_top.py /tmp/full.jfr --match org.apache.spark.sql

In local mode the driver JVM is the executor too: the kinds tell tasks ("Executor task launch
worker") from the driver's planning ("stream execution thread") and the rest.
"""

from __future__ import annotations

import argparse
import collections
import re
import subprocess

FRAME = re.compile(r"^\s+([\w$.<>]+)\(")
THREAD = re.compile(r'sampledThread = "([^"]*)"')
START = re.compile(r"startTime = (\d+):(\d+):(\d+)")


def thread_kind(name: str) -> str:
    """A thread's name without its numbers and ids: one kind for a pool's threads."""
    return re.sub(r"[\d]+", "#", name.split(" for ")[0].split(" [id=")[0])


def samples(recording: str, skip_seconds: float = 0):
    """(thread name, frames top first) of each execution sample of ``recording``, from
    ``skip_seconds`` after its first on (a warm-up left out)."""
    text = subprocess.run(
        ["jfr", "print", "--stack-depth", "200", "--events", "jdk.ExecutionSample", recording],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    first = None
    for event in text.split("jdk.ExecutionSample")[1:]:
        if start := START.search(event):
            h, m, sec = map(int, start.groups())
            at = h * 3600 + m * 60 + sec
            first = at if first is None else first
            if (at - first) % 86400 < skip_seconds:
                continue
        thread = THREAD.search(event)
        frames = [m.group(1) for line in event.splitlines() if (m := FRAME.match(line))]
        yield (thread.group(1) if thread else "?"), frames


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("recording")
    parser.add_argument("--frames", type=int, default=25, help="frames listed per thread kind")
    parser.add_argument("--kinds", type=int, default=4, help="thread kinds listed")
    parser.add_argument("--match", default="", help="list only frames containing this text")
    parser.add_argument("--top", action="store_true", help="count a sample's top frame only")
    parser.add_argument(
        "--callers", default="", help="count the frames that call frames containing this text"
    )
    parser.add_argument("--skip", type=float, default=0, help="seconds left out at the start")
    args = parser.parse_args()
    per_kind: dict[str, collections.Counter[str]] = collections.defaultdict(collections.Counter)
    totals: collections.Counter[str] = collections.Counter()
    for thread, frames in samples(args.recording, args.skip):
        kind = thread_kind(thread)
        totals[kind] += 1
        if args.callers:
            called = [i for i, f in enumerate(frames) if args.callers in f]
            seen = dict.fromkeys(frames[i + 1] for i in called if i + 1 < len(frames))
            seen = {f: None for f in seen if args.callers not in f}
        else:
            seen = frames[:1] if args.top else dict.fromkeys(frames)
        per_kind[kind].update(f for f in seen if args.match in f)
    everything = sum(totals.values())
    print(f"{everything} samples")
    for kind, n in totals.most_common(args.kinds):
        print(f"\n{kind}: {n} samples, {100 * n / everything:.0f} %")
        for frame, count in per_kind[kind].most_common(args.frames):
            print(f"  {100 * count / n:5.1f} %  {frame}")


if __name__ == "__main__":
    main()
