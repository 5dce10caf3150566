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
    * without three `.`, two `:` (or `%3A`) or three `-` cannot hold an address and is returned after that one scan.
    * Otherwise candidates are the runs of hex digits, `:` and `.` (an address's characters; a bracket, `%`, a comma end
    * one; a run right after `%` is tried without the escape's two hex digits first):
    *   - a run that is an IPv6 literal (less trailing `.`, then `:`: the end of a sentence; or less a last `:port` or
    *     `.port`) is masked whole;
    *   - else each dotted quad in it (digits and dots, as in `203.0.113.7:8443`, `203.0.113.7.8443` or `id203.0.113.7`)
    *     is masked. A longer dotted number (`1.3.6.1.4.1`) is not an address, nor a quad with a hex letter glued after
    *     it (a version: `AppleCoreMedia/1.0.0.21A5326a`). A quad that begins a host name (`.` and a label after it) may
    *     be written backwards (`7.113.0.203.in-addr.arpa`): its first and last parts are zeroed, whichever is the host.
    * Hex or digits glued before an address (a JSON escape `\u00e9` in raw text) are tried off its front. Colons written
    * `%3A` (an address in a URL's query) are read as colons, and written so in the masked address. Four dashed numbers
    * of a host name (`ec2-203-0-113-7`, `7-113-0-203.dyn.example`) are masked as a quad in a host name.
    */
  def mask(text: UTF8String): UTF8String = {
    val base = text.getBaseObject
    val offset = text.getBaseOffset
    val n = text.numBytes
    def at(i: Int): Byte = Platform.getByte(base, offset + i)
    val signs = separators(at, n)
    if (!signs.mayHoldAddress) return text
    val edits =
      if (signs.encodedColons) maskDecoded(at, n)
      else { val found = new Edits(at); maskRuns(at, n, found); found.list }
    val all = if (signs.dashes) withDashedQuads(at, n, edits) else edits
    if (all.isEmpty) text else rebuild(text.getBytes, all)
  }

  private final case class Separators(mayHoldAddress: Boolean, encodedColons: Boolean, dashes: Boolean)

  private def separators(at: Int => Byte, n: Int): Separators = {
    var dots = 0
    var colons = 0
    var encoded = 0
    var dashes = 0
    var i = 0
    while (i < n) {
      val b = at(i)
      if (b == '.') dots += 1
      else if (b == ':') colons += 1
      else if (b == '-') dashes += 1
      else if (b == '%' && i + 2 < n && at(i + 1) == '3' && (at(i + 2) | 0x20) == 'a') encoded += 1
      i += 1
    }
    Separators(dots >= 3 || colons + encoded >= 2 || dashes >= 3, encoded > 0, dashes >= 3)
  }

  /** The edits of a text, in order: (start, end, masked), each replacing bytes that differ. */
  private final class Edits(at: Int => Byte) {
    private var reversed: List[(Int, Int, String)] = Nil
    def add(start: Int, end: Int, masked: String): Unit =
      if (!sameAscii(at, start, end, masked)) reversed = (start, end, masked) :: reversed
    def list: List[(Int, Int, String)] = reversed.reverse
  }

  private def maskRuns(at: Int => Byte, n: Int, edits: Edits): Unit = {
    var i = 0
    while (i < n) {
      val b = at(i)
      if (isAddressByte(b)) {
        var runEnd = i
        while (runEnd < n && isAddressByte(at(runEnd))) runEnd += 1
        // After `%`, the run may start with an escape's two hex digits (`%5B2001:db8::1`, `%2010.1.2.3`).
        val escaped = i > 0 && at(i - 1) == '%' && runEnd - i > 2 && isHex(at(i + 1))
        if (!(escaped && maskRun(at, n, i + 2, runEnd, edits.add))) maskRun(at, n, i, runEnd, edits.add)
        i = runEnd
      } else i += 1
    }
  }

  /** The edits of text whose colons may be written `%3A`: found in the text with those read as `:`, then placed back,
    * the masked address's colons written as its own were.
    */
  private def maskDecoded(at: Int => Byte, n: Int): List[(Int, Int, String)] = {
    val decoded = new Array[Byte](n)
    val origin = new Array[Int](n + 1) // the text's index of each decoded byte, and its length at the end
    var m = 0
    var i = 0
    while (i < n) {
      origin(m) = i
      if (at(i) == '%' && i + 2 < n && at(i + 1) == '3' && (at(i + 2) | 0x20) == 'a') {
        decoded(m) = ':'
        i += 3
      } else {
        decoded(m) = at(i)
        i += 1
      }
      m += 1
    }
    origin(m) = n
    val inDecoded = new Edits(decoded(_))
    maskRuns(decoded(_), m, inDecoded)
    val placed = new Edits(at)
    for ((start, end, masked) <- inDecoded.list) {
      val (from, to) = (origin(start), origin(end))
      val encoded = to - from > end - start
      placed.add(from, to, if (encoded) masked.replace(":", "%3A") else masked)
    }
    placed.list
  }

  /** `edits` with the dashed quads of host names (`ec2-203-0-113-7`, `203-0-113-7.example`) masked: four numbers of one
    * to three digits, each at most 255, joined by single dashes, with no digit, dotted or dashed number glued on either
    * side (a longer dashed number, a date, is not an address). Written forwards or backwards, so the first and last are
    * zeroed. Those that overlap an address already found are left to it.
    */
  private def withDashedQuads(
      at: Int => Byte,
      n: Int,
      edits: List[(Int, Int, String)]
  ): List[(Int, Int, String)] = {
    val found = new Edits(at)
    def digitsFrom(i: Int): Int = { var j = i; while (j < n && isDigit(at(j))) j += 1; j }
    // Whether a number ends right before `i` (`-` or `.` between): then the dashed numbers go on.
    def numberBefore(i: Int): Boolean = {
      if (i < 2 || !(at(i - 1) == '-' || at(i - 1) == '.') || !isDigit(at(i - 2))) return false
      var j = i - 2
      while (j >= 0 && isDigit(at(j))) j -= 1
      j < 0 || !isAlphanumeric(at(j))
    }
    var i = 0
    while (i < n) {
      if (isDigit(at(i)) && (i == 0 || !isAlphanumeric(at(i - 1))) && !numberBefore(i)) {
        val parts = new Array[Int](4)
        var count = 0
        var p = i
        var ok = true
        while (ok && count < 4) {
          val end = digitsFrom(p)
          if (end == p || end - p > 3) ok = false
          else {
            parts(count) = ascii(at, p, end).toInt
            count += 1
            p = end
            if (count < 4) { if (p < n && at(p) == '-') p += 1 else ok = false }
          }
        }
        // After the fourth: not a letter or digit, nor another number behind a `-` or `.`.
        val after = ok && (p == n || (!isAlphanumeric(at(p)) &&
          !((at(p) == '-' || at(p) == '.') && p + 1 < n && isDigit(at(p + 1)))))
        if (after && parts.forall(_ <= 255)) {
          found.add(i, p, s"0-${parts(1)}-${parts(2)}-0")
          i = p
        } else i = digitsFrom(i)
      } else i += 1
    }
    val dashed = found.list.filterNot { case (s, e, _) => edits.exists { case (a, b, _) => s < b && a < e } }
    (edits ++ dashed).sortBy(_._1)
  }

  /** Masks the addresses of the run [start, runEnd) of a text of `n` bytes; whether it held one. */
  private def maskRun(
      at: Int => Byte,
      n: Int,
      start: Int,
      runEnd: Int,
      edit: (Int, Int, String) => Unit
  ): Boolean = {
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
      // The whole run, less the trailing `:` of a sentence, or less a last `:group` or `.port` (a port without
      // brackets, as tcpdump writes one).
      var trimmed = end
      while (trimmed > start && at(trimmed - 1) == ':') trimmed -= 1
      var lastColon = end - 1
      while (at(lastColon) != ':') lastColon -= 1
      var lastDot = end - 1
      while (lastDot > lastColon && at(lastDot) != '.') lastDot -= 1
      for (from <- starts; v6End <- Seq(end, trimmed, lastColon, lastDot).distinct if v6End > from) {
        val address = MaskIp.parseAddress(ascii(at, from, v6End))
        if (address.isDefined) {
          maskDottedQuads(at, n, start, from, edit)
          edit(from, v6End, MaskIp.mask(address.get))
          return true
        }
      }
    }
    maskDottedQuads(at, n, start, end, edit)
  }

  /** Masks each dotted quad of [start, end) (digits and dots between other characters) of a text of `n` bytes; whether
    * there was one.
    */
  private def maskDottedQuads(
      at: Int => Byte,
      n: Int,
      start: Int,
      end: Int,
      edit: (Int, Int, String) => Unit
  ): Boolean = {
    var found = false
    var p = start
    while (p < end) {
      if (isDigit(at(p))) {
        var q = p
        var dots = 0
        while (q < end && (isDigit(at(q)) || at(q) == '.')) { if (at(q) == '.') dots += 1; q += 1 }
        var quadEnd = q
        while (at(quadEnd - 1) == '.') { quadEnd -= 1; dots -= 1 }
        // A hex letter right after the quad's digits makes it a version (`AppleCoreMedia/1.0.0.21A5326a`), not an
        // address; after a dot it begins a host name's label (`7.113.0.203.bc.googleusercontent.com`).
        val version = q < end && at(q) != ':' && at(q - 1) != '.'
        // `a.b.c.d.port`: the fifth number (at most five digits) is a port, not part of a longer dotted number.
        if (dots == 4 && !version) {
          var lastDot = quadEnd - 1
          while (at(lastDot) != '.') lastDot -= 1
          if (quadEnd - lastDot - 1 <= 5 && ascii(at, lastDot + 1, quadEnd).toInt <= 65535) {
            quadEnd = lastDot
            dots = 3
          }
        }
        if (dots == 3 && !version) {
          // Digits glued before the first part (`\u00e9203.0.113.7`, `\u00e939.30.175.81`: after a hex letter of
          // the same run, or more than three) are not part of the address: the longest valid tail is.
          var firstDot = p
          while (at(firstDot) != '.') firstDot += 1
          val glued = firstDot - p > 3 || p > start
          val starts = if (glued) (math.max(p, firstDot - 3) until firstDot) else Seq(p)
          // A dot and a letter after it: the quad begins a host name, maybe backwards (an in-addr.arpa name).
          val hostName = quadEnd + 1 < n && at(quadEnd) == '.' && isLetter(at(quadEnd + 1))
          starts.iterator
            .filter(from => quadEnd - from <= 15)
            .map(from => (from, MaskIp.parseIpv4(ascii(at, from, quadEnd))))
            .collectFirst { case (from, Some(a)) => (from, a) }
            .foreach { case (from, a) =>
              edit(from, quadEnd, if (hostName) eitherWay(a.getAddress) else MaskIp.mask(a))
              found = true
            }
        }
        p = q
      } else p += 1
    }
    found
  }

  /** A quad that may be written backwards, with its first and last parts zeroed: the host's part either way. */
  private def eitherWay(parts: Array[Byte]): String = s"0.${parts(1) & 0xff}.${parts(2) & 0xff}.0"

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

  private def isLetter(b: Byte): Boolean = (b | 0x20) >= 'a' && (b | 0x20) <= 'z'

  private def isAlphanumeric(b: Byte): Boolean = isDigit(b) || isLetter(b)

  private def isHex(b: Byte): Boolean = isDigit(b) || (b >= 'a' && b <= 'f') || (b >= 'A' && b <= 'F')

  private def isAddressByte(b: Byte): Boolean = isHex(b) || b == ':' || b == '.'
}
