"""The session vsa builds (vsa.spark_session.build_session): in local mode, its ``file:`` paths go
through the jar's local file system, which writes what Hadoop's writes without a process per
file (docs/performance.md)."""

from __future__ import annotations

import stat


def test_a_local_session_reads_and_writes_files_through_the_jars_file_system(spark, tmp_path):
    conf = spark.sparkContext._jsc.hadoopConfiguration()
    path = spark._jvm.org.apache.hadoop.fs.Path(tmp_path.as_uri())
    assert path.getFileSystem(conf).getClass().getName() == "vsa.spark.fs.NioLocalFileSystem"
    context = spark._jvm.org.apache.hadoop.fs.FileContext.getFileContext(path.toUri(), conf)
    assert context.getDefaultFileSystem().getClass().getName() == "vsa.spark.fs.NioLocalFs"

    out = tmp_path / "table"
    spark.range(100).write.parquet(str(out))
    assert sorted(r.id for r in spark.read.parquet(str(out)).collect()) == list(range(100))
    # The permissions Hadoop gives a file and a folder it creates, less its default umask (022).
    parts = list(out.glob("part-*.parquet"))
    assert parts
    assert {stat.S_IMODE(p.stat().st_mode) for p in parts} == {0o644}
    assert stat.S_IMODE(out.stat().st_mode) == 0o755
