package vsa.spark.expressions

import org.apache.spark.sql.catalyst.InternalRow
import org.apache.spark.sql.catalyst.expressions.codegen.CodegenFallback
import org.apache.spark.sql.catalyst.expressions.{ExpectsInputTypes, Expression, GenericInternalRow, UnaryExpression}
import org.apache.spark.sql.types.{DataType, StringType, StructField, StructType}
import org.apache.spark.unsafe.types.UTF8String
import vsa.spark.useragent.{ParsedUserAgent, UserAgentParser}

/** `vsa_parse_ua(ua)`: browser, OS and device of a user agent. A null agent gives a struct of nulls; an empty or
  * unknown one gives families "Other", as uap-core does.
  */
case class ParseUserAgent(child: Expression) extends UnaryExpression with ExpectsInputTypes with CodegenFallback {

  override def inputTypes = Seq(StringType)

  override def dataType: DataType = ParseUserAgent.ResultType

  override def nullable: Boolean = false

  override def eval(input: InternalRow): Any = {
    val ua = child.eval(input)
    if (ua == null) ParseUserAgent.AllNull
    else UserAgentParser.parse(ua.asInstanceOf[UTF8String]).row
  }

  override protected def withNewChildInternal(newChild: Expression): ParseUserAgent = copy(child = newChild)

  override def prettyName: String = "vsa_parse_ua"
}

object ParseUserAgent {
  val ResultType: StructType = StructType(ParsedUserAgent.FieldNames.map(StructField(_, StringType)))

  private val AllNull = new GenericInternalRow(ResultType.length)
}
