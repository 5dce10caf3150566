package vsa.spark.streaming

import org.apache.hadoop.fs.Path
import org.apache.spark.sql.SparkSession
import org.apache.spark.sql.execution.streaming.checkpointing.{CommitLog, OffsetSeqLog}

/** What a streaming query's checkpoint says of one micro-batch. Spark writes a batch's offsets and the watermark it
  * runs with before running it, so a replayed batch reads the very watermark of its first attempt: what is rolled up in
  * a batch never changes on replay.
  */
object Checkpoint {

  /** The event-time watermark (epoch ms) that batch `batchId` of the query at `checkpointLocation` ran with; 0 before
    * any watermark, and for a batch the log does not hold.
    */
  def watermarkMs(spark: SparkSession, checkpointLocation: String, batchId: Long): Long =
    if (batchId < 0) 0L
    else offsets(spark, checkpointLocation).offsetSeqMetadataForBatchId(batchId).map(_.batchWatermarkMs).getOrElse(0L)

  /** The last batch the query planned (wrote the offsets of, before running it); -1 if none, or no checkpoint. */
  def lastPlanned(spark: SparkSession, checkpointLocation: String): Long =
    if (!holds(spark, checkpointLocation, "offsets")) -1L
    else offsets(spark, checkpointLocation).getLatestBatchId().getOrElse(-1L)

  /** The last batch the query committed (ran to its end); -1 if none, or no checkpoint. */
  def lastCommitted(spark: SparkSession, checkpointLocation: String): Long =
    if (!holds(spark, checkpointLocation, "commits")) -1L
    else commits(spark, checkpointLocation).getLatestBatchId().getOrElse(-1L)

  /** The watermark (epoch ms) the batch after committed batch `batchId` runs with (its commit records it); 0 for a
    * batch not committed.
    */
  def nextWatermarkMs(spark: SparkSession, checkpointLocation: String, batchId: Long): Long =
    if (batchId < 0) 0L
    else commits(spark, checkpointLocation).get(batchId).map(_.nextBatchWatermarkMs).getOrElse(0L)

  private def offsets(spark: SparkSession, location: String) =
    new OffsetSeqLog(spark, new Path(location, "offsets").toString)

  private def commits(spark: SparkSession, location: String) =
    new CommitLog(spark, new Path(location, "commits").toString)

  // A log's constructor makes its folder: a missing checkpoint is checked first, and stays missing.
  private def holds(spark: SparkSession, location: String, log: String): Boolean = {
    val path = new Path(location, log)
    path.getFileSystem(spark.sessionState.newHadoopConf()).exists(path)
  }
}
