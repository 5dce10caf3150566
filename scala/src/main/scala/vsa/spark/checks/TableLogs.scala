package vsa.spark.checks

import scala.util.control.NonFatal

import org.apache.hadoop.fs.Path
import org.apache.spark.sql.SparkSession
import org.apache.spark.sql.execution.streaming.sinks.{FileStreamSink, FileStreamSinkLog}

/** A table's commit log that does not parse: `where` is the first log file that does not (or the log's folder, when
  * each file parses on its own), `error` why.
  */
final case class UnreadableLog(where: String, error: Throwable)

/** Whether a table's commit log (`_spark_metadata`) reads as Spark's own reader reads it: a log file that does not
  * parse leaves the table unreadable. `FileStreamSinkLog` is Spark-internal API, pinned by `TableLogsSpec`.
  */
object TableLogs {

  /** The problem of the log of the table at `table`; none when it reads, or the table has no log. */
  def unreadable(spark: SparkSession, table: String): Option[UnreadableLog] = {
    val location = new Path(table, FileStreamSink.metadataDir)
    val fs = location.getFileSystem(spark.sparkContext.hadoopConfiguration)
    if (!fs.exists(location)) None
    else {
      val log = new FileStreamSinkLog(FileStreamSinkLog.VERSION, spark, location.toString, None)
      try { log.allFiles(); None }
      catch {
        case NonFatal(whole) =>
          // Name the file: parse each batch's file on its own.
          val batches = fs
            .listStatus(location)
            .map(_.getPath.getName)
            .flatMap(name => batchOf(name).map(_ -> name))
            .sortBy(_._1)
          val bad = batches.iterator.flatMap { case (batch, name) =>
            try { log.get(batch); None }
            catch { case NonFatal(e) => Some(UnreadableLog(s"$location/$name", e)) }
          }
          Some(bad.nextOption().getOrElse(UnreadableLog(location.toString, whole)))
      }
    }
  }

  /** The batch of a log file's name (`7`, `9.compact`); none for another file. */
  private def batchOf(name: String): Option[Long] = {
    val batch = name.takeWhile(_ != '.')
    if (batch.nonEmpty && batch.forall(_.isDigit)) batch.toLongOption else None
  }
}
