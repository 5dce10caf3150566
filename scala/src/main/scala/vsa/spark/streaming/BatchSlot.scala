package vsa.spark.streaming

import org.apache.spark.sql.catalyst.analysis.MultiInstanceRelation
import org.apache.spark.sql.catalyst.expressions.{Alias, Attribute}
import org.apache.spark.sql.catalyst.plans.logical.{LeafNode, LogicalPlan, Project, Statistics}
import org.apache.spark.sql.catalyst.types.DataTypeUtils
import org.apache.spark.sql.types.StructType
import org.apache.spark.sql.vsa.Plans
import org.apache.spark.sql.{DataFrame, SparkSession}

/** The rows of a micro-batch still to come: the leaf of plans built once and run with each batch's rows
  * ([[BatchSlot.fill]]). The job's tables are built in Python, where a plan costs thousands of py4j calls; built once
  * over a slot, a batch fills them in the JVM with one call each.
  *
  * A plan with a slot is a template: it is analyzed, never optimized nor run.
  */
final case class BatchSlot(output: Seq[Attribute]) extends LeafNode with MultiInstanceRelation {

  // A self-join (or union) of the slot gets fresh attributes, as any relation's; each is filled alike.
  override def newInstance(): LogicalPlan = copy(output = output.map(_.newInstance()))

  override def computeStats(): Statistics = Statistics(sizeInBytes = conf.defaultSizeInBytes)
}

object BatchSlot {

  /** A frame of `schema` with no rows of its own: the plans built on it are filled with a batch's rows by [[fill]]. */
  def frame(spark: SparkSession, schema: StructType): DataFrame =
    Plans.ofRows(spark, BatchSlot(DataTypeUtils.toAttributes(schema)))

  /** `template` with the rows of `rows` in place of each of its slots, as a new frame. `rows` must have the slot's
    * columns: the same names and types, in order. Cached data is used as in any new frame: a `rows` persisted is read
    * from the cache, and so is a filled part of the template that was filled and persisted before.
    */
  def fill(template: DataFrame, rows: DataFrame): DataFrame = {
    val data = rows.queryExecution.analyzed
    val filled = template.queryExecution.analyzed.transformUpWithSubqueries { case slot: BatchSlot =>
      val fits = slot.output.length == data.output.length && slot.output.zip(data.output).forall { case (s, d) =>
        s.name == d.name && s.dataType == d.dataType && (s.nullable || !d.nullable)
      }
      if (!fits)
        throw new IllegalArgumentException(
          s"the rows do not fit the template's slot: ${DataTypeUtils.fromAttributes(data.output).simpleString} " +
            s"against ${DataTypeUtils.fromAttributes(slot.output).simpleString}"
        )
      // The slot's attributes, which the template refers to, now name the batch's columns.
      Project(slot.output.zip(data.output).map { case (s, d) => Alias(d, s.name)(exprId = s.exprId) }, data)
    }
    // The template and the rows are analyzed, and the projection between them renames columns of the very types.
    Plans.ofAnalyzed(template.sparkSession, filled)
  }
}
