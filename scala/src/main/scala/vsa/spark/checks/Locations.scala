package vsa.spark.checks

import java.util.UUID

import org.apache.hadoop.fs.Path
import org.apache.spark.sql.SparkSession

/** Whether vsa can write a location: [[Writability.Writable]], or why not. */
sealed trait Writability
object Writability {
  case object Writable extends Writability

  /** Not even the location's root exists. */
  case object NoParent extends Writability

  /** The nearest existing parent (or the location itself) is a file. */
  final case class NotADirectory(existing: String) extends Writability
}

/** What the checks ask of the output and checkpoint locations. */
object Locations {

  /** The per-table queries of vsa 0.1, whose checkpoints this vsa cannot resume. */
  val OldLayoutQueries: Seq[String] = Seq("player_events", "_sessions", "dead_letter", "view_slices", "kpi_minute")

  /** Whether `location` can be written: a file created and deleted in it, or in its nearest existing parent (nothing is
    * left behind, no folder made). A file system's refusal is thrown as it comes.
    */
  def writability(spark: SparkSession, location: String): Writability = {
    val path = new Path(location)
    val fs = path.getFileSystem(spark.sparkContext.hadoopConfiguration)
    Iterator.iterate(path)(_.getParent).takeWhile(_ != null).find(fs.exists) match {
      case None                                            => Writability.NoParent
      case Some(dir) if !fs.getFileStatus(dir).isDirectory => Writability.NotADirectory(dir.toString)
      case Some(dir) =>
        val probe = new Path(dir, s".vsa-check-${UUID.randomUUID().toString.replace("-", "")}")
        fs.create(probe, false).close()
        fs.delete(probe, false)
        Writability.Writable
    }
  }

  /** The queries of vsa 0.1's layout that have a checkpoint under `checkpointRoot`. */
  def oldLayout(spark: SparkSession, checkpointRoot: String): Seq[String] = {
    val root = new Path(checkpointRoot)
    val fs = root.getFileSystem(spark.sparkContext.hadoopConfiguration)
    OldLayoutQueries.filter(name => fs.exists(new Path(new Path(root, name), "offsets")))
  }
}
