package vsa.spark.cdn

import org.apache.spark.sql.catalyst.InternalRow
import org.apache.spark.sql.catalyst.expressions.GenericInternalRow
import org.apache.spark.unsafe.types.UTF8String
import vsa.spark.cdn.LineRequest._

/** nginx's combined log format, optionally extended with `rt=$request_time ut="$upstream_response_time"
  * cs=$upstream_cache_status` (and `uht="$upstream_header_time"`), as docs/cdn.md describes it.
  *
  * The line is matched as the regular expression below matches it (possessive, so without backtracking but between the
  * request's two forms), from the UTF-8 bytes:
  * {{{
  * ^(\S++) [^\[]*+\[([^\]]++)\] ++"(?:[A-Z]++ ++([^\s"]++)[^"]*+|(?:[^"\\]++|\\.)*+)" ++(\d{3}) ++(\d++|-) ++
  * "((?:[^"\\]++|\\.)*+)" ++"((?:[^"\\]++|\\.)*+)"(.*+)$
  * }}}
  * groups: address, time, target, status, bytes, referer, user agent, the tail (the `key=value` fields).
  */
object Nginx {

  private val Months = Array("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
  private val Hits = Array("HIT", "STALE", "UPDATING", "REVALIDATED").map(UTF8String.fromString)
  private val Misses = Array("MISS", "EXPIRED").map(UTF8String.fromString)
  private val HeaderTimeKey = UTF8String.fromString(" uht=")
  private val Malformed = "not an nginx combined (or extended) log line"

  /** The byte offsets of a matched line's groups: start and end of each of the eight. */
  private final class Groups {
    val start = new Array[Int](8)
    val end = new Array[Int](8)
    def set(group: Int, from: Int, until: Int): Unit = { start(group) = from; end(group) = until }
  }

  def parse(line: UTF8String): InternalRow = {
    if (line == null) return null
    if (!isUtf8(line)) return notUtf8
    val row = new GenericInternalRow(ResultType.length)
    val texts = new Texts
    val groups = new Groups
    if (!matches(line, groups)) return validate(row, texts, "malformed_line", Malformed)
    def group(g: Int): UTF8String = slice(line, groups.start(g), groups.end(g))
    val tail = group(7)
    texts.timestamp = dash(group(1))
    if (texts.timestamp != null) {
      val iso = timeLocal(texts.timestamp)
      if (iso != null) {
        val micros = timestamp(iso)
        if (micros != null) row.setLong(Timestamp, micros)
      }
    }
    row.update(ClientIp, dash(group(0)))
    row.update(UserAgent, dash(group(6)))
    val target = dash(group(2))
    row.update(Path, targetPath(target))
    row.update(Query, targetQuery(target))
    texts.status = dash(group(3))
    setInt(row, Status, texts.status)
    texts.bytes = dash(group(4))
    setLong(row, Bytes, texts.bytes)
    val upstream = dash(tailValue(tail, "ut"))
    val dashedTail = dash(tail)
    val headerTime = dashedTail != null && dashedTail.contains(HeaderTimeKey)
    texts.ttfbMs =
      if (headerTime) dash(firstTime(dash(tailValue(tail, "uht"))))
      else dash(firstTime(upstream))
    setDouble(row, TtfbMs, texts.ttfbMs, 1000)
    val requestTime = dash(tailValue(tail, "rt"))
    texts.downloadMs =
      if (requestTime != null) requestTime
      else if (upstream != null) UTF8String.fromString(upstreamTotal(upstream).toString)
      else null
    setDouble(row, DownloadMs, texts.downloadMs, 1000)
    row.update(CacheStatus, cache(dash(tailValue(tail, "cs")), Hits, Misses))
    validate(row, texts, null, null)
  }

  private def matches(line: UTF8String, groups: Groups): Boolean = {
    val n = line.numBytes
    def at(i: Int): Int = if (i < n) line.getByte(i) & 0xff else -1
    // (\S++) then one space
    var i = 0
    while (i < n && !isSpace(at(i))) i += 1
    if (i == 0 || at(i) != ' ') return false
    groups.set(0, 0, i)
    // [^\[]*+\[([^\]]++)\]
    i = indexOf(line, '[', i + 1)
    if (i < 0) return false
    val timeEnd = indexOf(line, ']', i + 1)
    if (timeEnd <= i + 1) return false
    groups.set(1, i + 1, timeEnd)
    i = spaces(line, timeEnd + 1)
    if (i < 0 || at(i) != '"') return false
    val request = i + 1
    // METHOD target ...: the first form, if the rest of the line matches after it
    var j = request
    while (at(j) >= 'A' && at(j) <= 'Z') j += 1
    if (j > request && at(j) == ' ') {
      val targetStart = spaces(line, j)
      var k = targetStart
      while (k < n && !isSpace(at(k)) && at(k) != '"') k += 1
      if (k > targetStart) {
        val close = indexOf(line, '"', k)
        if (close >= 0 && afterRequest(line, close, groups)) {
          groups.set(2, targetStart, k)
          return true
        }
      }
    }
    val close = quoted(line, request)
    if (close < 0 || !afterRequest(line, close, groups)) return false
    groups.set(2, 0, 0)
    true
  }

  /** `" ++(\d{3}) ++(\d++|-) ++"(...)" ++"(...)"(.*+)$` from the request's closing quote. */
  private def afterRequest(line: UTF8String, close: Int, groups: Groups): Boolean = {
    val n = line.numBytes
    def at(i: Int): Int = if (i < n) line.getByte(i) & 0xff else -1
    def digit(i: Int): Boolean = at(i) >= '0' && at(i) <= '9'
    var i = spaces(line, close + 1)
    if (i < 0 || !(digit(i) && digit(i + 1) && digit(i + 2)) || at(i + 3) != ' ') return false
    groups.set(3, i, i + 3)
    i = spaces(line, i + 3)
    val bytesStart = i
    if (digit(i)) while (digit(i)) i += 1 else if (at(i) == '-') i += 1 else return false
    groups.set(4, bytesStart, i)
    i = spaces(line, i)
    if (i < 0 || at(i) != '"') return false
    val refererEnd = quoted(line, i + 1)
    if (refererEnd < 0) return false
    groups.set(5, i + 1, refererEnd)
    i = spaces(line, refererEnd + 1)
    if (i < 0 || at(i) != '"') return false
    val agentEnd = quoted(line, i + 1)
    if (agentEnd < 0) return false
    groups.set(6, i + 1, agentEnd)
    // (.*+)$: the rest, to a line terminator that may only end the line
    val tailEnd = terminator(line, agentEnd + 1)
    if (tailEnd < n && !isFinalTerminator(line, tailEnd)) return false
    groups.set(7, agentEnd + 1, tailEnd)
    true
  }

  /** The position after one or more spaces from `i`, -1 without one. */
  private def spaces(line: UTF8String, i: Int): Int = {
    var j = i
    while (j < line.numBytes && line.getByte(j) == ' ') j += 1
    if (j == i) -1 else j
  }

  /** `(?:[^"\\]++|\\.)*+"` from `i`: the position of the closing quote, -1 if there is none. */
  private def quoted(line: UTF8String, i: Int): Int = {
    val n = line.numBytes
    var j = i
    while (j < n) {
      val b = line.getByte(j)
      if (b == '"') return j
      if (b == '\\') {
        if (j + 1 >= n || terminatorLength(line, j + 1) > 0) return -1
        j += 2
      } else j += 1
    }
    -1
  }

  /** The first line terminator (what `.` does not match) at or after `i`, else the end. */
  private def terminator(line: UTF8String, i: Int): Int = {
    var j = i
    while (j < line.numBytes && terminatorLength(line, j) == 0) j += 1
    j
  }

  private def isFinalTerminator(line: UTF8String, i: Int): Boolean = {
    val length = terminatorLength(line, i)
    val crlf = line.getByte(i) == '\r' && i + 1 < line.numBytes && line.getByte(i + 1) == '\n'
    i + (if (crlf) 2 else length) == line.numBytes
  }

  /** The bytes of the line terminator at `i` (\n, \r, U+0085, U+2028, U+2029), 0 if none. */
  private def terminatorLength(line: UTF8String, i: Int): Int = {
    val n = line.numBytes
    val b = line.getByte(i)
    if (b == '\n' || b == '\r') 1
    else if (b == 0xc2.toByte && i + 1 < n && line.getByte(i + 1) == 0x85.toByte) 2
    else if (
      b == 0xe2.toByte && i + 2 < n && line.getByte(i + 1) == 0x80.toByte &&
      (line.getByte(i + 2) == 0xa8.toByte || line.getByte(i + 2) == 0xa9.toByte)
    ) 3
    else 0
  }

  private def isSpace(b: Int): Boolean = b == ' ' || b == '\t' || b == '\n' || b == 0x0b || b == '\f' || b == '\r'

  /** The value of the tail's `key=value` field (`(?:^|\s)key=("[^"]*+"|\S*+)`), its quotes trimmed; empty when absent.
    */
  private def tailValue(tail: UTF8String, key: String): UTF8String = {
    val n = tail.numBytes
    val k = key.length
    var i = 0
    while (i + k < n) {
      val atStart = i == 0 || isSpace(tail.getByte(i - 1) & 0xff)
      if (atStart && (0 until k).forall(x => tail.getByte(i + x) == key.charAt(x)) && tail.getByte(i + k) == '=') {
        val from = i + k + 1
        var end = from
        val closing = if (from < n && tail.getByte(from) == '"') indexOf(tail, '"', from + 1) else -1
        if (closing >= 0) end = closing + 1
        else while (end < n && !isSpace(tail.getByte(end) & 0xff)) end += 1
        var a = from
        var b = end
        while (a < b && tail.getByte(a) == '"') a += 1
        while (b > a && tail.getByte(b - 1) == '"') b -= 1
        return slice(tail, a, b)
      }
      i += 1
    }
    UTF8String.EMPTY_UTF8
  }

  /** The first time of an upstream list (`2.001, 0.345`; ` : ` between upstream groups). */
  private def firstTime(times: UTF8String): UTF8String =
    if (times == null) null
    else {
      val n = times.numBytes
      var end = 0
      while (end < n && times.getByte(end) != ',' && times.getByte(end) != ':') end += 1
      var trimmed = end
      if (end < n) while (trimmed > 0 && isSpace(times.getByte(trimmed - 1) & 0xff)) trimmed -= 1
      slice(times, 0, trimmed)
    }

  /** The sum of an upstream list's times, what is not a number counting 0. */
  private def upstreamTotal(times: UTF8String): Double = {
    val n = times.numBytes
    var total = 0.0
    var start = 0
    while (start <= n) {
      var end = start
      while (end < n && times.getByte(end) != ',' && times.getByte(end) != ':') end += 1
      var a = start
      var b = end
      if (start > 0) while (a < b && isSpace(times.getByte(a) & 0xff)) a += 1
      if (end < n) while (b > a && isSpace(times.getByte(b - 1) & 0xff)) b -= 1
      val time = toDouble(slice(times, a, b))
      if (time != null) total += time
      start = end + 1
    }
    total
  }

  /** `$time_local` (`10/Oct/2000:13:55:36 -0700`) as ISO-8601 text, null when it is not in that shape. */
  private def timeLocal(text: UTF8String): UTF8String = {
    if (text.numBytes != 26) return null
    def b(i: Int): Int = text.getByte(i) & 0xff
    def digits(from: Int, count: Int): Boolean = (from until from + count).forall(i => b(i) >= '0' && b(i) <= '9')
    val shaped = digits(0, 2) && b(2) == '/' && b(3) >= 'A' && b(3) <= 'Z' && b(4) >= 'a' && b(4) <= 'z' &&
      b(5) >= 'a' && b(5) <= 'z' && b(6) == '/' && digits(7, 4) && b(11) == ':' && digits(12, 2) && b(14) == ':' &&
      digits(15, 2) && b(17) == ':' && digits(18, 2) && b(20) == ' ' && (b(21) == '+' || b(21) == '-') &&
      digits(22, 4)
    if (!shaped) return null
    val s = text.toString
    val month = Months.indexOf(s.substring(3, 6)) + 1
    if (month == 0) return null
    UTF8String.fromString(
      f"${s.substring(7, 11)}-$month%02d-${s.substring(0, 2)}T${s.substring(12, 20)}${s.substring(21, 24)}:${s.substring(24, 26)}"
    )
  }
}
