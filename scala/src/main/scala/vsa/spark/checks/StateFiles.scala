package vsa.spark.checks

import java.nio.charset.StandardCharsets.US_ASCII

import scala.util.control.NonFatal

import org.apache.hadoop.fs.{FileStatus, FileSystem, Path}
import org.apache.spark.sql.SparkSession

/** A state file a restart would load that cannot be: `error` is why it cannot be read; none when it reads but was cut
  * short (no end mark).
  */
final case class DamagedStateFile(path: String, error: Option[Throwable])

/** Whether a checkpoint's state files can be loaded, judged from their last bytes: a file cut short (a crash, a full
  * disk, a partial copy) would stop the job's restart deep inside Spark, with no name on it.
  */
object StateFiles {
  val CodecKey = "spark.sql.streaming.stateStore.compression.codec"
  val ProviderKey = "spark.sql.streaming.stateStore.providerClass"
  val DefaultProvider = "org.apache.spark.sql.execution.streaming.state.HDFSBackedStateStoreProvider"

  // The end mark of an LZ4 block stream (Spark's lz4 codec, the state store's default): the magic, a token byte, then
  // zero compressed and decompressed lengths and checksum.
  private val Lz4Magic = "LZ4Block".getBytes(US_ASCII)
  val EndMarkSize = 21

  /** The first state file of `checkpoint` that a restart would load (each store's newest snapshot and the deltas after
    * it) and that cannot be read or lacks the LZ4 end mark. Only the default state store and codec are checked:
    * another's files have another format.
    */
  def firstDamaged(spark: SparkSession, checkpoint: String): Option[DamagedStateFile] = {
    val codec = spark.conf.get(CodecKey, "lz4")
    val provider = spark.conf.get(ProviderKey, DefaultProvider)
    val state = new Path(checkpoint, "state")
    val fs = state.getFileSystem(spark.sparkContext.hadoopConfiguration)
    if (codec != "lz4" || provider != DefaultProvider || !fs.exists(state)) None
    else loaded(fs, state).iterator.flatMap(damage(fs, _)).nextOption()
  }

  /** The files a restart loads, store by store (in the order they are listed), each store's in version order. */
  private def loaded(fs: FileSystem, state: Path): Seq[FileStatus] = {
    val files = fs.listFiles(state, true)
    val stores = scala.collection.mutable.LinkedHashMap.empty[Path, Vector[(Long, Boolean, FileStatus)]]
    while (files.hasNext) {
      val status = files.next()
      status.getPath.getName.split("\\.", 2) match {
        case Array(version, kind) if version.nonEmpty && version.forall(_.isDigit) && Set("delta", "snapshot")(kind) =>
          val store = status.getPath.getParent
          stores(store) = stores.getOrElse(store, Vector.empty) :+ ((version.toLong, kind == "snapshot", status))
        case _ =>
      }
    }
    stores.values.toSeq.flatMap { entries =>
      val since = entries.collect { case (v, true, _) => v }.maxOption.getOrElse(0L)
      entries
        .sortBy { case (version, snapshot, _) => (version, snapshot) }
        .collect { case (version, snapshot, status) if version > since || (version == since && snapshot) => status }
    }
  }

  private def damage(fs: FileSystem, status: FileStatus): Option[DamagedStateFile] = {
    val path = status.getPath.toString
    val size = status.getLen
    if (size < EndMarkSize) Some(DamagedStateFile(path, None))
    else
      try {
        val tail = new Array[Byte](EndMarkSize)
        val stream = fs.open(status.getPath)
        try {
          stream.seek(size - EndMarkSize)
          stream.readFully(tail)
        } finally stream.close()
        if (endsWell(tail)) None else Some(DamagedStateFile(path, None))
      } catch { case NonFatal(e) => Some(DamagedStateFile(path, Some(e))) }
  }

  /** Whether the last bytes of a file are an LZ4 block stream's end mark. */
  def endsWell(tail: Array[Byte]): Boolean =
    tail.length == EndMarkSize && tail.startsWith(Lz4Magic) && tail.drop(Lz4Magic.length + 1).forall(_ == 0)
}
