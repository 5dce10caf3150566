package vsa.spark.streaming

import java.util.concurrent.TimeUnit

import scala.jdk.CollectionConverters._
import scala.util.Try

import com.fasterxml.jackson.databind.ObjectMapper
import org.apache.hadoop.fs.Path
import org.apache.kafka.clients.admin.{Admin, AdminClientConfig, OffsetSpec}
import org.apache.kafka.common.TopicPartition
import org.apache.spark.sql.SparkSession
import org.apache.spark.sql.catalyst.InternalRow
import org.apache.spark.sql.connector.catalog.{SupportsRead, Table, TableCapability, TableProvider}
import org.apache.spark.sql.connector.expressions.Transform
import org.apache.spark.sql.connector.read.streaming.{MicroBatchStream, Offset, ReadLimit, SupportsTriggerAvailableNow}
import org.apache.spark.sql.connector.read.{InputPartition, PartitionReader, PartitionReaderFactory, Scan, ScanBuilder}
import org.apache.spark.sql.types.{BooleanType, StructType, TimestampType}
import org.apache.spark.sql.util.CaseInsensitiveStringMap

/** `spark.readStream.format("vsa.spark.streaming.IdleTicks")`: the idleness rule of one Kafka partition's stream
  * (docs/architecture.md, "Idle partitions").
  *
  * Spark's watermark of a query is the least of its sources' watermarks, and a source without new rows keeps its old
  * one (0 if it never had any). So one silent partition of the player topic would hold every slice, view and KPI. This
  * source, unioned into a partition's stream before its watermark, emits one row, a tick, whose `event_time` is `now -
  * idleTimeoutMs`, when that partition is idle: the job has read all it holds (its end offset equals the one the job's
  * Kafka source planned for the last batch, in the query's offset log) and the broker's end offset has not moved for
  * `idleTimeoutMs`. A partition still reading a backlog is never idle, so the tick never makes its records late.
  *
  * The offset is the tick's time, so a replayed batch plans the very tick of its first attempt. Idleness is measured
  * from when the source starts: a restarted job waits a whole timeout again; a run with `availableNow` plans its
  * offsets once, at its start, and never ticks.
  *
  * Options: `kafka.bootstrap.servers` and any other `kafka.*` client setting, `topic`, `partition`, `idleTimeoutMs`.
  */
class IdleTicks extends TableProvider {
  override def inferSchema(options: CaseInsensitiveStringMap): StructType = IdleTicks.Schema

  override def getTable(
      schema: StructType,
      partitioning: Array[Transform],
      properties: java.util.Map[String, String]
  ): Table = new IdleTicksTable(new CaseInsensitiveStringMap(properties))
}

object IdleTicks {
  // `idle_tick` (always true) tells a tick from a record after the union. Both columns are nullable on purpose: in a
  // batch of ticks only, Spark would fold a literal or a non-null column into the filter that drops the ticks after the
  // watermark, until it no longer names `event_time`, and push it below the watermark, which would never see a tick.
  val Schema: StructType =
    new StructType().add("event_time", TimestampType, nullable = true).add("idle_tick", BooleanType, nullable = true)
  private val Json = new ObjectMapper()

  /** The end offset the job's Kafka source planned for `topic`/`partition` in the query's newest offset-log entry, if
    * any. `checkpoint` is the query's checkpoint folder. An entry holds a line of JSON per source; a source that reads
    * one partition (`assign`) writes `{"topic":{"partition":offset}}`.
    */
  def plannedOffset(spark: SparkSession, checkpoint: Path, topic: String, partition: Int): Option[Long] = {
    val offsets = new Path(checkpoint, "offsets")
    val fs = offsets.getFileSystem(spark.sessionState.newHadoopConf())
    val batches =
      if (!fs.exists(offsets)) Array.empty[Long]
      else fs.listStatus(offsets).flatMap(s => s.getPath.getName.toLongOption)
    batches.maxOption.flatMap { batch =>
      val in = fs.open(new Path(offsets, batch.toString))
      val lines =
        try scala.io.Source.fromInputStream(in, "UTF-8").getLines().toVector
        finally in.close()
      lines.drop(2).iterator.flatMap(line => Try(Json.readTree(line)).toOption).collectFirst {
        case node if node != null && node.has(topic) && node.get(topic).has(partition.toString) =>
          node.get(topic).get(partition.toString).asLong()
      }
    }
  }
}

private final case class TickOffset(timeMs: Long) extends Offset {
  override def json(): String = timeMs.toString
}

private final class IdleTicksTable(options: CaseInsensitiveStringMap) extends Table with SupportsRead {
  override def name(): String = s"vsa-idle-ticks(${options.get("topic")}-${options.get("partition")})"
  override def schema(): StructType = IdleTicks.Schema
  override def capabilities(): java.util.Set[TableCapability] = java.util.Set.of(TableCapability.MICRO_BATCH_READ)

  override def newScanBuilder(ignored: CaseInsensitiveStringMap): ScanBuilder = () =>
    new Scan {
      override def readSchema(): StructType = IdleTicks.Schema
      override def toMicroBatchStream(checkpointLocation: String): MicroBatchStream =
        new IdleTicksStream(options, checkpointLocation)
    }
}

private final class IdleTicksStream(options: CaseInsensitiveStringMap, checkpointLocation: String)
    extends MicroBatchStream
    with SupportsTriggerAvailableNow {
  private val topic = options.get("topic")
  private val partition = options.getInt("partition", 0)
  private val idleTimeoutMs = options.getLong("idleTimeoutMs", 60000L)
  // The source's own folder is <query checkpoint>/sources/<n>.
  private val queryCheckpoint = new Path(checkpointLocation).getParent.getParent
  private val spark = SparkSession.active

  private var client: Option[Admin] = None

  private def admin: Admin = client.getOrElse {
    val settings = new java.util.HashMap[String, Object]()
    options.asScala.foreach { case (key, value) =>
      if (key.startsWith("kafka.")) settings.put(key.stripPrefix("kafka."), value)
    }
    settings.put(AdminClientConfig.DEFAULT_API_TIMEOUT_MS_CONFIG, Int.box(30000))
    val created = Admin.create(settings)
    client = Some(created)
    created
  }

  private var lastTick = 0L
  // The highest end offset of this partition the job's Kafka source is known to have planned.
  private var readTo = -1L

  private def plannedReaches(offset: Long): Boolean = {
    IdleTicks.plannedOffset(spark, queryCheckpoint, topic, partition).foreach(p => readTo = math.max(readTo, p))
    readTo >= offset
  }
  private var brokerEnd = -1L
  private var brokerEndSince = System.currentTimeMillis()

  override def initialOffset(): Offset = TickOffset(0L)
  override def deserializeOffset(json: String): Offset = TickOffset(json.trim.toLong)
  override def commit(end: Offset): Unit = ()
  override def stop(): Unit = client.foreach(c => Try(c.close()))

  // An `availableNow` run reads what is there when it starts and never ticks. Supporting the trigger matters: with one
  // source that does not, Spark runs the whole query as a single batch, rate limits and the watermark's batches gone.
  private var availableNow = false
  override def prepareForTriggerAvailableNow(): Unit = availableNow = true
  override def getDefaultReadLimit: ReadLimit = ReadLimit.allAvailable()
  override def latestOffset(start: Offset, limit: ReadLimit): Offset =
    if (availableNow) TickOffset(lastTick) else latestOffset()

  override def latestOffset(): Offset = {
    val now = System.currentTimeMillis()
    val end = Try {
      val tp = new TopicPartition(topic, partition)
      admin.listOffsets(java.util.Map.of(tp, OffsetSpec.latest())).all().get(30, TimeUnit.SECONDS).get(tp).offset()
    }.toOption
    end.foreach { e => if (e != brokerEnd) { brokerEnd = e; brokerEndSince = now } }
    val silent = end.isDefined && now - brokerEndSince >= idleTimeoutMs
    // One tick per timeout at most: each is a micro-batch of its own.
    val tickDue = now - idleTimeoutMs >= lastTick + idleTimeoutMs
    // Nothing unread: the last planned batch reads up to the broker's end (or the partition is empty). Asked last, and
    // only of a silent partition whose tick is due, because it lists the offset log (a cost on object stores), and
    // remembered once true, since the broker's end has not moved.
    if (silent && tickDue && (brokerEnd == 0L || readTo >= brokerEnd || plannedReaches(brokerEnd)))
      lastTick = now - idleTimeoutMs
    TickOffset(lastTick)
  }

  override def planInputPartitions(start: Offset, end: Offset): Array[InputPartition] = {
    val (from, to) = (start.asInstanceOf[TickOffset].timeMs, end.asInstanceOf[TickOffset].timeMs)
    lastTick = math.max(lastTick, to)
    if (to > from) Array(TickPartition(to)) else Array.empty
  }

  override def createReaderFactory(): PartitionReaderFactory = TickReaderFactory
}

private final case class TickPartition(timeMs: Long) extends InputPartition

private object TickReaderFactory extends PartitionReaderFactory {
  override def createReader(partition: InputPartition): PartitionReader[InternalRow] =
    new PartitionReader[InternalRow] {
      private var served = false
      override def next(): Boolean = { val more = !served; served = true; more }
      override def get(): InternalRow = InternalRow(partition.asInstanceOf[TickPartition].timeMs * 1000L, true)
      override def close(): Unit = ()
    }
}
