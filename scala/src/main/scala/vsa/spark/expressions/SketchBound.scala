package vsa.spark.expressions

import org.apache.datasketches.hll.HllSketch
import org.apache.spark.sql.catalyst.analysis.TypeCheckResult
import org.apache.spark.sql.catalyst.expressions.codegen.CodegenFallback
import org.apache.spark.sql.catalyst.expressions.{BinaryExpression, Expression, ImplicitCastInputTypes}
import org.apache.spark.sql.types.{BinaryType, DataType, DoubleType, IntegerType}

/** `vsa_sketch_lower_bound(sketch, numStdDev)` and `vsa_sketch_upper_bound(sketch, numStdDev)`: the DataSketches
  * confidence bounds of a sketch's estimate, `numStdDev` (1, 2 or 3) standard deviations wide (about 68.3%, 95.4% and
  * 99.7% confidence).
  */
case class SketchBound(sketch: Expression, numStdDev: Expression, upper: Boolean)
    extends BinaryExpression
    with ImplicitCastInputTypes
    with CodegenFallback {

  override def inputTypes = Seq(BinaryType, IntegerType)

  override def dataType: DataType = DoubleType

  override def left: Expression = sketch
  override def right: Expression = numStdDev

  override def checkInputDataTypes(): TypeCheckResult = super.checkInputDataTypes() match {
    case TypeCheckResult.TypeCheckSuccess if numStdDev.foldable && numStdDev.eval() != null =>
      SketchBound.checkStdDevs(numStdDev.eval().asInstanceOf[Int]) match {
        case Some(message) => TypeCheckResult.TypeCheckFailure(s"$prettyName: $message")
        case None          => TypeCheckResult.TypeCheckSuccess
      }
    case other => other
  }

  override protected def nullSafeEval(bytes: Any, stdDevs: Any): Any = {
    val n = stdDevs.asInstanceOf[Int]
    SketchBound.checkStdDevs(n).foreach(message => throw new IllegalArgumentException(s"$prettyName: $message"))
    val hll = HllSketch.heapify(bytes.asInstanceOf[Array[Byte]])
    if (upper) hll.getUpperBound(n) else hll.getLowerBound(n)
  }

  override protected def withNewChildrenInternal(newLeft: Expression, newRight: Expression): SketchBound =
    copy(sketch = newLeft, numStdDev = newRight)

  override def prettyName: String = if (upper) "vsa_sketch_upper_bound" else "vsa_sketch_lower_bound"
}

object SketchBound {
  private def checkStdDevs(n: Int): Option[String] =
    if (n >= 1 && n <= 3) None else Some(s"numStdDev must be 1, 2 or 3, not $n")
}
