package vsa.spark.expressions

import org.apache.spark.sql.catalyst.InternalRow
import org.apache.spark.sql.catalyst.expressions.codegen.Block._
import org.apache.spark.sql.catalyst.expressions.codegen.{CodeGenerator, CodegenContext, ExprCode}
import org.apache.spark.sql.catalyst.expressions.{BinaryExpression, ExpectsInputTypes, Expression, UnaryExpression}
import org.apache.spark.sql.catalyst.util.ArrayData
import org.apache.spark.sql.types._
import org.apache.spark.unsafe.types.UTF8String
import vsa.spark.cdn.{AkamaiDs2, CloudFront, LineRequest, LogLines, Nginx}

/** `vsa_parse_cloudfront(line, names)`: one CloudFront standard log line, read by the field names of its `#Fields:`
  * list, as a normalized request (docs/inputs.md) with `reason` and `detail` (null for a good line; else why the line
  * is rejected). The whole line is read once, from its UTF-8 bytes, by one call per row.
  */
case class ParseCloudFront(line: Expression, names: Expression) extends BinaryExpression with ExpectsInputTypes {

  @transient private lazy val parser = new CloudFront

  override def left: Expression = line
  override def right: Expression = names

  override def inputTypes = Seq(StringType, ArrayType(StringType))

  override def dataType: DataType = LineRequest.ResultType

  override def nullable: Boolean = true

  // The result is deterministic, but marked otherwise on purpose: Spark would otherwise push a later filter on `reason`
  // (the good lines, the dead letters) below the projection that computes it, parsing every line twice. Spark allows
  // such an expression in projections, filters, aggregates and generators.
  override lazy val deterministic: Boolean = false

  override def eval(input: InternalRow): Any =
    parse(line.eval(input).asInstanceOf[UTF8String], names.eval(input).asInstanceOf[ArrayData])

  def parse(text: UTF8String, fieldNames: ArrayData): InternalRow = parser.parse(text, fieldNames)

  // A call of `parse`, as in ParseCmcd: the struct is computed once per row however many of its fields are read.
  override protected def doGenCode(ctx: CodegenContext, ev: ExprCode): ExprCode = {
    val self = ctx.addReferenceObj("parseCloudFront", this)
    val text = line.genCode(ctx)
    val list = names.genCode(ctx)
    ev.copy(code = code"""
        ${text.code}
        ${list.code}
        ${CodeGenerator.javaType(dataType)} ${ev.value} =
          $self.parse(${text.isNull} ? null : ${text.value}, ${list.isNull} ? null : ${list.value});
        boolean ${ev.isNull} = ${ev.value} == null;""")
  }

  override protected def withNewChildrenInternal(newLeft: Expression, newRight: Expression): ParseCloudFront =
    copy(line = newLeft, names = newRight)

  override def prettyName: String = "vsa_parse_cloudfront"
}

/** What the parsers of one argument, a line, share (the result of [[ParseCloudFront]]): one call per row. */
trait ParsesLine extends UnaryExpression with ExpectsInputTypes {

  override def inputTypes = Seq(StringType)

  override def dataType: DataType = LineRequest.ResultType

  override def nullable: Boolean = true

  // Not re-run by a pushed-down filter, as in ParseCloudFront.
  override lazy val deterministic: Boolean = false

  def parse(text: UTF8String): InternalRow

  override def eval(input: InternalRow): Any = parse(child.eval(input).asInstanceOf[UTF8String])

  override protected def doGenCode(ctx: CodegenContext, ev: ExprCode): ExprCode = {
    val self = ctx.addReferenceObj("lineParser", this)
    val text = child.genCode(ctx)
    ev.copy(code = code"""
        ${text.code}
        ${CodeGenerator.javaType(dataType)} ${ev.value} = $self.parse(${text.isNull} ? null : ${text.value});
        boolean ${ev.isNull} = ${ev.value} == null;""")
  }
}

/** `vsa_parse_nginx(line)`: one nginx combined (or extended) log line as a normalized request with `reason` and
  * `detail`, as [[ParseCloudFront]] (the same result type; no host, no pop).
  */
case class ParseNginx(line: Expression) extends ParsesLine {

  override def child: Expression = line

  def parse(text: UTF8String): InternalRow = Nginx.parse(text)

  override protected def withNewChildInternal(newChild: Expression): ParseNginx = copy(line = newChild)

  override def prettyName: String = "vsa_parse_nginx"
}

/** `vsa_parse_akamai(line)`: one Akamai DataStream 2 line (a JSON object) as a normalized request with `reason` and
  * `detail`, as [[ParseCloudFront]] (the same result type).
  */
case class ParseAkamai(line: Expression) extends ParsesLine {

  override def child: Expression = line

  def parse(text: UTF8String): InternalRow = AkamaiDs2.parse(text)

  override protected def withNewChildInternal(newChild: Expression): ParseAkamai = copy(line = newChild)

  override def prettyName: String = "vsa_parse_akamai"
}

/** `vsa_log_lines(record)`: a CDN log record's lines, as [[vsa.spark.cdn.LogLines]] splits them. */
case class LogLinesOf(record: Expression) extends UnaryExpression with ExpectsInputTypes {

  override def child: Expression = record

  override def inputTypes = Seq(StringType)

  override def dataType: DataType = ArrayType(StringType, containsNull = false)

  override def nullSafeEval(input: Any): Any = LogLines.of(input.asInstanceOf[UTF8String])

  override protected def doGenCode(ctx: CodegenContext, ev: ExprCode): ExprCode =
    defineCodeGen(ctx, ev, text => s"vsa.spark.cdn.LogLines.of($text)")

  override protected def withNewChildInternal(newChild: Expression): LogLinesOf = copy(record = newChild)

  override def prettyName: String = "vsa_log_lines"
}
