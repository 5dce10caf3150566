package vsa.spark.streaming

import java.nio.file.{Files, Paths}

import org.apache.hadoop.fs.{FileStatus, FileSystem, Path}
import org.apache.parquet.HadoopReadOptions
import org.apache.parquet.hadoop.ParquetFileReader
import org.apache.parquet.hadoop.util.HadoopInputFile
import org.apache.spark.sql.execution.datasources.parquet.ParquetFileFormat
import org.apache.spark.sql.execution.streaming.sinks.{FileStreamSink, FileStreamSinkLog}
import org.apache.spark.sql.{DataFrame, SparkSession}

/** One table's exactly-once writer: Spark's own file sink (`FileStreamSink`), called per micro-batch by vsa's one
  * `foreachBatch` writer, so every table keeps the file sink's commit protocol.
  *
  *   - Each batch's files are committed in the table's `_spark_metadata` log under the batch id, so
  *     `spark.read.parquet(path)` sees whole committed batches only.
  *   - A batch id the table already committed is skipped: on replay after a crash, the tables that committed the batch
  *     skip it and the others write it.
  *   - Files that no batch committed (a crash between writing and committing) are deleted before the writer's first
  *     batch, so readers that list the folder (pyarrow, DuckDB, pandas, Trino) see exactly the committed rows. One
  *     writer per table is the rule that makes this safe. Only what the writer can have made is deleted: `part-` files
  *     in the table's partition folders (`date=…/hour=…`), reached without following a symbolic link.
  *
  * `FileStreamSink`, `FileStreamSinkLog` and `SinkFileStatus` are Spark internals: `TableWriterSpec` breaks if they
  * change.
  */
final class TableWriter(spark: SparkSession, location: String, partitionColumns: Seq[String]) {
  private val hadoopConf = spark.sessionState.newHadoopConf()
  private val fs: FileSystem = new Path(location).getFileSystem(hadoopConf)
  // Built once: Parquet's default options make a new Hadoop Configuration (parsing its XML
  // resources) per file, which was a fifth of the driver's time per micro-batch.
  private lazy val footerOptions = HadoopReadOptions.builder(hadoopConf).build()

  /** The table's location, absolute (the file sink refuses relative paths). */
  val path: Path = fs.makeQualified(new Path(location))
  private val logPath = new Path(path, FileStreamSink.metadataDir)

  // Both create the table's folder and log: only once the table is written.
  private lazy val sink =
    new FileStreamSink(spark, path.toString, new ParquetFileFormat(), partitionColumns, Map.empty)
  private lazy val log = new FileStreamSinkLog(FileStreamSinkLog.VERSION, spark, logPath.toString, None)
  private var cleaned = false

  /** The last batch id the table committed, -1 if none (or no table yet). */
  def lastCommitted: Long = if (!fs.exists(logPath)) -1L else log.getLatestBatchId().getOrElse(-1L)

  /** Writes `data` as batch `batchId` unless the table committed it already; returns the rows written (0 when skipped),
    * counted from the committed files' Parquet footers.
    */
  def write(batchId: Long, data: DataFrame): Long = {
    prepare()
    val last = lastCommitted
    if (batchId <= last) 0L
    else {
      fillBetween(last, batchId)
      sink.addBatch(batchId, data)
      log.get(batchId).map(_.map(f => rowsIn(new Path(f.toFileStatus.getPath.toUri))).sum).getOrElse(0L)
    }
  }

  /** Commits batch `batchId` with no rows, unless committed already: what the file sink does for an empty batch,
    * without a Spark job.
    */
  def commitEmpty(batchId: Long): Unit = {
    prepare()
    val last = lastCommitted
    if (batchId > last) {
      fillBetween(last, batchId)
      log.add(batchId, Array.empty)
    }
  }

  private def prepare(): Unit = if (!cleaned) { removeUncommitted(); cleaned = true }

  /** The log must hold every batch id from its first (its compaction reads them all): a table first written at a later
    * batch (one added to a running job) gets empty entries for the batches before.
    */
  private def fillBetween(last: Long, batchId: Long): Unit =
    (last + 1 until batchId).foreach(id => log.add(id, Array.empty))

  /** Deletes the data files under the table that its log does not list; returns their paths. Data files are those the
    * writer's own naming can have produced (`dataFiles`): anything else in the folder (notes, another job's output, a
    * link) is left alone. A folder with data files and no log was not written by this writer: it is refused, never
    * emptied.
    */
  def removeUncommitted(): Seq[String] = {
    if (!fs.exists(path)) Seq.empty
    else {
      val files = dataFiles(path)
      if (files.nonEmpty && !fs.exists(logPath))
        throw new IllegalStateException(
          s"$path holds Parquet files but no ${FileStreamSink.metadataDir} log: it was not written by vsa's table " +
            "writer (an older vsa batch?); write to another output_root"
        )
      val committed =
        if (files.isEmpty) Set.empty[Path]
        else log.allFiles().map(f => fs.makeQualified(new Path(f.toFileStatus.getPath.toUri))).toSet
      // The log holds absolute paths: in a folder moved (or copied) elsewhere, every file would
      // look uncommitted and be deleted.
      val elsewhere = committed.find(f => !isUnder(f, path))
      elsewhere.foreach { f =>
        throw new IllegalStateException(
          s"the ${FileStreamSink.metadataDir} log of $path lists files elsewhere ($f): the table was moved or " +
            "copied after it was written; a table stays where it was first written (move it back, or write to " +
            "another output_root)"
        )
      }
      val leftovers = files.filterNot(committed)
      leftovers.foreach(fs.delete(_, false))
      leftovers.map(_.toString)
    }
  }

  /** The files the file sink can have written under `dir`: `part-` files in the partition folders, one level per
    * partition column (`date=…/hour=…`). Symbolic links, to folders or files, are neither followed nor listed: what
    * they lead to was not written here.
    */
  private def dataFiles(dir: Path, partitions: Seq[String] = partitionColumns): Seq[Path] =
    fs.listStatus(dir).toSeq.filterNot(isLink).flatMap { status =>
      val name = status.getPath.getName
      partitions match {
        case column +: deeper =>
          if (status.isDirectory && name.startsWith(s"$column=")) dataFiles(status.getPath, deeper) else Seq.empty
        case _ =>
          if (status.isFile && name.startsWith("part-")) Seq(fs.makeQualified(status.getPath)) else Seq.empty
      }
    }

  /** A symbolic link: as the listing says, or, on the local file system (whose listing follows links), as the OS says.
    */
  private def isLink(status: FileStatus): Boolean =
    status.isSymlink || (status.getPath.toUri.getScheme == "file" &&
      Files.isSymbolicLink(Paths.get(status.getPath.toUri)))

  private def isUnder(file: Path, dir: Path): Boolean =
    Iterator.iterate(file.getParent)(_.getParent).takeWhile(_ != null).contains(dir)

  private def rowsIn(file: Path): Long = {
    val reader = ParquetFileReader.open(HadoopInputFile.fromPath(file, hadoopConf), footerOptions)
    try reader.getRecordCount
    finally reader.close()
  }
}
