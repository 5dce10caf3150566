package vsa.spark.expressions

import org.apache.spark.sql.catalyst.expressions.codegen.{CodegenContext, ExprCode}
import org.apache.spark.sql.catalyst.expressions.{ExpectsInputTypes, Expression, UnaryExpression}
import org.apache.spark.sql.types.{DataType, StringType}
import org.apache.spark.unsafe.types.UTF8String

/** `vsa_mask_ips_in_text(text)`: free text (a dead letter's raw record) with every IPv4 and IPv6 address in it
  * truncated as `vsa_mask_ip` truncates one, so a record that could not be parsed does not leak its client's address.
  */
case class MaskIpsInText(child: Expression) extends UnaryExpression with ExpectsInputTypes {

  override def inputTypes = Seq(StringType)

  override def dataType: DataType = StringType

  override protected def nullSafeEval(input: Any): Any = MaskIpsInText.mask(input.asInstanceOf[UTF8String])

  override protected def doGenCode(ctx: CodegenContext, ev: ExprCode): ExprCode = {
    val helper = MaskIpsInText.getClass.getName.stripSuffix("$")
    defineCodeGen(ctx, ev, text => s"$helper.mask($text)")
  }

  override protected def withNewChildInternal(newChild: Expression): MaskIpsInText = copy(child = newChild)

  override def prettyName: String = "vsa_mask_ips_in_text"
}

object MaskIpsInText {

  /** `text` with each address masked; the same object when it holds none. Candidates are the longest runs of hex
    * digits, `:` and `.` (an address's characters), less trailing `.`/`:` (the end of a sentence); a run that is not an
    * IP literal stays as it is.
    */
  def mask(text: UTF8String): UTF8String = {
    val s = text.toString
    var out: java.lang.StringBuilder = null
    var copied = 0
    var i = 0
    while (i < s.length) {
      if (isAddressChar(s.charAt(i)) && (i == 0 || !Character.isLetterOrDigit(s.charAt(i - 1)))) {
        var end = i
        while (end < s.length && isAddressChar(s.charAt(end))) end += 1
        val runEnd = end
        while (end > i && (s.charAt(end - 1) == '.' || s.charAt(end - 1) == ':')) end -= 1
        val followedByWord = runEnd < s.length && Character.isLetterOrDigit(s.charAt(runEnd))
        if (end - i >= 2 && !followedByWord) {
          val masked = MaskIp.parseLiteral(s.substring(i, end)).map(MaskIp.mask)
          if (masked.isDefined) {
            if (out == null) out = new java.lang.StringBuilder(s.length)
            out.append(s, copied, i).append(masked.get)
            copied = end
          }
        }
        i = runEnd
      } else i += 1
    }
    if (out == null) text else UTF8String.fromString(out.append(s, copied, s.length).toString)
  }

  private def isAddressChar(c: Char): Boolean =
    (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F') || c == ':' || c == '.'
}
