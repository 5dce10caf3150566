package vsa.spark.expressions

import org.apache.spark.sql.catalyst.InternalRow
import org.apache.spark.sql.catalyst.expressions.codegen.Block._
import org.apache.spark.sql.catalyst.expressions.codegen.{CodeGenerator, CodegenContext, ExprCode}
import org.apache.spark.sql.catalyst.expressions.{Expression, UnaryExpression}
import org.apache.spark.sql.types.DataType

/** `child`, a value constant within a micro-batch but not across them (`current_timestamp()`), handed to generated code
  * by reference instead of written into it.
  *
  * Spark writes a literal's value into the generated Java source, and compiled classes are cached by their source. The
  * writer's plans are batch plans, filled and optimized each micro-batch, where `current_timestamp()` becomes a new
  * literal each time (a late or duplicate event's dead letter records when it was received): their stage compiled
  * afresh each batch, on the driver and in its task. Here the source is the same every batch and compiles once. The
  * streaming query's own plans need it too: there Spark makes `current_timestamp()` the batch's time as a literal.
  */
case class BatchConstant(child: Expression) extends UnaryExpression {

  override def dataType: DataType = child.dataType

  override def nullable: Boolean = child.nullable

  // Not foldable, or constant folding would make it a literal again.
  override def foldable: Boolean = false

  override def eval(input: InternalRow): Any = child.eval(input)

  override protected def doGenCode(ctx: CodegenContext, ev: ExprCode): ExprCode =
    if (!child.foldable) child.genCode(ctx)
    else {
      val value = child.eval()
      val javaType = CodeGenerator.javaType(dataType)
      val boxed = CodeGenerator.boxedType(dataType)
      val reference = ctx.addReferenceObj("batchConstant", value, boxed)
      ev.copy(code = code"""
        boolean ${ev.isNull} = $reference == null;
        $javaType ${ev.value} = ${ev.isNull} ? ${CodeGenerator.defaultValue(dataType)} : ($boxed) $reference;""")
    }

  override protected def withNewChildInternal(newChild: Expression): BatchConstant = copy(child = newChild)

  override def prettyName: String = "vsa_batch_constant"
}
