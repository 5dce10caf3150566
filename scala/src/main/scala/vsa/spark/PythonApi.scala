package vsa.spark

import scala.jdk.CollectionConverters._

import org.apache.spark.sql.vsa.Columns
import org.apache.spark.sql.{Column, DataFrame, Encoders, SparkSession}
import vsa.spark.checks.{Locations, StateFiles, TableLogs, Writability}
import vsa.spark.expressions.BatchConstant
import vsa.spark.fs.NioLocalFileSystem
import vsa.spark.geoip.GeoIpDatabase
import vsa.spark.sessions.{CdnRequest, Sessionizer, SliceRow}
import vsa.spark.streaming.{BatchSlot, Checkpoint, HourFolders, KafkaSend, KafkaTopics, TableWriter}

/** Everything Python asks of the JVM, in one place: the only object `vsa.jvm` calls through py4j. Its methods take and
  * return what py4j carries plainly (strings, numbers, Java lists, maps and arrays, a `DataFrame`, an opaque
  * [[TableWriter]]), so a change in the jar's objects breaks here, at compile time, not in Python at run time. Each
  * delegates to the object that does the work.
  */
object PythonApi {

  // Row schemas: Python reads the jar's column lists instead of repeating them.

  /** The columns of a slice (`SliceRow`, the sessionizer's `slice` struct), in order. */
  def sliceColumns(): Array[String] = Encoders.product[SliceRow].schema.fieldNames

  /** The figures of a CDN request the sessionizer attributes (`CdnRequest`): name → Spark SQL type, in order. */
  def requestFigures(): java.util.Map[String, String] = {
    val figures = new java.util.LinkedHashMap[String, String]()
    Encoders.product[CdnRequest].schema.fields.foreach(f => figures.put(f.name, f.dataType.simpleString))
    figures
  }

  /** The player event types the sessionizer knows, in its tie-break order (docs/views.md). */
  def eventTypes(): Array[String] = Sessionizer.EventTypes.toArray

  // Preflight checks (`vsa.checks`).

  /** The cluster's topic names; throws the admin client's exception when the brokers do not answer or refuse. */
  def topicNames(bootstrapServers: String, options: java.util.Map[String, String], timeoutMs: Long): Array[String] =
    KafkaTopics.names(bootstrapServers, options, timeoutMs).toArray

  /** The type of the GeoIP database at `path` (`GeoLite2-City`…), opened and verified whole; throws naming the file and
    * `confKey` when it cannot be.
    */
  def geoipDatabaseType(path: String, confKey: String): String = GeoIpDatabase.open(path, confKey).databaseType

  /** Whether `location` can be written: `outcome` `writable`, `no parent` or `not a directory` (then `existing` is the
    * file in the way). A file system's refusal is thrown.
    */
  def writability(spark: SparkSession, location: String): java.util.Map[String, String] =
    Locations.writability(spark, location) match {
      case Writability.Writable                => java.util.Map.of("outcome", "writable")
      case Writability.NoParent                => java.util.Map.of("outcome", "no parent")
      case Writability.NotADirectory(existing) => java.util.Map.of("outcome", "not a directory", "existing", existing)
    }

  /** The queries of vsa 0.1's layout (one per table) with a checkpoint under `checkpointRoot`. */
  def oldLayout(spark: SparkSession, checkpointRoot: String): Array[String] =
    Locations.oldLayout(spark, checkpointRoot).toArray

  /** The first state file of the query checkpoint at `checkpoint` that a restart could not load: `path`, and `error` (a
    * Throwable) when it cannot be read, none when it reads but has no end mark; null when every file ends well.
    */
  def damagedStateFile(spark: SparkSession, checkpoint: String): java.util.Map[String, Object] =
    StateFiles
      .firstDamaged(spark, checkpoint)
      .map(d => result("path" -> d.path, "error" -> d.error.orNull))
      .orNull

  /** The commit log of the table at `table`, if it does not parse: `where` (the first file that does not, else the
    * log's folder) and `error` (a Throwable); null when it reads, or there is none.
    */
  def unreadableTableLog(spark: SparkSession, table: String): java.util.Map[String, Object] =
    TableLogs.unreadable(spark, table).map(u => result("where" -> u.where, "error" -> u.error)).orNull

  // The streaming query's checkpoint (`vsa.spark.streaming.Checkpoint`).

  def checkpointLastPlanned(spark: SparkSession, checkpoint: String): Long = Checkpoint.lastPlanned(spark, checkpoint)

  def checkpointLastCommitted(spark: SparkSession, checkpoint: String): Long =
    Checkpoint.lastCommitted(spark, checkpoint)

  def checkpointWatermarkMs(spark: SparkSession, checkpoint: String, batchId: Long): Long =
    Checkpoint.watermarkMs(spark, checkpoint, batchId)

  def checkpointNextWatermarkMs(spark: SparkSession, checkpoint: String, batchId: Long): Long =
    Checkpoint.nextWatermarkMs(spark, checkpoint, batchId)

  // Files.

  /** In a local session (driver and executors one JVM), `file:` paths through vsa's local file system from now on (see
    * [[NioLocalFileSystem.install]]); whether it was installed.
    */
  def useNioLocalFileSystem(spark: SparkSession): Boolean =
    spark.sparkContext.isLocal && NioLocalFileSystem.install(spark.sparkContext.hadoopConfiguration)

  /** Whether `location` exists. */
  def exists(spark: SparkSession, location: String): Boolean = {
    val path = new org.apache.hadoop.fs.Path(location)
    path.getFileSystem(spark.sparkContext.hadoopConfiguration).exists(path)
  }

  /** The hour folders of the table at `table` overlapping `[fromMs, untilMs)`, see [[HourFolders.overlapping]]. */
  def hourFolders(spark: SparkSession, table: String, fromMs: Long, untilMs: Long): Array[String] =
    HourFolders.overlapping(spark, table, fromMs, untilMs).toArray

  // The stages in the jar.

  /** See [[Sessionizer.sessionize]]. */
  def sessionize(
      events: DataFrame,
      viewTimeoutMs: Long,
      maxEventGapMs: Long,
      maxPendingEvents: Int,
      cdnAttr: Int,
      countryAttr: Int
  ): DataFrame =
    Sessionizer.sessionize(events, viewTimeoutMs, maxEventGapMs, maxPendingEvents, cdnAttr, countryAttr)

  /** The writer of the table at `location`, partitioned by `partitionColumns`: a handle for the three calls below. */
  def tableWriter(spark: SparkSession, location: String, partitionColumns: java.util.List[String]): TableWriter =
    new TableWriter(spark, location, partitionColumns.asScala.toSeq)

  def tableLastCommitted(writer: TableWriter): Long = writer.lastCommitted

  /** The last batch id each of `writers` committed, in their order (one call for a batch's tables). */
  def tablesLastCommitted(writers: java.util.List[TableWriter]): Array[Long] =
    writers.asScala.map(_.lastCommitted).toArray

  def writeTable(writer: TableWriter, batchId: Long, data: DataFrame): Long = writer.write(batchId, data)

  def commitEmptyTable(writer: TableWriter, batchId: Long): Unit = writer.commitEmpty(batchId)

  /** [[TableWriter.writeAll]]: a batch's tables at once; the rows written, in the order of `writers`. */
  def writeTables(batchId: Long, writers: java.util.List[TableWriter], data: java.util.List[DataFrame]): Array[Long] =
    TableWriter.writeAll(batchId, writers.asScala.toSeq.zip(data.asScala.toSeq)).toArray

  /** A frame of `data`'s columns and none of its rows, for plans built once and filled with each batch's rows: see
    * [[BatchSlot]].
    */
  def batchSlot(data: DataFrame): DataFrame = BatchSlot.frame(data.sparkSession, data.schema)

  /** See [[BatchSlot.fill]]. */
  def fillBatchSlot(template: DataFrame, rows: DataFrame): DataFrame = BatchSlot.fill(template, rows)

  /** `column` (a value constant within a batch, as `current_timestamp()`) handed to generated code by reference: see
    * [[BatchConstant]].
    */
  def batchConstant(column: Column): Column = Columns.column(BatchConstant(Columns.expression(column)))

  /** See [[KafkaSend.send]]. */
  def kafkaSend(
      bootstrapServers: String,
      options: java.util.Map[String, String],
      topic: String,
      records: Array[Byte]
  ): Int = KafkaSend.send(bootstrapServers, options, topic, records)

  /** See [[KafkaTopics.partitions]]. */
  def topicPartitions(
      bootstrapServers: String,
      options: java.util.Map[String, String],
      topic: String,
      timeoutMs: Long
  ): Array[Int] = KafkaTopics.partitions(bootstrapServers, options, topic, timeoutMs)

  // A map with null values (java.util.Map.of refuses them), for py4j.
  private def result(entries: (String, Object)*): java.util.Map[String, Object] = {
    val map = new java.util.HashMap[String, Object]()
    entries.foreach { case (k, v) => map.put(k, v) }
    map
  }
}
