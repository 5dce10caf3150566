package vsa.spark.expressions

import org.apache.spark.sql.catalyst.expressions.{
  Expression,
  HllSketchEstimate,
  InheritAnalysisRules,
  RuntimeReplaceable
}

/** `vsa_sketch_estimate(sketch)`: the distinct count a sketch estimates (a long), as Spark's `hll_sketch_estimate`. */
case class SketchEstimate(sketch: Expression, replacement: Expression)
    extends RuntimeReplaceable
    with InheritAnalysisRules {

  def this(sketch: Expression) = this(sketch, HllSketchEstimate(sketch))

  override def parameters: Seq[Expression] = Seq(sketch)

  override protected def withNewChildInternal(newChild: Expression): SketchEstimate = copy(replacement = newChild)

  override def prettyName: String = "vsa_sketch_estimate"
}
