package vsa.spark.expressions

import org.apache.spark.sql.catalyst.expressions.codegen.{CodegenContext, ExprCode}
import org.apache.spark.sql.catalyst.expressions.{ExpectsInputTypes, Expression, UnaryExpression}
import org.apache.spark.sql.types.{BooleanType, DataType, StringType}
import org.apache.spark.unsafe.Platform
import org.apache.spark.unsafe.types.UTF8String

/** `vsa_is_json_object(text)`: whether the text is one JSON object with nothing but whitespace around it.
  *
  * Spark's `from_json` reads the first value of a record and ignores what follows, so `{"a":1}{"b":2}` or `{"a":1} xx`
  * would pass as `{"a":1}`. This is the check it lacks: one scan of the bytes that balances braces and brackets outside
  * strings (escapes included) and then expects only whitespace. It does not validate the object's content: `from_json`
  * does.
  */
case class IsJsonObject(child: Expression) extends UnaryExpression with ExpectsInputTypes {

  override def inputTypes = Seq(StringType)

  override def dataType: DataType = BooleanType

  override protected def nullSafeEval(input: Any): Any = IsJsonObject.check(input.asInstanceOf[UTF8String])

  override protected def doGenCode(ctx: CodegenContext, ev: ExprCode): ExprCode = {
    val helper = IsJsonObject.getClass.getName.stripSuffix("$")
    defineCodeGen(ctx, ev, text => s"$helper.check($text)")
  }

  override protected def withNewChildInternal(newChild: Expression): IsJsonObject = copy(child = newChild)

  override def prettyName: String = "vsa_is_json_object"
}

object IsJsonObject {

  def check(text: UTF8String): Boolean = {
    val base = text.getBaseObject
    val offset = text.getBaseOffset
    val n = text.numBytes
    def at(i: Int): Byte = Platform.getByte(base, offset + i)
    var i = skipWhitespace(at, 0, n)
    if (i >= n || at(i) != '{') return false
    var depth = 0
    var inString = false
    var closed = false
    while (i < n && !closed) {
      val b = at(i)
      if (inString) {
        if (b == '\\') i += 1 else if (b == '"') inString = false
      } else if (b == '"') inString = true
      else if (b == '{' || b == '[') depth += 1
      else if (b == '}' || b == ']') {
        depth -= 1
        closed = depth == 0
      }
      i += 1
    }
    closed && skipWhitespace(at, i, n) == n
  }

  private def skipWhitespace(at: Int => Byte, from: Int, n: Int): Int = {
    var i = from
    while (i < n && (at(i) == ' ' || at(i) == '\t' || at(i) == '\n' || at(i) == '\r')) i += 1
    i
  }
}
