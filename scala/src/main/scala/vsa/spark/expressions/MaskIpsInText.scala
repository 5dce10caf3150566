package vsa.spark.expressions

import java.nio.charset.StandardCharsets.US_ASCII

import org.apache.spark.sql.catalyst.analysis.TypeCheckResult
import org.apache.spark.sql.catalyst.expressions.codegen.{CodegenContext, ExprCode}
import org.apache.spark.sql.catalyst.expressions.{Expression, UnaryExpression}
import org.apache.spark.sql.catalyst.util.{ArrayBasedMapData, GenericArrayData, MapData}
import org.apache.spark.sql.types.{DataType, MapType, StringType}
import org.apache.spark.unsafe.Platform
import org.apache.spark.unsafe.types.UTF8String

/** `vsa_mask_ips_in_text(text)`: free text (a dead letter's raw record, a user agent, an id) with every IPv4 and IPv6
  * address in it truncated as `vsa_mask_ip` truncates one, so no table keeps a client's address. Given a
  * `map<string,string>` (unknown fields, CMCD keys), it masks the keys and values.
  */
case class MaskIpsInText(child: Expression) extends UnaryExpression {
  import MaskIpsInText.isStringMap

  override def checkInputDataTypes(): TypeCheckResult =
    if (child.dataType == StringType || isStringMap(child.dataType)) TypeCheckResult.TypeCheckSuccess
    else
      TypeCheckResult.TypeCheckFailure(
        s"$prettyName takes a string or a map<string,string>, not ${child.dataType.simpleString}"
      )

  override def dataType: DataType = child.dataType

  override protected def nullSafeEval(input: Any): Any = input match {
    case text: UTF8String => MaskIpsInText.mask(text)
    case map: MapData     => MaskIpsInText.maskMap(map)
  }

  override protected def doGenCode(ctx: CodegenContext, ev: ExprCode): ExprCode = {
    val helper = MaskIpsInText.getClass.getName.stripSuffix("$")
    val method = if (child.dataType == StringType) "mask" else "maskMap"
    defineCodeGen(ctx, ev, value => s"$helper.$method($value)")
  }

  override protected def withNewChildInternal(newChild: Expression): MaskIpsInText = copy(child = newChild)

  override def prettyName: String = "vsa_mask_ips_in_text"
}

object MaskIpsInText {

  private def isStringMap(t: DataType): Boolean = t match {
    case MapType(StringType, StringType, _) => true
    case _                                  => false
  }

  /** `map` with its keys and values masked; the same object when none holds an address. */
  def maskMap(map: MapData): MapData = {
    def masked(values: Array[AnyRef]): Array[Any] =
      values.map(v => if (v == null) null else mask(v.asInstanceOf[UTF8String]))
    val keys = map.keyArray().toObjectArray(StringType)
    val values = map.valueArray().toObjectArray(StringType)
    val (newKeys, newValues) = (masked(keys), masked(values))
    val same = keys.indices.forall(i =>
      (newKeys(i).asInstanceOf[AnyRef] eq keys(i)) && (newValues(i).asInstanceOf[AnyRef] eq values(i))
    )
    if (same) map else new ArrayBasedMapData(new GenericArrayData(newKeys), new GenericArrayData(newValues))
  }

  /** `text` with each address masked; the same object when it holds none.
    *
    * Every string of every table comes through here, so it works on the UTF-8 bytes and first counts separators: text
    * without three `.` or two `:` cannot hold an address and is returned after that one scan. Otherwise candidates are
    * the runs of hex digits, `:` and `.` (an address's characters; a bracket, `%`, a comma end one; a run right after
    * `%` is tried without the escape's two hex digits first):
    *   - a run that is an IPv6 literal (less trailing `.`, then `:`: the end of a sentence) is masked whole;
    *   - else each dotted quad in it (digits and dots, as in `203.0.113.7:8443` or `id203.0.113.7`) is masked. A longer
    *     dotted number (`1.3.6.1.4`) is not an address.
    * Hex or digits glued before an address (a JSON escape `\u00e9` in raw text) are tried off its front.
    */
  def mask(text: UTF8String): UTF8String = {
    val base = text.getBaseObject
    val offset = text.getBaseOffset
    val n = text.numBytes
    def at(i: Int): Byte = Platform.getByte(base, offset + i)
    if (!mayHoldAddress(base, offset, n)) return text
    var edits: List[(Int, Int, String)] = Nil // (start, end, masked), last first
    def edit(start: Int, end: Int, masked: String): Unit =
      if (!sameAscii(at, start, end, masked)) edits = (start, end, masked) :: edits
    var i = 0
    while (i < n) {
      val b = at(i)
      if (isAddressByte(b)) {
        var runEnd = i
        while (runEnd < n && isAddressByte(at(runEnd))) runEnd += 1
        // After `%`, the run may start with an escape's two hex digits (`%5B2001:db8::1`, `%2010.1.2.3`).
        val escaped = i > 0 && at(i - 1) == '%' && runEnd - i > 2 && isHex(at(i + 1))
        if (!(escaped && maskRun(at, i + 2, runEnd, edit))) maskRun(at, i, runEnd, edit)
        i = runEnd
      } else i += 1
    }
    if (edits.isEmpty) text else rebuild(text.getBytes, edits.reverse)
  }

  private def mayHoldAddress(base: AnyRef, offset: Long, n: Int): Boolean = {
    var dots = 0
    var colons = 0
    var i = 0
    while (i < n) {
      val b = Platform.getByte(base, offset + i)
      if (b == '.') dots += 1 else if (b == ':') colons += 1
      if (dots >= 3 || colons >= 2) return true
      i += 1
    }
    false
  }

  /** Masks the addresses of the run [start, runEnd); whether it held one. */
  private def maskRun(at: Int => Byte, start: Int, runEnd: Int, edit: (Int, Int, String) => Unit): Boolean = {
    var end = runEnd
    while (end > start && at(end - 1) == '.') end -= 1
    var colons = 0
    var k = start
    while (k < end) { if (at(k) == ':') colons += 1; k += 1 }
    if (colons >= 2) {
      // Hex glued before the first group (a JSON escape such as \u00e9, or a dotted quad) is not part of the address.
      var firstColon = start
      while (at(firstColon) != ':') firstColon += 1
      val starts = if (firstColon - start > 4) (firstColon - 4 until firstColon) else Seq(start)
      // The whole run, less the trailing `:` of a sentence, or less a last `:group` (a port without brackets).
      var trimmed = end
      while (trimmed > start && at(trimmed - 1) == ':') trimmed -= 1
      var lastColon = end - 1
      while (at(lastColon) != ':') lastColon -= 1
      for (from <- starts; v6End <- Seq(end, trimmed, lastColon).distinct if v6End > from) {
        val address = MaskIp.parseAddress(ascii(at, from, v6End))
        if (address.isDefined) {
          maskDottedQuads(at, start, from, edit)
          edit(from, v6End, MaskIp.mask(address.get))
          return true
        }
      }
    }
    maskDottedQuads(at, start, end, edit)
  }

  /** Masks each dotted quad of [start, end) (digits and dots between other characters); whether there was one. */
  private def maskDottedQuads(at: Int => Byte, start: Int, end: Int, edit: (Int, Int, String) => Unit): Boolean = {
    var found = false
    var p = start
    while (p < end) {
      if (isDigit(at(p))) {
        var q = p
        var dots = 0
        while (q < end && (isDigit(at(q)) || at(q) == '.')) { if (at(q) == '.') dots += 1; q += 1 }
        var quadEnd = q
        while (at(quadEnd - 1) == '.') { quadEnd -= 1; dots -= 1 }
        // A hex letter right after the quad makes it a version (`AppleCoreMedia/1.0.0.21A5326a`), not an address.
        val version = q < end && at(q) != ':'
        if (dots == 3 && !version) {
          // Digits glued before the first part (`\u00e9203.0.113.7`, `\u00e939.30.175.81`: after a hex letter of
          // the same run, or more than three) are not part of the address: the longest valid tail is.
          var firstDot = p
          while (at(firstDot) != '.') firstDot += 1
          val glued = firstDot - p > 3 || p > start
          val starts = if (glued) (math.max(p, firstDot - 3) until firstDot) else Seq(p)
          starts.iterator
            .filter(from => quadEnd - from <= 15)
            .map(from => (from, MaskIp.parseIpv4(ascii(at, from, quadEnd))))
            .collectFirst { case (from, Some(a)) => (from, a) }
            .foreach { case (from, a) =>
              edit(from, quadEnd, MaskIp.mask(a))
              found = true
            }
        }
        p = q
      } else p += 1
    }
    found
  }

  private def rebuild(bytes: Array[Byte], edits: List[(Int, Int, String)]): UTF8String = {
    val out = new java.io.ByteArrayOutputStream(bytes.length)
    var copied = 0
    for ((start, end, masked) <- edits) {
      out.write(bytes, copied, start - copied)
      out.write(masked.getBytes(US_ASCII))
      copied = end
    }
    out.write(bytes, copied, bytes.length - copied)
    UTF8String.fromBytes(out.toByteArray)
  }

  private def ascii(at: Int => Byte, start: Int, end: Int): String = {
    val chars = new Array[Char](end - start)
    var i = start
    while (i < end) { chars(i - start) = at(i).toChar; i += 1 }
    new String(chars)
  }

  private def sameAscii(at: Int => Byte, start: Int, end: Int, s: String): Boolean =
    end - start == s.length && (start until end).forall(i => at(i) == s.charAt(i - start))

  private def isDigit(b: Byte): Boolean = b >= '0' && b <= '9'

  private def isHex(b: Byte): Boolean = isDigit(b) || (b >= 'a' && b <= 'f') || (b >= 'A' && b <= 'F')

  private def isAddressByte(b: Byte): Boolean = isHex(b) || b == ':' || b == '.'
}
