package vsa.spark.expressions

import org.apache.spark.sql.catalyst.InternalRow
import org.apache.spark.sql.catalyst.analysis.TypeCheckResult
import org.apache.spark.sql.catalyst.expressions.codegen.Block._
import org.apache.spark.sql.catalyst.expressions.codegen.{CodeGenerator, CodegenContext, ExprCode}
import org.apache.spark.sql.catalyst.expressions.{
  BinaryExpression,
  ExpectsInputTypes,
  Expression,
  Literal,
  UnaryExpression
}
import org.apache.spark.sql.catalyst.util.{ArrayData, MapData}
import org.apache.spark.sql.types._
import org.apache.spark.unsafe.types.UTF8String
import vsa.spark.cdn.{AkamaiDs2, CloudFront, CloudFrontRealtime, Edgecast, Fastly, LineRequest, LogLines, Nginx}

/** What the parsers of a tab-separated line and its field list share: one call per row, the line read once from its
  * UTF-8 bytes, as a normalized request (docs/inputs.md) with `reason` and `detail` (null for a good line; else why the
  * line is rejected).
  */
trait ParsesListedLine extends BinaryExpression with ExpectsInputTypes {

  override def inputTypes = Seq(StringType, ArrayType(StringType))

  override def dataType: DataType = LineRequest.ResultType

  override def nullable: Boolean = true

  // The result is deterministic, but marked otherwise on purpose: Spark would otherwise push a later filter on `reason`
  // (the good lines, the dead letters) below the projection that computes it, parsing every line twice. Spark allows
  // such an expression in projections, filters, aggregates and generators.
  override lazy val deterministic: Boolean = false

  def parse(text: UTF8String, fieldNames: ArrayData): InternalRow

  override def eval(input: InternalRow): Any =
    parse(left.eval(input).asInstanceOf[UTF8String], right.eval(input).asInstanceOf[ArrayData])

  // A call of `parse`, as in ParseCmcd: the struct is computed once per row however many of its fields are read.
  override protected def doGenCode(ctx: CodegenContext, ev: ExprCode): ExprCode = {
    val self = ctx.addReferenceObj("listedLineParser", this)
    val text = left.genCode(ctx)
    val list = right.genCode(ctx)
    ev.copy(code = code"""
        ${text.code}
        ${list.code}
        ${CodeGenerator.javaType(dataType)} ${ev.value} =
          $self.parse(${text.isNull} ? null : ${text.value}, ${list.isNull} ? null : ${list.value});
        boolean ${ev.isNull} = ${ev.value} == null;""")
  }
}

/** `vsa_parse_cloudfront(line, names)`: one CloudFront standard log line, read by the field names of its `#Fields:`
  * list.
  */
case class ParseCloudFront(line: Expression, names: Expression) extends ParsesListedLine {

  @transient private lazy val parser = new CloudFront

  override def left: Expression = line
  override def right: Expression = names

  def parse(text: UTF8String, fieldNames: ArrayData): InternalRow = parser.parse(text, fieldNames)

  override protected def withNewChildrenInternal(newLeft: Expression, newRight: Expression): ParseCloudFront =
    copy(line = newLeft, names = newRight)

  override def prettyName: String = "vsa_parse_cloudfront"
}

/** `vsa_parse_cloudfront_realtime(line, names)`: one CloudFront real-time log line, read by the field names of the
  * real-time log configuration; its `cmcd-*` fields in `cmcd_fields`.
  */
case class ParseCloudFrontRealtime(line: Expression, names: Expression) extends ParsesListedLine {

  @transient private lazy val parser = new CloudFrontRealtime

  override def left: Expression = line
  override def right: Expression = names

  def parse(text: UTF8String, fieldNames: ArrayData): InternalRow = parser.parse(text, fieldNames)

  override protected def withNewChildrenInternal(newLeft: Expression, newRight: Expression): ParseCloudFrontRealtime =
    copy(line = newLeft, names = newRight)

  override def prettyName: String = "vsa_parse_cloudfront_realtime"
}

/** What the parsers of one argument, a line, share (the result of [[ParsesListedLine]]): one call per row. */
trait ParsesLine extends UnaryExpression with ExpectsInputTypes {

  override def inputTypes = Seq(StringType)

  override def dataType: DataType = LineRequest.ResultType

  override def nullable: Boolean = true

  // Not re-run by a pushed-down filter, as in ParsesListedLine.
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

/** `vsa_parse_edgecast(line)`: one Edgio (Edgecast) RTLD log entry (a JSON object) as a normalized request with
  * `reason` and `detail`.
  */
case class ParseEdgecast(line: Expression) extends ParsesLine {

  override def child: Expression = line

  def parse(text: UTF8String): InternalRow = Edgecast.parse(text)

  override protected def withNewChildInternal(newChild: Expression): ParseEdgecast = copy(line = newChild)

  override def prettyName: String = "vsa_parse_edgecast"
}

/** `vsa_parse_fastly(line[, field_map])`: one Fastly log line (a JSON object) as a normalized request with `reason` and
  * `detail`, its keys those of [[Fastly.Preset]], a name's keys replaced by the one key `field_map` (a constant
  * `map<string,string>`) gives.
  */
case class ParseFastly(line: Expression, fieldMap: Expression) extends BinaryExpression with ExpectsInputTypes {

  def this(line: Expression) = this(line, Literal.create(null, MapType(StringType, StringType)))

  override def left: Expression = line
  override def right: Expression = fieldMap

  override def inputTypes = Seq(StringType, MapType(StringType, StringType))

  override def dataType: DataType = LineRequest.ResultType

  override def nullable: Boolean = true

  // Not re-run by a pushed-down filter, as in ParsesListedLine.
  override lazy val deterministic: Boolean = false

  override def checkInputDataTypes(): TypeCheckResult = super.checkInputDataTypes() match {
    case TypeCheckResult.TypeCheckSuccess if !fieldMap.foldable =>
      TypeCheckResult.TypeCheckFailure("vsa_parse_fastly: the field map must be a constant")
    case TypeCheckResult.TypeCheckSuccess =>
      val why = Fastly.unknownNames(keys)
      if (why == null) TypeCheckResult.TypeCheckSuccess else TypeCheckResult.TypeCheckFailure(why)
    case failure => failure
  }

  // The field map's entries (one whose key is null: not given).
  private def keys: Map[String, String] = fieldMap.eval() match {
    case map: MapData =>
      val (names, keys) = (map.keyArray(), map.valueArray())
      (0 until map.numElements())
        .filterNot(keys.isNullAt)
        .map(i => names.getUTF8String(i).toString -> keys.getUTF8String(i).toString)
        .toMap
    case _ => Map.empty
  }

  @transient private lazy val parser = new Fastly(keys)

  def parse(text: UTF8String): InternalRow = parser.parse(text)

  override def eval(input: InternalRow): Any = parse(line.eval(input).asInstanceOf[UTF8String])

  // A call of `parse` with the line only: the field map is a constant, read once by the parser.
  override protected def doGenCode(ctx: CodegenContext, ev: ExprCode): ExprCode = {
    val self = ctx.addReferenceObj("fastlyParser", this)
    val text = line.genCode(ctx)
    ev.copy(code = code"""
        ${text.code}
        ${CodeGenerator.javaType(dataType)} ${ev.value} = $self.parse(${text.isNull} ? null : ${text.value});
        boolean ${ev.isNull} = ${ev.value} == null;""")
  }

  override protected def withNewChildrenInternal(newLeft: Expression, newRight: Expression): ParseFastly =
    copy(line = newLeft, fieldMap = newRight)

  override def prettyName: String = "vsa_parse_fastly"
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
