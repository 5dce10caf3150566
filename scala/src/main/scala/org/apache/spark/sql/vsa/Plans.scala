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

  /** A frame of `plan`, whose parts were each analyzed already and are joined so that nothing is left to resolve or
    * check: marked analyzed, so Spark's analyzer skips it (it would walk the whole plan again, every batch).
    */
  def ofAnalyzed(spark: SparkSession, plan: LogicalPlan): DataFrame = {
    plan.setAnalyzed()
    ofRows(spark, plan)
  }
}
