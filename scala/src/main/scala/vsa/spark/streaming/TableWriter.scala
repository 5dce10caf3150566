package vsa.spark.streaming

import java.nio.file.{Files, Paths}
import java.util.UUID
import java.util.concurrent.{CompletableFuture, ExecutionException, ExecutorService, Executors}

import scala.collection.mutable

import org.apache.hadoop.fs.{FileStatus, FileSystem, Path}
import org.apache.hadoop.mapreduce.task.TaskAttemptContextImpl
import org.apache.hadoop.mapreduce.{Job, JobID, TaskAttemptID, TaskID, TaskType}
import org.apache.spark.TaskContext
import org.apache.spark.broadcast.Broadcast
import org.apache.spark.rdd.RDD
import org.apache.spark.sql.catalyst.InternalRow
import org.apache.spark.sql.catalyst.catalog.ExternalCatalogUtils
import org.apache.spark.sql.catalyst.expressions.{BoundReference, UnsafeRow}
import org.apache.spark.sql.execution.SQLExecution
import org.apache.spark.sql.execution.datasources.{OutputWriter, OutputWriterFactory}
import org.apache.spark.sql.execution.datasources.parquet.ParquetFileFormat
import org.apache.spark.sql.execution.streaming.sinks.{FileStreamSink, FileStreamSinkLog, SinkFileStatus}
import org.apache.spark.sql.types.StructType
import org.apache.spark.sql.vsa.ReusedProjections
import org.apache.spark.sql.{DataFrame, SparkSession, classic}
import org.apache.spark.util.SerializableConfiguration

/** One table's exactly-once writer, with the commit protocol of Spark's own file sink (`FileStreamSink`): called per
  * micro-batch by vsa's one `foreachBatch` writer, which writes all of a batch's tables at once
  * (`TableWriter.writeAll`).
  *
  *   - Each batch's files are committed in the table's `_spark_metadata` log (Spark's `FileStreamSinkLog`) under the
  *     batch id, so `spark.read.parquet(path)` sees whole committed batches only.
  *   - A batch id the table already committed is skipped: on replay after a crash, the tables that committed the batch
  *     skip it and the others write it.
  *   - Files that no batch committed (a crash between writing and committing) are deleted before the writer's first
  *     batch, so readers that list the folder (pyarrow, DuckDB, pandas, Trino) see exactly the committed rows. One
  *     writer per table is the rule that makes this safe. Only what the writer can have made is deleted: `part-` files
  *     in the table's partition folders (`date=…/hour=…`), reached without following a symbolic link.
  *
  * `FileStreamSinkLog`, `SinkFileStatus` and `OutputWriterFactory` are Spark internals: `TableWriterSpec` breaks if
  * they change.
  */
final class TableWriter(spark: SparkSession, location: String, partitionColumns: Seq[String]) {
  private val hadoopConf = spark.sessionState.newHadoopConf()
  private val fs: FileSystem = new Path(location).getFileSystem(hadoopConf)

  /** The table's location, absolute (the file sink refuses relative paths). */
  val path: Path = fs.makeQualified(new Path(location))
  private val logPath = new Path(path, FileStreamSink.metadataDir)

  // Creates the table's folder and log: only once the table is written, and before its first file (a folder of
  // files without a log is refused as not the writer's).
  private lazy val log = new FileStreamSinkLog(FileStreamSinkLog.VERSION, spark, logPath.toString, None)
  private var cleaned = false

  /** The last batch id the table committed, -1 if none (or no table yet). */
  def lastCommitted: Long = if (!fs.exists(logPath)) -1L else log.getLatestBatchId().getOrElse(-1L)

  /** Writes `data` as batch `batchId` unless the table committed it already; returns the rows written (0 when skipped).
    */
  def write(batchId: Long, data: DataFrame): Long = TableWriter.writeAll(batchId, Seq(this -> data)).head

  /** Whether batch `batchId` is still to write (after the first call, files no batch committed are gone); makes the
    * table's log if it has none.
    */
  private[spark] def pending(batchId: Long): Boolean = {
    prepare()
    val todo = batchId > lastCommitted
    if (todo) log
    todo
  }

  /** Commits `files` as batch `batchId`, from the driver, with no Spark job (what the file sink's commit protocol does
    * once its job's tasks are done).
    */
  private[spark] def commit(batchId: Long, files: Seq[SinkFileStatus]): Unit = {
    fillBetween(lastCommitted, batchId)
    if (!log.add(batchId, files.toArray))
      throw new IllegalStateException(s"$path: batch $batchId was committed by another writer meanwhile")
  }

  /** Commits batch `batchId` with no rows, unless committed already: what the file sink does for an empty batch,
    * without a Spark job.
    */
  def commitEmpty(batchId: Long): Unit = if (pending(batchId)) commit(batchId, Seq.empty)

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

  /** What a task needs to write this table's rows of `data` (its columns, partition columns included) as Parquet. */
  private[spark] def fileTask(index: Int, data: DataFrame): TableFiles = {
    val schema = data.schema
    val partitionFields = partitionColumns.map(c => schema(schema.fieldIndex(c)))
    val dataSchema = StructType(schema.filterNot(partitionFields.contains))
    val (factory, conf) = parquetFor(dataSchema)
    def refs(fields: Seq[String]) = fields.map { name =>
      val i = schema.fieldIndex(name)
      BoundReference(i, schema(i).dataType, schema(i).nullable)
    }
    TableFiles(
      index,
      path.toString,
      factory,
      conf,
      dataSchema,
      partitionColumns,
      refs(partitionColumns),
      refs(dataSchema.fieldNames.toSeq)
    )
  }

  private var parquet: Option[(StructType, OutputWriterFactory, Broadcast[SerializableConfiguration])] = None

  /** The Parquet writer factory of `dataSchema` and the Hadoop configuration its files are written with, made once per
    * schema (a query's tables keep theirs). The configuration is broadcast: carried in each task's closure, it was
    * serialized for every table every batch, on the driver twice (the closure check, the task) and read back by every
    * task (docs/performance.md).
    */
  private def parquetFor(dataSchema: StructType): (OutputWriterFactory, Broadcast[SerializableConfiguration]) =
    synchronized {
      parquet match {
        case Some((schema, factory, conf)) if schema == dataSchema => (factory, conf)
        case _ =>
          val job = Job.getInstance(hadoopConf)
          val factory = new ParquetFileFormat().prepareWrite(spark, job, Map.empty, dataSchema)
          val conf = spark.sparkContext.broadcast(new SerializableConfiguration(job.getConfiguration))
          parquet.foreach(_._3.destroy())
          parquet = Some((dataSchema, factory, conf))
          (factory, conf)
      }
    }
}

/** One table's write in a task: its rows to Parquet files in its partition folders (`date=…/hour=…`), named as Spark's
  * file sink names them (`part-…`, the only files `removeUncommitted` may delete). Like the file sink, it writes into
  * the table's folders directly: a file is the table's only once the driver commits it in the log.
  */
private[spark] final case class TableFiles(
    index: Int,
    location: String,
    factory: OutputWriterFactory,
    hadoopConf: Broadcast[SerializableConfiguration],
    dataSchema: StructType,
    partitionNames: Seq[String],
    partitionRefs: Seq[BoundReference],
    dataRefs: Seq[BoundReference]
) {

  /** Writes `rows`; the files written, each with its rows. On failure, the files are deleted (best effort: what is left
    * is removed by the next writer's start anyway).
    */
  def write(split: Int, rows: Iterator[InternalRow]): Seq[(SinkFileStatus, Long)] = {
    val task = TaskContext.get()
    val jobId = new JobID("vsa", task.stageId())
    val attempt = new TaskAttemptID(new TaskID(jobId, TaskType.MAP, split), task.attemptNumber())
    val conf = hadoopConf.value.value
    val context = new TaskAttemptContextImpl(conf, attempt)
    val partitionOf = ReusedProjections.projection(partitionRefs, split)
    val dataOf = ReusedProjections.projection(dataRefs, split)
    final class File(val writer: OutputWriter, var rows: Long = 0L)
    // The rows are not sorted by partition (the file sink sorts them): a file per partition stays open, up to a bound
    // (each holds a row group in memory); past it the oldest is closed, and its partition gets a new file if needed.
    val open = mutable.LinkedHashMap.empty[UnsafeRow, File]
    val done = mutable.ArrayBuffer.empty[File]
    def close(file: File): Unit = { done += file; file.writer.close() }
    try {
      rows.foreach { row =>
        val key = partitionOf(row)
        val file = open.getOrElse(
          key, {
            if (open.size == TableFiles.maxOpenFiles) close(open.remove(open.head._1).get)
            val created = new File(newWriter(split, key, context))
            open.put(key.copy(), created)
            created
          }
        )
        file.writer.write(dataOf(row))
        file.rows += 1
      }
      open.values.foreach(close)
      done.toSeq.map { file =>
        val written = new Path(file.writer.path())
        SinkFileStatus(written.getFileSystem(conf).getFileStatus(written)) -> file.rows
      }
    } catch {
      case failure: Throwable =>
        (done ++ open.values).distinct.foreach { file =>
          val written = new Path(file.writer.path())
          try {
            if (!done.contains(file)) file.writer.close()
            written.getFileSystem(conf).delete(written, false)
          } catch { case cleanup: Exception => failure.addSuppressed(cleanup) }
        }
        throw failure
    }
  }

  private def newWriter(split: Int, partition: UnsafeRow, context: TaskAttemptContextImpl): OutputWriter = {
    val folder = partitionNames.zipWithIndex.map { case (name, i) =>
      val value = partition.get(i, partitionRefs(i).dataType)
      ExternalCatalogUtils.getPartitionPathString(name, if (value == null) null else value.toString)
    }
    val name = f"part-$split%05d-${UUID.randomUUID}.c000${factory.getFileExtension(context)}"
    factory.newInstance(new Path(new Path(location, folder.mkString("/")), name).toString, dataSchema, context)
  }
}

private[spark] object TableFiles {

  /** The files a task keeps open at once. */
  val maxOpenFiles = 16
}

object TableWriter {

  /** Writes `tables` (each writer with its rows: its columns and partition columns) as batch `batchId`, skipping the
    * tables that committed it already; returns the rows written to each (0 when skipped).
    *
    * All the tables' files are written at once (a Spark job per table, side by side, each task writing its table's
    * files); then the driver commits each table's log entry, with no Spark job. A crash between the two leaves files no
    * log lists: readers through the log ignore them, and the next writer of the table deletes them before its first
    * batch, which the query then writes again.
    */
  def writeAll(batchId: Long, tables: Seq[(TableWriter, DataFrame)]): Seq[Long] = {
    val todo = tables.zipWithIndex.filter { case ((writer, _), _) => writer.pending(batchId) }
    val files = writeFiles(todo.map { case ((writer, data), index) => writer.fileTask(index, data) -> data })
    todo.foreach { case ((writer, _), index) => writer.commit(batchId, files.getOrElse(index, Seq.empty).map(_._1)) }
    tables.indices.map(i => files.getOrElse(i, Seq.empty).map(_._2).sum)
  }

  /** The first step alone: every table's files, by table index; nothing committed.
    *
    * One Spark job per table, all submitted at once, so they run side by side as one job's stages would. Not one job
    * over their union: every task of a job deserializes the job's whole lineage, so a task would read every table's
    * plan and Hadoop configuration to write one table's files (a third of a small batch's task time).
    */
  private[spark] def writeFiles(tables: Seq[(TableFiles, DataFrame)]): Map[Int, Seq[(SinkFileStatus, Long)]] = {
    // Each table's plan is made on the planners' threads, and its job submitted as soon as it is: planned one after
    // the other, a small batch's tables waited for the driver's planning more than for their tasks.
    val jobs = tables.map { case (table, data) =>
      val session = data.sparkSession.asInstanceOf[classic.SparkSession]
      table.index -> SQLExecution.withThreadLocalCaptured(session, planners) {
        data.queryExecution.toRdd
          .mapPartitionsWithIndex((split, rows) => Iterator(table.write(split, rows)))
          .collectAsync()
      }
    }
    try jobs.map { case (index, planned) => index -> submitted(planned).get().flatten }.toMap
    catch {
      case failure: Throwable =>
        jobs.foreach { case (_, planned) =>
          planned.cancel(false)
          if (planned.isDone && !planned.isCompletedExceptionally && !planned.get().isCompleted) planned.get().cancel()
        }
        throw failure
    }
  }

  /** The job a planner thread submitted; a failure to plan is thrown as itself, not wrapped. */
  private def submitted[T](planned: CompletableFuture[T]): T =
    try planned.get()
    catch { case wrapped: ExecutionException if wrapped.getCause != null => throw wrapped.getCause }

  /** The threads that plan tables' writes (daemons: they never hold a JVM up). */
  private lazy val planners: ExecutorService =
    Executors.newFixedThreadPool(
      2,
      { (task: Runnable) =>
        val thread = new Thread(task, "vsa-table-planner")
        thread.setDaemon(true)
        thread
      }
    )
}
