package vsa.spark.streaming

import org.apache.hadoop.fs.Path
import org.apache.spark.sql.SparkSession
import org.apache.spark.sql.execution.streaming.checkpointing.OffsetSeqLog

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
    else {
      val log = new OffsetSeqLog(spark, new Path(checkpointLocation, "offsets").toString)
      log.offsetSeqMetadataForBatchId(batchId).map(_.batchWatermarkMs).getOrElse(0L)
    }
}
