package vsa.spark.expressions

import org.apache.spark.sql.catalyst.InternalRow
import org.apache.spark.sql.catalyst.expressions.codegen.CodegenFallback
import org.apache.spark.sql.catalyst.expressions.{Expression, UnaryExpression, UnsafeProjection, UnsafeRow}
import org.apache.spark.sql.types.{BinaryType, DataType, StructType}

/** A struct as the bytes of its `UnsafeRow`: a record of any shape carried through a typed operator (the sessionizer's
  * `flatMapGroupsWithState`) for the cost of a copy, then read back by [[UnpackRow]]. Internal plumbing, not a SQL
  * function: the bytes are only meaningful to the same schema.
  */
case class PackRow(child: Expression) extends UnaryExpression with CodegenFallback {

  override def dataType: DataType = BinaryType

  @transient private lazy val toUnsafe = UnsafeProjection.create(child.dataType.asInstanceOf[StructType])

  override protected def nullSafeEval(input: Any): Any = input match {
    case row: UnsafeRow   => row.getBytes
    case row: InternalRow => toUnsafe(row).getBytes
  }

  override protected def withNewChildInternal(newChild: Expression): PackRow = copy(child = newChild)
}

/** The struct of `schema` that [[PackRow]] packed. */
case class UnpackRow(child: Expression, schema: StructType) extends UnaryExpression with CodegenFallback {

  override def dataType: DataType = schema

  override protected def nullSafeEval(input: Any): Any = {
    val bytes = input.asInstanceOf[Array[Byte]]
    val row = new UnsafeRow(schema.length)
    row.pointTo(bytes, bytes.length)
    row
  }

  override protected def withNewChildInternal(newChild: Expression): UnpackRow = copy(child = newChild)
}
