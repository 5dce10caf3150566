package vsa.spark.cdn

import java.time.ZoneOffset

import org.apache.spark.sql.catalyst.InternalRow
import org.apache.spark.sql.catalyst.expressions.{BoundReference, Cast, EvalMode, GenericInternalRow, UrlCodec}
import org.apache.spark.sql.catalyst.util.DateTimeUtils
import org.apache.spark.sql.types._
import org.apache.spark.unsafe.Platform
import org.apache.spark.unsafe.types.UTF8String

/** What the CDN line parsers share: the row they return (a normalized request of docs/inputs.md, flat, plus `reason`
  * and `detail`, null for a good line), the checks every format makes (the one rule set of every format), and the value
  * conversions, each with the semantics of the Spark SQL function it replaces (noted on each), read from the line's
  * UTF-8 bytes.
  */
object LineRequest {

  val Fields: Seq[(String, DataType)] = Seq(
    "timestamp" -> TimestampType,
    "client_ip" -> StringType,
    "user_agent" -> StringType,
    "host" -> StringType,
    "path" -> StringType,
    "query" -> StringType,
    "status" -> IntegerType,
    "bytes" -> LongType,
    "ttfb_ms" -> DoubleType,
    "download_ms" -> DoubleType,
    "cache_status" -> StringType,
    "pop" -> StringType,
    "cmcd_text" -> StringType,
    "cmcd_fields" -> CmcdFields.Type,
    "reason" -> StringType,
    "detail" -> StringType
  )
  val ResultType: StructType = StructType(Fields.map { case (name, kind) => StructField(name, kind) })

  final val Timestamp = 0
  final val ClientIp = 1
  final val UserAgent = 2
  final val Host = 3
  final val Path = 4
  final val Query = 5
  final val Status = 6
  final val Bytes = 7
  final val TtfbMs = 8
  final val DownloadMs = 9
  final val CacheStatus = 10
  final val Pop = 11
  final val CmcdText = 12
  final val CmcdFieldsIndex = 13
  final val Reason = 14
  final val Detail = 15

  /** The text of the fields the shared checks read (null: absent). */
  final class Texts {
    var timestamp: UTF8String = _
    var status: UTF8String = _
    var bytes: UTF8String = _
    var ttfbMs: UTF8String = _
    var downloadMs: UTF8String = _
  }

  /** Sets `reason` and `detail` of a parsed request: the format's own rejection (`reason` non-null), else a missing
    * timestamp or status, a timestamp that could not be read, a number that is not one, or not a finite one (one rule
    * set for every format: each parser sets the values and their texts, then calls this).
    */
  def validate(row: GenericInternalRow, texts: Texts, reason: String, detail: String): InternalRow = {
    def reject(code: String, why: String): InternalRow = {
      row.update(Reason, UTF8String.fromString(code))
      row.update(Detail, UTF8String.fromString(why))
      row
    }
    def notNumber(text: UTF8String, index: Int): Boolean = text != null && row.isNullAt(index)
    if (reason != null) reject(reason, detail)
    else if (texts.timestamp == null) reject("missing_field", "missing: timestamp")
    else if (texts.status == null) reject("missing_field", "missing: status")
    else if (row.isNullAt(Timestamp)) reject("bad_timestamp", "not a timestamp: " + left64(texts.timestamp))
    else if (notNumber(texts.status, Status)) reject("bad_type", "status is not a number: " + left64(texts.status))
    else if (notNumber(texts.bytes, Bytes)) reject("bad_type", "bytes is not a number: " + left64(texts.bytes))
    else if (notNumber(texts.ttfbMs, TtfbMs))
      reject("bad_type", "ttfb_ms is not a number: " + left64(texts.ttfbMs))
    else if (notNumber(texts.downloadMs, DownloadMs))
      reject("bad_type", "download_ms is not a number: " + left64(texts.downloadMs))
    else row
  }

  /** The first 64 characters (SQL `left(text, 64)`). */
  private def left64(text: UTF8String): String = text.substring(0, 64).toString

  /** Null for the formats' missing-value markers, `-` and the empty string. */
  def dash(value: UTF8String): UTF8String =
    if (value == null || value.numBytes == 0 || (value.numBytes == 1 && value.getByte(0) == '-')) null else value

  /** The first value unless null (`coalesce(first, second)`). */
  def coalesce(first: UTF8String, second: UTF8String): UTF8String = if (first != null) first else second

  /** Whether the text is valid UTF-8 (`is_valid_utf8`): ASCII, checked 8 bytes at a time, needs no decoding. */
  def isUtf8(text: UTF8String): Boolean = {
    val base = text.getBaseObject
    val offset = text.getBaseOffset
    val n = text.numBytes
    var i = 0
    while (i + 8 <= n) {
      if ((Platform.getLong(base, offset + i) & 0x8080808080808080L) != 0) return text.isValid
      i += 8
    }
    while (i < n) {
      if (Platform.getByte(base, offset + i) < 0) return text.isValid
      i += 1
    }
    true
  }

  /** The detail of a `bad_encoding` dead letter, CDN line and player record alike. */
  val NotUtf8 = "not valid UTF-8 (raw shows the invalid bytes as U+FFFD)"

  /** The row of a line that is not valid UTF-8: its reason and detail only. */
  def notUtf8: InternalRow = {
    val row = new GenericInternalRow(ResultType.length)
    row.update(Reason, BadEncoding)
    row.update(Detail, NotUtf8Detail)
    row
  }
  private val BadEncoding = UTF8String.fromString("bad_encoding")
  private val NotUtf8Detail = UTF8String.fromString(NotUtf8)

  /** `try_cast(text AS int)`: Spark's own conversion (whole numbers only, in a try cast). */
  def setInt(row: GenericInternalRow, index: Int, text: UTF8String): Unit =
    if (text != null)
      try row.setInt(index, text.toIntExact())
      catch { case _: NumberFormatException => () }

  /** `try_cast(text AS bigint)`. */
  def setLong(row: GenericInternalRow, index: Int, text: UTF8String): Unit =
    if (text != null)
      try row.setLong(index, text.toLongExact())
      catch { case _: NumberFormatException => () }

  /** `try_cast(text AS double) * scale`, left null unless finite . */
  def setDouble(row: GenericInternalRow, index: Int, text: UTF8String, scale: Double): Unit =
    if (text != null) {
      val value = toDouble(text)
      if (value != null) setFinite(row, index, value * scale)
    }

  /** Sets a duration unless it is NaN or infinite (`NaN`, `Infinity`, `1e999`, or a scale's overflow), which is left
    * null: `validate` then rejects its text as not a number, as no KPI can use it (a percentile of Infinity).
    */
  def setFinite(row: GenericInternalRow, index: Int, value: Double): Unit =
    if (java.lang.Double.isFinite(value)) row.setDouble(index, value)

  /** `try_cast(text AS double)`: Java's reading of the text, then Spark's special literals (`inf`, ...). */
  def toDouble(text: UTF8String): java.lang.Double = {
    val s = text.toString
    try java.lang.Double.valueOf(s)
    catch {
      case _: NumberFormatException =>
        Cast.processFloatingPointSpecialLiterals(s, false) match {
          case d: java.lang.Double => d
          case _                   => null
        }
    }
  }

  /** `try_cast(text AS timestamp)` of ISO-8601 text that names its zone. */
  def timestamp(text: UTF8String): java.lang.Long = DateTimeUtils.stringToTimestamp(text, ZoneOffset.UTC) match {
    case Some(micros) => micros.asInstanceOf[java.lang.Long]
    case None         => null
  }

  /** `timestamp_micros(try_cast(try_cast(text AS decimal(20,6)) * 1000000 AS bigint))` : epoch seconds with decimals,
    * rounded half up to microseconds; null when not a number or out of range. Plain seconds are read from the bytes;
    * any other text by Spark's own cast.
    */
  def epochSeconds(text: UTF8String): java.lang.Long = {
    val plain = plainSeconds(text)
    if (plain >= 0) return plain
    val seconds = SecondsCast.eval(new GenericInternalRow(Array[Any](text))).asInstanceOf[Decimal]
    if (seconds == null) null
    else
      try seconds.toJavaBigDecimal.movePointRight(6).longValueExact.asInstanceOf[java.lang.Long]
      catch { case _: ArithmeticException => null }
  }
  private val SecondsCast = Cast(BoundReference(0, StringType, nullable = true), DecimalType(20, 6), None, EvalMode.TRY)

  /** The microseconds of `\d{1,12}(\.\d{0,6})?` (no rounding, no overflow: the cast's value), -1 for other text. */
  private def plainSeconds(text: UTF8String): Long = {
    val n = text.numBytes
    def digit(i: Int): Int = { val b = text.getByte(i); if (b >= '0' && b <= '9') b - '0' else -1 }
    var micros = 0L
    var i = 0
    while (i < n && digit(i) >= 0) { micros = micros * 10 + digit(i); i += 1 }
    if (i == 0 || i > 12) return -1
    var decimals = 0
    if (i < n) {
      if (text.getByte(i) != '.') return -1
      i += 1
      while (i < n && decimals < 6 && digit(i) >= 0) { micros = micros * 10 + digit(i); decimals += 1; i += 1 }
      if (i < n) return -1
    }
    while (decimals < 6) { micros *= 10; decimals += 1 }
    micros
  }

  /** `HIT`, `MISS` or `OTHER` from a cache result, case-insensitively (`upper(value) IN (...)`). */
  def cache(value: UTF8String, hits: Array[UTF8String], misses: Array[UTF8String]): UTF8String =
    if (value == null) null
    else {
      val upper = value.toUpperCase
      if (hits.exists(_.equals(upper))) HitText else if (misses.exists(_.equals(upper))) MissText else OtherText
    }
  private val HitText = UTF8String.fromString("HIT")
  private val MissText = UTF8String.fromString("MISS")
  private val OtherText = UTF8String.fromString("OTHER")

  /** The text before a target's first `?` (`substring_index(target, '?', 1)`). */
  def targetPath(target: UTF8String): UTF8String =
    if (target == null) null
    else {
      val q = indexOf(target, '?', 0)
      if (q < 0) target else target.substring(0, q)
    }

  /** The text after a target's first `?`, null without one. */
  def targetQuery(target: UTF8String): UTF8String =
    if (target == null) null
    else {
      val q = indexOf(target, '?', 0)
      if (q < 0) null else slice(target, q + 1, target.numBytes)
    }

  /** A user agent as logged URL-encoded: decoded, twice when encoded twice (`%2520`), without a literal `User-Agent:`
    * prefix.
    */
  def userAgent(value: UTF8String): UTF8String =
    if (value == null) null
    else {
      val agent = decode(decode(value)).trimLeft()
      if (agent.startsWith(UserAgentPrefix)) agent.substring(UserAgentPrefix.numChars, Int.MaxValue).trimLeft()
      else agent
    }
  private val UserAgentPrefix = UTF8String.fromString("User-Agent:")

  /** URL-decoded text with a literal `+` kept, the text itself when malformed (`coalesce(try_url_decode(replace(value,
    * '+', '%2B')), value)` for text with a `%`). Plain ASCII with well-formed escapes is decoded here from the bytes;
    * anything else by Spark's own decoder.
    */
  def decode(value: UTF8String): UTF8String = {
    val n = value.numBytes
    if (indexOf(value, '%', 0) < 0) return value
    val out = new Array[Byte](n)
    var length = 0
    var i = 0
    while (i < n) {
      val b = value.getByte(i)
      if (b < 0) return sparkDecode(value)
      if (b == '%') {
        if (i + 2 >= n) return sparkDecode(value)
        val high = hex(value.getByte(i + 1))
        val low = hex(value.getByte(i + 2))
        if (high < 0 || low < 0) return sparkDecode(value)
        out(length) = ((high << 4) | low).toByte
        i += 3
      } else {
        out(length) = b
        i += 1
      }
      length += 1
    }
    val decoded = UTF8String.fromBytes(out, 0, length)
    if (decoded.isValid) decoded else sparkDecode(value)
  }

  private def sparkDecode(value: UTF8String): UTF8String = {
    val decoded = UrlCodec.decode(value.replace(Plus, EncodedPlus), false)
    if (decoded == null) value else decoded
  }
  private val Plus = UTF8String.fromString("+")
  private val EncodedPlus = UTF8String.fromString("%2B")

  private def hex(b: Byte): Int =
    if (b >= '0' && b <= '9') b - '0'
    else if (b >= 'a' && b <= 'f') b - 'a' + 10
    else if (b >= 'A' && b <= 'F') b - 'A' + 10
    else -1

  /** The index of the first byte `b` at or after `from`, -1 if none. */
  def indexOf(text: UTF8String, b: Byte, from: Int): Int = {
    val base = text.getBaseObject
    val offset = text.getBaseOffset
    val n = text.numBytes
    var i = from
    while (i < n) {
      if (Platform.getByte(base, offset + i) == b) return i
      i += 1
    }
    -1
  }

  /** Bytes [start, end) of `text`, sharing its memory (valid while the row it came from is). */
  def slice(text: UTF8String, start: Int, end: Int): UTF8String =
    UTF8String.fromAddress(text.getBaseObject, text.getBaseOffset + start, end - start)
}
