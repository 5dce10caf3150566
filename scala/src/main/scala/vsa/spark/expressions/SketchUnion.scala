package vsa.spark.expressions

import org.apache.spark.sql.catalyst.analysis.TypeCheckResult
import org.apache.spark.sql.catalyst.expressions.aggregate.{AggregateFunction, HllUnionAgg}
import org.apache.spark.sql.catalyst.expressions.{Expression, Literal, RuntimeReplaceableAggregate}
import org.apache.spark.sql.catalyst.trees.BinaryLike

/** `vsa_sketch_union(sketch [, allowDifferentLgK])`: the union of the sketches of a group, as Spark's own
  * `hll_union_agg`. Sketches of different lgK are an error unless `allowDifferentLgK` is true; then the union has the
  * smallest lgK.
  */
case class SketchUnion(child: Expression, allowDifferentLgK: Expression)
    extends AggregateFunction
    with RuntimeReplaceableAggregate
    with BinaryLike[Expression] {

  def this(child: Expression) = this(child, Literal(false))

  override lazy val replacement: Expression = new HllUnionAgg(child, allowDifferentLgK)

  override def checkInputDataTypes(): TypeCheckResult = replacement.checkInputDataTypes()

  override def left: Expression = child
  override def right: Expression = allowDifferentLgK

  override protected def withNewChildrenInternal(newLeft: Expression, newRight: Expression): SketchUnion =
    copy(child = newLeft, allowDifferentLgK = newRight)

  override def prettyName: String = "vsa_sketch_union"
}
