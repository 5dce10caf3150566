"""The whole-stage code stages of one micro-batch of the streaming job: each stage's largest
generated method against ``spark.sql.codegen.hugeMethodLimit``. Spark compiles a stage's code
when it runs it, and runs a stage over the limit operator by operator instead (each operator
with code of its own, made in its tasks); this prints which stages those are.

    .venv/bin/python bench/codegen_stages.py --sessions 200 --batch 1000 --at-batch 2

It starts a local Kafka broker, sends simulated sessions, runs the job until it has caught up,
and compiles the stages of batch ``--at-batch`` as Spark does (``doCodeGen``, then
``CodeGenerator.compile``; compiled classes are cached, so the job does not compile them twice).
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

from vsa import pipeline
from vsa.config import VsaConfig
from vsa.kafka import LocalKafka, produce
from vsa.simulate import Spec, simulate
from vsa.spark_session import HUGE_METHOD_LIMIT, build_session

TOPIC = "bench-codegen"


def stages(plan) -> list:
    """The ``WholeStageCodegenExec`` nodes of a JVM physical plan, top first."""
    found, pending = [], [plan]
    while pending:
        node = pending.pop()
        if node.getClass().getSimpleName() == "WholeStageCodegenExec":
            found.append(node)
        children = node.children()
        pending.extend(children.apply(i) for i in range(children.size()))
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sessions", type=int, default=200, help="simulated sessions")
    parser.add_argument("--batch", type=int, default=1000, help="records per micro-batch")
    parser.add_argument("--at-batch", type=int, default=2, help="the micro-batch to compile")
    parser.add_argument("--partitions", type=int, default=2, help="partitions of the topic")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="vsa-codegen-") as tmp:
        kafka = LocalKafka(Path(tmp) / "kafka")
        kafka.start()
        try:
            spark = build_session(VsaConfig(), app_name="bench-codegen-stages")
            config = VsaConfig(
                kafka_bootstrap_servers=kafka.bootstrap_servers,
                player_events_topic=TOPIC,
                output_root=str(Path(tmp) / "out"),
                max_offsets_per_trigger=args.batch,
            )
            kafka.create_topic(TOPIC, partitions=args.partitions)
            sim = simulate(Spec(sessions=args.sessions, seed=5, span_s=1800, flush=True))
            produce(spark, kafka.bootstrap_servers, TOPIC, sim.records)
            jvm = spark._jvm
            compiler = getattr(
                getattr(jvm.org.apache.spark.sql.catalyst.expressions.codegen, "CodeGenerator$"),
                "MODULE$",
            )
            limit = int(spark.conf.get(HUGE_METHOD_LIMIT))

            def report(batch_id: int, *_: object) -> None:
                if batch_id != args.at_batch:
                    return
                query = spark.streams.active[0]._jsq.streamingQuery()
                for stage in stages(query.lastExecution().executedPlan()):
                    code = stage.doCodeGen()._2()
                    largest = compiler.compile(code)._2().maxMethodCodeSize()
                    verdict = "over: runs operator by operator" if largest > limit else "whole"
                    top = stage.child().simpleString(60)[:110]
                    print(
                        f"stage {stage.codegenStageId()}: largest method {largest:,} bytes "
                        f"(limit {limit:,}), {verdict}; {top}",
                        flush=True,
                    )

            pipeline.run_until_caught_up(spark, config, on_batch=report)
        finally:
            kafka.stop()


if __name__ == "__main__":
    main()
