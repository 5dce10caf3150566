package vsa.spark

import java.nio.file.{Files, Path => JPath}

import scala.jdk.CollectionConverters._

import org.apache.spark.scheduler.{SparkListener, SparkListenerJobStart}
import org.apache.spark.sql.execution.streaming.sinks.FileStreamSinkLog
import org.apache.spark.sql.functions.{col, lit}
import org.apache.spark.sql.streaming.Trigger
import org.apache.spark.sql.DataFrame
import org.scalatest.funsuite.AnyFunSuite
import vsa.spark.streaming.{Checkpoint, TableWriter}

/** Pins the Spark internals vsa's per-batch writer stands on (the file sink's `_spark_metadata` log, Parquet's
  * `OutputWriterFactory`, the offset log's watermark): if a Spark upgrade changes them, this breaks.
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

  /** The files the table's log lists, as local paths. */
  private def logged(dir: JPath): Set[JPath] =
    new FileStreamSinkLog(FileStreamSinkLog.VERSION, spark, dir.resolve("_spark_metadata").toString, None)
      .allFiles()
      .map(f => java.nio.file.Paths.get(f.toFileStatus.getPath.toUri))
      .toSet

  /** The Spark jobs `body` runs. */
  private def jobsOf(body: => Unit): Int = {
    val groups = new java.util.concurrent.ConcurrentLinkedQueue[String]()
    val listener = new SparkListener {
      override def onJobStart(start: SparkListenerJobStart): Unit =
        groups.add(Option(start.properties.getProperty("spark.jobGroup.id")).getOrElse("")): Unit
    }
    val context = spark.sparkContext
    context.addSparkListener(listener)
    try {
      context.setJobGroup("counted", "counted")
      body
      // Listener events arrive in order: once the marker job's start is seen, so are the counted jobs'.
      context.setJobGroup("marker", "marker")
      spark.range(1).count(): Unit
      val deadline = System.nanoTime() + 30e9.toLong
      while (!groups.contains("marker") && System.nanoTime() < deadline) Thread.sleep(10)
      assert(groups.contains("marker"))
      groups.asScala.count(_ == "counted")
    } finally {
      context.clearJobGroup()
      context.removeSparkListener(listener)
    }
  }

  test("many tables are written at once, a job each and none to commit, and Spark reads exactly the logged files") {
    val dirs = Seq.fill(3)(Files.createTempDirectory("table"))
    val writers = dirs.map(d => new TableWriter(spark, d.toString, Seq("date")))
    val data = Seq(rows(6), rows(3, from = 50).withColumn("name", lit("x")), rows(1, from = 70))
    assert(jobsOf(assert(TableWriter.writeAll(0, writers.zip(data)) == Seq(6L, 3L, 1L))) == 3)
    // A replay: the tables that committed batch 0 skip it, one that had not (new here) writes it.
    val extra = Files.createTempDirectory("table")
    val again = (writers :+ new TableWriter(spark, extra.toString, Seq("date"))).zip(data :+ rows(2))
    assert(TableWriter.writeAll(0, again) == Seq(0L, 0L, 0L, 2L))
    assert(TableWriter.writeAll(1, writers.zip(data.map(_.limit(2)))) == Seq(2L, 2L, 1L))
    (dirs :+ extra).zip(Seq(8, 5, 2, 2)).foreach { case (dir, n) =>
      val table = spark.read.parquet(dir.toString)
      assert(table.count() == n, dir)
      assert(table.inputFiles.map(f => java.nio.file.Paths.get(new java.net.URI(f))).toSet == logged(dir))
      assert(parquetFiles(dir).toSet == logged(dir), dir)
    }
    assert(spark.read.parquet(dirs(1).toString).columns.toSeq == Seq("id", "name", "date"))
  }

  test("a task writing more partitions than it keeps files open closes the oldest and writes every row once") {
    val dir = Files.createTempDirectory("table")
    val days = 20 // more than TableFiles.maxOpenFiles, each met twice
    val data = (0 until 2 * days).map(i => (i.toLong, f"2026-11-${i % days + 1}%02d")).toDF("id", "date").coalesce(1)
    assert(TableWriter.writeAll(0, Seq(new TableWriter(spark, dir.toString, Seq("date")) -> data)) == Seq(2L * days))
    assert(parquetFiles(dir).size > days && parquetFiles(dir).toSet == logged(dir))
    val read = spark.read.parquet(dir.toString).select(col("id"), col("date").cast("string"))
    assert(read.as[(Long, String)].collect().sortBy(_._1).toSeq == data.as[(Long, String)].collect().toSeq)
  }

  test("a crash between writing the files and committing them loses nothing and counts nothing twice") {
    val dirs = Seq.fill(2)(Files.createTempDirectory("table"))
    def writers = dirs.map(d => new TableWriter(spark, d.toString, Seq("date")))
    TableWriter.writeAll(0, Seq(writers.head -> rows(4)))
    val committed = parquetFiles(dirs.head)
    // The first step of batch 1 alone: both tables' files written, no log entry, as a crash leaves them.
    val batch = Seq(rows(5, from = 10), rows(3, from = 20))
    val staged = TableWriter.writeFiles(writers.zip(batch).zipWithIndex.map { case ((w, d), i) =>
      assert(w.pending(1))
      w.fileTask(i, d) -> d
    })
    assert(staged.values.map(_.map(_._2).sum).toSeq.sorted == Seq(3L, 5L))
    assert(parquetFiles(dirs.head).size > committed.size && parquetFiles(dirs(1)).nonEmpty)
    // Readers through the log see the committed batch only.
    assert(spark.read.parquet(dirs.head.toString).count() == 4)
    // The restarted job: its writers delete the uncommitted files, then the retried batch writes once.
    val restarted = writers
    assert(TableWriter.writeAll(1, restarted.zip(batch)) == Seq(5L, 3L))
    assert(TableWriter.writeAll(1, restarted.zip(batch)) == Seq(0L, 0L))
    dirs.zip(Seq(9, 3)).foreach { case (dir, n) =>
      assert(parquetFiles(dir).toSet == logged(dir))
      assert(spark.read.parquet(dir.toString).count() == n)
    }
    val ids = spark.read.parquet(dirs.head.toString).select(col("id")).as[Long].collect().sorted.toSeq
    assert(ids == (0L until 4L) ++ (10L until 15L))
  }

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
