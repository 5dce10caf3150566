package vsa.spark

import java.nio.file.{Files, Path => JPath}

import scala.jdk.CollectionConverters._

import org.apache.spark.sql.{DataFrame, Encoders}
import org.apache.spark.sql.execution.streaming.runtime.MemoryStream
import org.apache.spark.sql.streaming.Trigger
import org.scalatest.funsuite.AnyFunSuite
import vsa.spark.checks.{DamagedStateFile, Locations, StateFiles, TableLogs, UnreadableLog, Writability}
import vsa.spark.streaming.{HourFolders, TableWriter}

/** What the job's start checks (`vsa.checks`) asks of the jar, on files real Spark wrote: state files a restart loads,
  * table commit logs, locations; and the hour folders the writer reads back.
  */
class PreflightSpec extends AnyFunSuite with LocalSpark {
  import spark.implicits._

  /** The checkpoint of a stateful query (a running count) after three micro-batches: state files 1–3.delta. */
  private def statefulCheckpoint(): JPath = {
    val checkpoint = Files.createTempDirectory("checkpoint")
    val input = MemoryStream[Int](Encoders.scalaInt, spark.sqlContext)
    val query = input
      .toDF()
      .groupBy("value")
      .count()
      .writeStream
      .format("noop")
      .outputMode("update")
      .option("checkpointLocation", checkpoint.toString)
      .trigger(Trigger.ProcessingTime(0))
      .start()
    try (1 to 3).foreach { i => input.addData(1 to 50 * i); query.processAllAvailable() }
    finally query.stop()
    checkpoint
  }

  private def stateFile(checkpoint: JPath, name: String): JPath =
    Files.walk(checkpoint.resolve("state")).iterator().asScala.filter(_.getFileName.toString == name).maxBy(Files.size)

  private def cutInHalf(file: JPath, keepChecksum: Boolean): Unit = {
    val bytes = Files.readAllBytes(file)
    Files.write(file, bytes.take(bytes.length / 2))
    // Hadoop's local checksum file: object stores have none.
    if (!keepChecksum) Files.delete(file.resolveSibling(s".${file.getFileName}.crc"))
  }

  test("a state file cut short is named: without its end mark, or unreadable when its checksum fails") {
    val checkpoint = statefulCheckpoint()
    assert(StateFiles.firstDamaged(spark, checkpoint.toString).isEmpty)
    val victim = stateFile(checkpoint, "2.delta")
    cutInHalf(victim, keepChecksum = true)
    val unreadable = StateFiles.firstDamaged(spark, checkpoint.toString)
    assert(unreadable.map(_.path).contains(s"file:$victim"))
    assert(unreadable.flatMap(_.error).exists(_.getClass.getSimpleName == "ChecksumException"))
    Files.delete(victim.resolveSibling(s".${victim.getFileName}.crc"))
    assert(StateFiles.firstDamaged(spark, checkpoint.toString).contains(DamagedStateFile(s"file:$victim", None)))
  }

  test("only the files a restart loads are checked: the newest snapshot and the deltas after it") {
    val checkpoint = statefulCheckpoint()
    val delta2 = stateFile(checkpoint, "2.delta")
    // A snapshot of version 2 (a delta's bytes end as a snapshot's do): versions 1 and 2's deltas are not loaded.
    Files.copy(delta2, delta2.resolveSibling("2.snapshot"))
    cutInHalf(delta2, keepChecksum = false)
    cutInHalf(stateFile(checkpoint, "1.delta"), keepChecksum = false)
    assert(StateFiles.firstDamaged(spark, checkpoint.toString).isEmpty)
    val delta3 = stateFile(checkpoint, "3.delta")
    cutInHalf(delta3, keepChecksum = false)
    assert(StateFiles.firstDamaged(spark, checkpoint.toString).map(_.path).contains(s"file:$delta3"))
    // Another codec's files have another format: not judged.
    spark.conf.set(StateFiles.CodecKey, "zstd")
    try assert(StateFiles.firstDamaged(spark, checkpoint.toString).isEmpty)
    finally spark.conf.unset(StateFiles.CodecKey)
  }

  test("the end mark is LZ4's: the magic, a token, then zero lengths and checksum") {
    val mark = "LZ4Block".getBytes("US-ASCII") ++ Array[Byte](0x10) ++ Array.fill[Byte](12)(0)
    assert(StateFiles.endsWell(mark))
    assert(!StateFiles.endsWell(mark.updated(20, 1.toByte)))
    assert(!StateFiles.endsWell(mark.updated(0, 'l'.toByte)))
  }

  private def rows(n: Int): DataFrame = (0 until n).map(i => (i.toLong, "2026-12-01")).toDF("id", "date")

  test("a table's commit log that does not parse is named by its first bad file") {
    val table = Files.createTempDirectory("table")
    val writer = new TableWriter(spark, table.toString, Seq("date"))
    writer.write(0, rows(3))
    writer.write(1, rows(2))
    assert(TableLogs.unreadable(spark, table.toString).isEmpty)
    assert(TableLogs.unreadable(spark, table.resolve("none").toString).isEmpty)
    val log = table.resolve("_spark_metadata")
    Files.write(log.resolve("1"), Array.fill(40)("\u0000\u009fgarbage\u00ff").mkString.getBytes("UTF-8"))
    val found = TableLogs.unreadable(spark, table.toString)
    assert(found.map(_.where).contains(s"$log/1"))
    assert(found.exists(_.error.getMessage.nonEmpty))
    Files.write(log.resolve("0"), "v1\nnot json".getBytes("UTF-8"))
    assert(TableLogs.unreadable(spark, table.toString).map(_.where).contains(s"$log/0"))
  }

  test("a location is writable when its nearest existing parent is a folder vsa can write; nothing is left") {
    val dir = Files.createTempDirectory("out")
    assert(Locations.writability(spark, dir.resolve("a/b").toString) == Writability.Writable)
    assert(Files.list(dir).count() == 0)
    val file = Files.writeString(dir.resolve("a-file"), "not a directory")
    assert(
      Locations.writability(spark, file.resolve("tables").toString) == Writability.NotADirectory(file.toString)
    )
  }

  test("vsa 0.1's checkpoints (one query per table) are found under the checkpoint root") {
    val root = Files.createTempDirectory("checkpoints")
    Files.createDirectories(root.resolve("vsa/offsets"))
    assert(Locations.oldLayout(spark, root.toString).isEmpty)
    Files.createDirectories(root.resolve("view_slices/offsets"))
    Files.createDirectories(root.resolve("kpi_minute"))
    assert(Locations.oldLayout(spark, root.toString) == Seq("view_slices"))
  }

  test("the hour folders read back are those whose hour overlaps the range") {
    val table = Files.createTempDirectory("table")
    for ((date, hour) <- Seq("2026-11-30" -> 23, "2026-12-01" -> 0, "2026-12-01" -> 1, "2026-12-01" -> 2))
      Files.createDirectories(table.resolve(s"date=$date/hour=$hour"))
    Files.createDirectories(table.resolve("_spark_metadata"))
    val at = (t: String) => java.time.Instant.parse(t).toEpochMilli
    def found(from: String, until: String) =
      HourFolders.overlapping(spark, table.toString, at(from), at(until)).map(_.split('/').takeRight(2).mkString("/"))
    assert(
      found("2026-12-01T00:30:00Z", "2026-12-01T02:00:00Z").sorted == Seq(
        "date=2026-12-01/hour=0",
        "date=2026-12-01/hour=1"
      )
    )
    assert(
      found("2026-11-30T23:59:00Z", "2026-12-01T00:00:01Z").sorted == Seq(
        "date=2026-11-30/hour=23",
        "date=2026-12-01/hour=0"
      )
    )
    assert(found("2026-12-02T00:00:00Z", "2026-12-03T00:00:00Z").isEmpty)
    assert(HourFolders.overlapping(spark, table.resolve("none").toString, 0L, Long.MaxValue).isEmpty)
  }

  test("the row schemas Python reads: the slice's columns, a CDN request's figures, the event types in tie order") {
    assert(PythonApi.sliceColumns().take(3).toSeq == Seq("view_id", "session_id", "minute"))
    val figures = PythonApi.requestFigures().asScala
    assert(figures.get("bytes").contains("bigint") && figures.get("starved").contains("boolean"))
    val types = PythonApi.eventTypes().toSeq
    assert(types.head == "view_end" && types.last == "heartbeat" && types.size == 13)
  }
}
