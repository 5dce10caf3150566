package vsa.spark

import java.nio.file.{Files, Path => JPath}

import scala.jdk.CollectionConverters._

import org.apache.spark.sql.functions.col
import org.apache.spark.sql.streaming.Trigger
import org.apache.spark.sql.DataFrame
import org.scalatest.funsuite.AnyFunSuite
import vsa.spark.streaming.{Checkpoint, TableWriter}

/** Pins the Spark internals vsa's per-batch writer stands on (`FileStreamSink.addBatch`, its `_spark_metadata` log, the
  * offset log's watermark): if a Spark upgrade changes them, this breaks.
  */
class TableWriterSpec extends AnyFunSuite with LocalSpark {
  import spark.implicits._

  private def rows(n: Int, from: Int = 0): DataFrame =
    (from until from + n).map(i => (i.toLong, if (i % 2 == 0) "2026-12-01" else "2026-12-02")).toDF("id", "date")

  private def parquetFiles(dir: JPath): Seq[JPath] =
    Files
      .walk(dir)
      .iterator()
      .asScala
      .filter(_.toString.endsWith(".parquet"))
      .filterNot(_.toString.contains("_spark"))
      .toSeq

  test("a batch is committed once: a batch id written before is skipped, and readers see committed batches") {
    val dir = Files.createTempDirectory("table")
    val writer = new TableWriter(spark, dir.toString, Seq("date"))
    assert(writer.lastCommitted == -1)
    assert(writer.write(0, rows(10)) == 10)
    assert(writer.write(0, rows(10, from = 100)) == 0)
    assert(writer.write(1, rows(5, from = 10)) == 5)
    assert(writer.lastCommitted == 1)
    val ids = spark.read.parquet(dir.toString).select(col("id")).as[Long].collect().sorted
    assert(ids.toSeq == (0L until 15L))
    assert(Files.isDirectory(dir.resolve("_spark_metadata")))
  }

  test("empty batches are committed without files, and a table first written later reads whole") {
    val dir = Files.createTempDirectory("table")
    val writer = new TableWriter(spark, dir.toString, Seq("date"))
    writer.write(0, rows(2))
    writer.commitEmpty(1)
    writer.commitEmpty(1)
    assert(writer.lastCommitted == 1)
    // Past a compaction (every 10 batches by default) the log still reads.
    assert(writer.write(12, rows(3, from = 2)) == 3)
    assert(writer.lastCommitted == 12)
    assert(spark.read.parquet(dir.toString).count() == 5)
    val late = Files.createTempDirectory("late")
    assert(new TableWriter(spark, late.toString, Seq("date")).write(25, rows(4)) == 4)
    assert(spark.read.parquet(late.toString).count() == 4)
  }

  test("files no batch committed are removed before a new writer's first batch") {
    val dir = Files.createTempDirectory("table")
    new TableWriter(spark, dir.toString, Seq("date")).write(0, rows(4))
    val committed = parquetFiles(dir)
    // What a crash between writing a batch's files and committing them leaves behind.
    val leftover = committed.head.resolveSibling("part-00000-00000000-0000-0000-0000-000000000000.c000.snappy.parquet")
    Files.copy(committed.head, leftover)
    val restarted = new TableWriter(spark, dir.toString, Seq("date"))
    assert(restarted.write(0, rows(4)) == 0)
    assert(!Files.exists(leftover))
    assert(parquetFiles(dir).toSet == committed.toSet)
    assert(spark.read.parquet(dir.toString).count() == 4)
  }

  test("only the writer's own uncommitted files are removed: nothing else in the folder, nothing behind a link") {
    val dir = Files.createTempDirectory("table")
    new TableWriter(spark, dir.toString, Seq("date")).write(0, rows(4))
    val committed = parquetFiles(dir)
    val partition = committed.head.getParent
    val orphan = partition.resolve("part-00000-00000000-0000-0000-0000-000000000000.c000.snappy.parquet")
    Files.copy(committed.head, orphan)
    // What a user or another job keeps in the folder: none of it was written by this table's writer.
    val notes = Files.writeString(dir.resolve("notes.csv"), "who,what\n")
    val besideParts = Files.writeString(partition.resolve("notes.csv"), "who,what\n")
    val otherJob = dir.resolve("other-job").resolve("date=2026-12-01")
    Files.createDirectories(otherJob)
    val nested = Files.copy(committed.head, otherJob.resolve("part-00000-nested.c000.snappy.parquet"))
    val outside = Files.createTempDirectory("outside")
    val behindLink = Files.copy(committed.head, outside.resolve("part-00000-outside.c000.snappy.parquet"))
    Files.createSymbolicLink(dir.resolve("date=2026-12-03"), outside)
    val fileLink = Files.createSymbolicLink(partition.resolve("part-00000-link.c000.snappy.parquet"), behindLink)

    val removed = new TableWriter(spark, dir.toString, Seq("date")).removeUncommitted()
    assert(removed.map(p => new java.io.File(new java.net.URI(p)).toPath) == Seq(orphan))
    assert(!Files.exists(orphan))
    Seq(notes, besideParts, nested, behindLink, fileLink).foreach(f => assert(Files.exists(f), f))
    assert(Files.isSymbolicLink(fileLink) && Files.isSymbolicLink(dir.resolve("date=2026-12-03")))
    assert(committed.forall(Files.exists(_)))
  }

  test("a folder of Parquet files without a log is refused, never emptied") {
    val dir = Files.createTempDirectory("foreign")
    rows(3).write.mode("append").partitionBy("date").parquet(dir.toString)
    val before = parquetFiles(dir)
    val error = intercept[IllegalStateException](new TableWriter(spark, dir.toString, Seq("date")).write(0, rows(1)))
    assert(error.getMessage.contains("not written by vsa's table writer"))
    assert(parquetFiles(dir) == before)
  }

  test("a table moved after it was written is refused, never emptied (its log holds absolute paths)") {
    val dir = Files.createTempDirectory("table")
    new TableWriter(spark, dir.resolve("t").toString, Seq("date")).write(0, rows(4))
    val moved = dir.resolve("moved")
    Files.move(dir.resolve("t"), moved)
    val before = parquetFiles(moved)
    val error = intercept[IllegalStateException](new TableWriter(spark, moved.toString, Seq("date")).write(1, rows(1)))
    assert(error.getMessage.contains("moved or copied"))
    assert(parquetFiles(moved) == before)
  }

  test("no table folder is made before the first write") {
    val dir = Files.createTempDirectory("none").resolve("table")
    val writer = new TableWriter(spark, dir.toString, Seq("date"))
    assert(writer.lastCommitted == -1)
    assert(!Files.exists(dir))
  }

  test("a relative location is made absolute, as the file sink requires") {
    val writer = new TableWriter(spark, "target/table-writer-spec-relative", Seq("date"))
    assert(writer.path.isAbsolute)
    assert(writer.path.toString.startsWith("file:"))
  }

  test("Checkpoint reads the watermark each micro-batch ran with, and the last planned and committed batches") {
    val input = Files.createTempDirectory("events")
    val checkpoint = Files.createTempDirectory("checkpoint")
    Seq("2026-12-01 10:00:00", "2026-12-01 10:05:00").zipWithIndex.foreach { case (ts, i) =>
      val file = Files.writeString(input.resolve(s"$i.json"), s"""{"ts": "$ts"}\n""")
      Files.setLastModifiedTime(file, java.nio.file.attribute.FileTime.fromMillis(1000000L * (i + 1)))
    }
    val seen = scala.collection.mutable.ArrayBuffer.empty[Long]
    val query = spark.readStream
      .schema("ts timestamp")
      .option("maxFilesPerTrigger", 1)
      .json(input.toString)
      .withWatermark("ts", "1 minute")
      .writeStream
      .foreachBatch { (batch: DataFrame, batchId: Long) =>
        batch.count() // a batch's event times reach the watermark only when it runs
        seen += Checkpoint.watermarkMs(spark, checkpoint.toString, batchId): Unit
      }
      .option("checkpointLocation", checkpoint.toString)
      .trigger(Trigger.AvailableNow())
      .start()
    query.awaitTermination()
    val tenOClock = java.time.Instant.parse("2026-12-01T10:00:00Z").toEpochMilli
    assert(seen.take(2).toSeq == Seq(0L, tenOClock - 60000))
    assert(Checkpoint.watermarkMs(spark, checkpoint.toString, 99) == 0L)
    // Both batches committed; the commit of the last holds the watermark of the batch after it.
    assert(Checkpoint.lastPlanned(spark, checkpoint.toString) == 1L)
    assert(Checkpoint.lastCommitted(spark, checkpoint.toString) == 1L)
    assert(Checkpoint.nextWatermarkMs(spark, checkpoint.toString, 1) == tenOClock + 4 * 60000)
    val none = checkpoint.resolveSibling(s"${checkpoint.getFileName}-none")
    assert(Checkpoint.lastPlanned(spark, none.toString) == -1L)
    assert(Checkpoint.lastCommitted(spark, none.toString) == -1L)
    assert(!Files.exists(none))
  }
}
