package vsa.spark.expressions

import org.apache.spark.sql.catalyst.InternalRow
import org.apache.spark.sql.catalyst.expressions.codegen.Block.BlockHelper
import org.apache.spark.sql.catalyst.expressions.codegen.{
  CodeGenerator,
  CodegenContext,
  ExprCode,
  GenerateUnsafeProjection
}
import org.apache.spark.sql.catalyst.expressions.{
  BoundReference,
  Expression,
  UnaryExpression,
  UnsafeProjection,
  UnsafeRow
}
import org.apache.spark.sql.types.{BinaryType, DataType, StructType}
import org.apache.spark.unsafe.Platform

/** A struct as the bytes of its `UnsafeRow`: a record of any shape carried through a typed operator (the sessionizer's
  * `flatMapGroupsWithState`) for the cost of a copy, then read back by [[UnpackRow]]. Internal plumbing, not a SQL
  * function: the bytes are only meaningful to the same schema.
  *
  * Both generate code, so the projections they sit in stay in whole-stage code generation: a `CodegenFallback` takes
  * its projection out, and each task then generates that projection's code again (docs/performance.md).
  */
case class PackRow(child: Expression) extends UnaryExpression {

  override def dataType: DataType = BinaryType

  private def fields: StructType = child.dataType.asInstanceOf[StructType]

  @transient private lazy val toUnsafe = UnsafeProjection.create(fields)

  override protected def nullSafeEval(input: Any): Any = input match {
    case row: UnsafeRow   => PackRow.bytesOf(row)
    case row: InternalRow => PackRow.bytesOf(toUnsafe(row))
  }

  // The struct's fields written into an UnsafeRow by generated code, as a projection writes its output row.
  override protected def doGenCode(ctx: CodegenContext, ev: ExprCode): ExprCode = {
    val struct = child.genCode(ctx)
    val row = ctx.freshName("struct")
    val (outerRow, outerVars) = (ctx.INPUT_ROW, ctx.currentVars)
    ctx.INPUT_ROW = row
    ctx.currentVars = null
    val columns = fields.zipWithIndex.map { case (f, i) => BoundReference(i, f.dataType, f.nullable) }
    val unsafe = GenerateUnsafeProjection.createCode(ctx, columns.toSeq)
    ctx.INPUT_ROW = outerRow
    ctx.currentVars = outerVars
    ev.copy(code = code"""
      ${struct.code}
      boolean ${ev.isNull} = ${struct.isNull};
      ${CodeGenerator.javaType(dataType)} ${ev.value} = null;
      if (!${ev.isNull}) {
        InternalRow $row = ${struct.value};
        ${unsafe.code}
        ${ev.value} = ${PackRow.getClass.getName.stripSuffix("$")}.bytesOf(${unsafe.value});
      }""")
  }

  override protected def withNewChildInternal(newChild: Expression): PackRow = copy(child = newChild)
}

object PackRow {

  /** A copy of `row`'s bytes. Never its buffer (what `getBytes` returns when the row fills it): a projection writes
    * every row into one buffer.
    */
  def bytesOf(row: UnsafeRow): Array[Byte] = bytesOf(row, 0)

  /** The same after `header` bytes left for the caller (overloaded, not a default: generated Java calls the first). */
  def bytesOf(row: UnsafeRow, header: Int): Array[Byte] = {
    val bytes = new Array[Byte](header + row.getSizeInBytes)
    row.writeToMemory(bytes, Platform.BYTE_ARRAY_OFFSET + header)
    bytes
  }
}

/** The struct of `schema` that [[PackRow]] packed. */
case class UnpackRow(child: Expression, schema: StructType) extends UnaryExpression {

  override def dataType: DataType = schema

  override protected def nullSafeEval(input: Any): Any =
    UnpackRow.unpack(input.asInstanceOf[Array[Byte]], schema.length)

  override protected def doGenCode(ctx: CodegenContext, ev: ExprCode): ExprCode = {
    val unpack = UnpackRow.getClass.getName.stripSuffix("$")
    defineCodeGen(ctx, ev, bytes => s"$unpack.unpack($bytes, ${schema.length})")
  }

  override protected def withNewChildInternal(newChild: Expression): UnpackRow = copy(child = newChild)
}

object UnpackRow {

  /** The `UnsafeRow` of `fields` fields whose bytes are `bytes`. */
  def unpack(bytes: Array[Byte], fields: Int): UnsafeRow = unpack(bytes, fields, 0)

  /** The same after a `header` of `header` bytes ([[PackRow.bytesOf]]). */
  def unpack(bytes: Array[Byte], fields: Int, header: Int): UnsafeRow = {
    val row = new UnsafeRow(fields)
    row.pointTo(bytes, Platform.BYTE_ARRAY_OFFSET + header, bytes.length - header)
    row
  }
}
