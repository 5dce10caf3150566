package vsa.spark.expressions

import org.apache.spark.sql.catalyst.InternalRow
import org.apache.spark.sql.catalyst.expressions.codegen.Block._
import org.apache.spark.sql.catalyst.expressions.codegen.{CodeGenerator, CodegenContext, ExprCode, FalseLiteral}
import org.apache.spark.sql.catalyst.expressions.{ExpectsInputTypes, Expression, UnaryExpression}
import org.apache.spark.sql.types.{DataType, StringType, StructField, StructType}
import org.apache.spark.unsafe.types.UTF8String
import vsa.spark.useragent.{ParsedUserAgent, UserAgentParser}

/** `vsa_parse_ua(ua)`: browser, OS and device of a user agent. A null agent gives a struct of nulls; an empty or
  * unknown one gives families "Other", as uap-core does.
  */
case class ParseUserAgent(child: Expression) extends UnaryExpression with ExpectsInputTypes {

  override def inputTypes = Seq(StringType)

  override def dataType: DataType = ParseUserAgent.ResultType

  override def nullable: Boolean = false

  override def eval(input: InternalRow): Any = parse(child.eval(input).asInstanceOf[UTF8String])

  def parse(ua: UTF8String): InternalRow = if (ua == null) ParseUserAgent.AllNull else UserAgentParser.parse(ua).row

  // A call of `parse`, so the projection stays in whole-stage code generation, where the struct is computed once per
  // row however many of its fields are selected (a CodegenFallback expression would take the projection out).
  override protected def doGenCode(ctx: CodegenContext, ev: ExprCode): ExprCode = {
    val self = ctx.addReferenceObj("parseUserAgent", this)
    val ua = child.genCode(ctx)
    ev.copy(
      code = code"""
        ${ua.code}
        ${CodeGenerator.javaType(dataType)} ${ev.value} = $self.parse(${ua.isNull} ? null : ${ua.value});""",
      isNull = FalseLiteral
    )
  }

  override protected def withNewChildInternal(newChild: Expression): ParseUserAgent = copy(child = newChild)

  override def prettyName: String = "vsa_parse_ua"
}

object ParseUserAgent {
  val ResultType: StructType = StructType(ParsedUserAgent.FieldNames.map(StructField(_, StringType)))

  private val AllNull: InternalRow = ParsedUserAgent(Array.fill[String](ResultType.length)(null)).row
}
