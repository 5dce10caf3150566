package vsa.spark.expressions

import org.apache.spark.sql.catalyst.InternalRow
import org.apache.spark.sql.catalyst.analysis.TypeCheckResult
import org.apache.spark.sql.catalyst.expressions.codegen.Block._
import org.apache.spark.sql.catalyst.expressions.codegen.{CodeGenerator, CodegenContext, ExprCode}
import org.apache.spark.sql.catalyst.expressions.{CurrentTimestamp, ExpectsInputTypes, Expression, QuaternaryExpression}
import org.apache.spark.sql.types._
import org.apache.spark.unsafe.types.UTF8String
import vsa.spark.events.PlayerEvents

/** `vsa_parse_player_event(raw, received, bound_seconds[, now])`: one player record (a JSON event or a CMCD v2 event
  * report) as the typed event with why it is not a valid one, its device's clock offset and its time for the watermark
  * ([[PlayerEvents]]), in one pass over the record. `received`: the transport's timestamp of the record (Kafka's),
  * which the record's own `received_at` overrides; `bound_seconds`: the largest clock offset believed (a constant);
  * `now`: the batch's time (default `current_timestamp()`, by reference: [[BatchConstant]]).
  */
case class ParsePlayerEvent(raw: Expression, received: Expression, boundSeconds: Expression, now: Expression)
    extends QuaternaryExpression
    with ExpectsInputTypes {

  def this(raw: Expression, received: Expression, boundSeconds: Expression) =
    this(raw, received, boundSeconds, BatchConstant(CurrentTimestamp()))

  override def first: Expression = raw
  override def second: Expression = received
  override def third: Expression = boundSeconds
  override def fourth: Expression = now

  override def inputTypes = Seq(StringType, TimestampType, IntegerType, TimestampType)

  override def dataType: DataType = PlayerEvents.ResultType

  override def nullable: Boolean = false

  override def checkInputDataTypes(): TypeCheckResult = super.checkInputDataTypes() match {
    case TypeCheckResult.TypeCheckSuccess if !boundSeconds.foldable || boundSeconds.eval() == null =>
      TypeCheckResult.TypeCheckFailure(s"$prettyName: bound_seconds must be a constant, not a column or null")
    case other => other
  }

  @transient private lazy val bound: Long = boundSeconds.eval().asInstanceOf[Int].toLong
  // Each task's copy of the expression has its own JSON reader.
  @transient private lazy val json = JsonObjectFields(raw)

  def parse(text: UTF8String, receivedMicros: java.lang.Long, nowMicros: Long): InternalRow =
    PlayerEvents.parse(json, text, receivedMicros, nowMicros, bound)

  override def eval(input: InternalRow): Any = {
    val t = now.eval(input)
    parse(
      raw.eval(input).asInstanceOf[UTF8String],
      received.eval(input).asInstanceOf[java.lang.Long],
      if (t == null) Long.MaxValue else t.asInstanceOf[Long]
    )
  }

  // A call of `parse`, as in ParseCmcd: the projection stays in whole-stage code generation and the struct is computed
  // once per row however many of its fields are read.
  override protected def doGenCode(ctx: CodegenContext, ev: ExprCode): ExprCode = {
    val self = ctx.addReferenceObj("parsePlayerEvent", this)
    val text = raw.genCode(ctx)
    val at = received.genCode(ctx)
    val time = now.genCode(ctx)
    ev.copy(code = code"""
        ${text.code}
        ${at.code}
        ${time.code}
        ${CodeGenerator.javaType(dataType)} ${ev.value} = $self.parse(
          ${text.isNull} ? null : ${text.value},
          ${at.isNull} ? null : Long.valueOf(${at.value}),
          ${time.isNull} ? Long.MAX_VALUE : ${time.value});
        boolean ${ev.isNull} = false;""")
  }

  override protected def withNewChildrenInternal(
      newFirst: Expression,
      newSecond: Expression,
      newThird: Expression,
      newFourth: Expression
  ): ParsePlayerEvent = copy(raw = newFirst, received = newSecond, boundSeconds = newThird, now = newFourth)

  override def prettyName: String = "vsa_parse_player_event"
}
