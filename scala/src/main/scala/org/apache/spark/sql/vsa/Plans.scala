package org.apache.spark.sql.vsa

import org.apache.spark.sql.catalyst.plans.logical.LogicalPlan
import org.apache.spark.sql.{DataFrame, SparkSession, classic}

/** Frames of logical plans, for the jar's plan templates (`vsa.spark.streaming.BatchSlot`). Spark keeps the bridge
  * `private[sql]`, hence this package.
  */
object Plans {

  /** A frame of `plan`, analyzed (and cached data used) as any new frame's. */
  def ofRows(spark: SparkSession, plan: LogicalPlan): DataFrame =
    classic.Dataset.ofRows(spark.asInstanceOf[classic.SparkSession], plan)
}
