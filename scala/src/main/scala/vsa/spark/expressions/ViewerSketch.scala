package vsa.spark.expressions

import org.apache.spark.sql.catalyst.analysis.TypeCheckResult
import org.apache.spark.sql.catalyst.expressions.aggregate.{AggregateFunction, HllSketchAgg}
import org.apache.spark.sql.catalyst.expressions.{Expression, Literal, RuntimeReplaceableAggregate}
import org.apache.spark.sql.catalyst.trees.BinaryLike

/** `vsa_viewer_sketch(id [, lgK])`: a HyperLogLog sketch of the distinct ids, as Spark's own `hll_sketch_agg` builds it
  * (Apache DataSketches HLL_8, lgK 4..21, default 12), so the bytes are the same and Spark's `hll_*` functions read
  * them. Ids may be strings, ints, longs or binary, hashed as Spark hashes them.
  */
case class ViewerSketch(child: Expression, lgK: Expression)
    extends AggregateFunction
    with RuntimeReplaceableAggregate
    with BinaryLike[Expression] {

  def this(child: Expression) = this(child, Literal(ViewerSketch.DefaultLgK))

  override lazy val replacement: Expression = new HllSketchAgg(child, lgK)

  override def checkInputDataTypes(): TypeCheckResult = replacement.checkInputDataTypes()

  override def left: Expression = child
  override def right: Expression = lgK

  override protected def withNewChildrenInternal(newLeft: Expression, newRight: Expression): ViewerSketch =
    copy(child = newLeft, lgK = newRight)

  override def prettyName: String = "vsa_viewer_sketch"
}

object ViewerSketch {
  val DefaultLgK = 12
}
