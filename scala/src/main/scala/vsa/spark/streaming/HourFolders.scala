package vsa.spark.streaming

import java.time.{LocalDate, ZoneOffset}

import org.apache.hadoop.fs.Path
import org.apache.spark.sql.SparkSession

/** The hour partitions (`date=yyyy-MM-dd/hour=H`, UTC) of a table's folder, found by listing it: what the writer reads
  * back to close a longer window, without the table's log (whose size grows with every batch).
  */
object HourFolders {
  private val HourMs = 3600000L
  private val DayMs = 24 * HourMs

  /** The hour folders of the table at `table` whose hour overlaps `[fromMs, untilMs)` (epoch ms), qualified paths; none
    * when the table has no folder.
    */
  def overlapping(spark: SparkSession, table: String, fromMs: Long, untilMs: Long): Seq[String] = {
    val path = new Path(table)
    val fs = path.getFileSystem(spark.sparkContext.hadoopConfiguration)
    if (!fs.exists(path)) Seq.empty
    else {
      val first = Math.floorDiv(fromMs, HourMs) * HourMs
      for {
        day <- fs.listStatus(path).toSeq if day.getPath.getName.startsWith("date=")
        date = LocalDate.parse(day.getPath.getName.drop(5)).atStartOfDay(ZoneOffset.UTC).toInstant.toEpochMilli
        if date + DayMs > first && date < untilMs
        hour <- fs.listStatus(day.getPath).toSeq if hour.getPath.getName.startsWith("hour=")
        at = date + hour.getPath.getName.drop(5).toInt * HourMs
        if first <= at && at < untilMs
      } yield hour.getPath.toString
    }
  }
}
