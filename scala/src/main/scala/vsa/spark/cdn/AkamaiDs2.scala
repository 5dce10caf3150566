package vsa.spark.cdn

import java.io.{ByteArrayInputStream, ByteArrayOutputStream, IOException, InputStreamReader}
import java.nio.charset.StandardCharsets

import com.fasterxml.jackson.core.{JsonEncoding, JsonFactory, JsonParser, JsonToken}
import org.apache.spark.sql.catalyst.InternalRow
import org.apache.spark.sql.catalyst.expressions.GenericInternalRow
import org.apache.spark.sql.catalyst.json.JSONOptions
import org.apache.spark.unsafe.Platform
import org.apache.spark.unsafe.types.UTF8String
import vsa.spark.cdn.LineRequest._

/** Akamai DataStream 2: one JSON object per line, as python/vsa/normalize/cdn/akamai_ds2.py describes it. Keys are
  * matched case-insensitively; a value may be a string or a number; `-`, `^`, `""` (the two characters) and the empty
  * string are placeholders for none.
  *
  * The object is read with Jackson's streaming parser over the line's UTF-8 bytes, with the values `from_json(line,
  * 'map<string,string>')` gives: a string's text, a number's or a nested value's JSON text as Spark writes it, `null`
  * for JSON null; what follows the object is ignored, as Spark ignores it. Only the keys below are read: the other
  * values are skipped (still checked to be JSON). A key given twice (in any case) keeps its last value.
  */
object AkamaiDs2 {

  // The keys read, as DataStream names them; the constants below index this.
  private val Keys = Array(
    "reqTimeSec",
    "cliIP",
    "UA",
    "reqHost",
    "reqPath",
    "queryStr",
    "statusCode",
    "bytes",
    "totalBytes",
    "timeToFirstByte",
    "turnAroundTimeMSec",
    "transferTimeMSec",
    "cacheStatus",
    "serverCountry",
    "edgeIP",
    "cmcd"
  )
  private final val TimeKey = 0
  private final val IpKey = 1
  private final val AgentKey = 2
  private final val HostKey = 3
  private final val PathKey = 4
  private final val QueryKey = 5
  private final val StatusKey = 6
  private final val BytesKey = 7
  private final val TotalBytesKey = 8
  private final val TtfbKey = 9
  private final val TurnaroundKey = 10
  private final val TransferKey = 11
  private final val CacheKey = 12
  private final val CountryKey = 13
  private final val EdgeIpKey = 14
  private final val CmcdKey = 15

  private val LowerKeys = Keys.map(_.toLowerCase(java.util.Locale.ROOT))
  // The keys' indexes by the length of their names.
  private val ByLength: Array[Array[Int]] =
    Array.tabulate(Keys.map(_.length).max + 1)(length => Keys.indices.filter(Keys(_).length == length).toArray)

  private val Hits = Array(UTF8String.fromString("1"))
  private val Misses = Array(UTF8String.fromString("0"))
  private val Slash = UTF8String.fromString("/")
  private val Caret = UTF8String.fromString("^")
  private val QuotePair = UTF8String.fromString("\"\"")

  // Jackson with from_json's settings (single quotes allowed, NaN and Infinity allowed, no comments, ...).
  private lazy val Json: JsonFactory = new JSONOptions(Map.empty[String, String], "UTC", "").buildJsonFactory()

  def parse(line: UTF8String): InternalRow = {
    if (line == null) return null
    if (!isUtf8(line)) return notUtf8
    val row = new GenericInternalRow(ResultType.length)
    val texts = new Texts
    val values = read(line)
    if (values == null) return validate(row, texts, "malformed_json", "not a JSON object")
    def get(key: Int): UTF8String = {
      val value = dash(values(key))
      if (value == Caret || value == QuotePair) null else value
    }
    texts.timestamp = get(TimeKey)
    if (texts.timestamp != null) {
      val micros = epochSeconds(texts.timestamp)
      if (micros != null) row.setLong(Timestamp, micros)
    }
    row.update(ClientIp, get(IpKey))
    row.update(UserAgent, userAgent(get(AgentKey)))
    row.update(Host, get(HostKey))
    val path = get(PathKey)
    // reqPath may come without its leading '/'.
    if (path != null) row.update(Path, decode(if (path.startsWith(Slash)) path else UTF8String.concat(Slash, path)))
    row.update(Query, get(QueryKey))
    texts.status = get(StatusKey)
    setInt(row, Status, texts.status)
    texts.bytes = coalesce(get(BytesKey), get(TotalBytesKey))
    setLong(row, Bytes, texts.bytes)
    val turnaround = get(TurnaroundKey)
    val transfer = get(TransferKey)
    texts.ttfbMs = coalesce(get(TtfbKey), turnaround)
    setDouble(row, TtfbMs, texts.ttfbMs, 1)
    // Turnaround (to the first byte) plus transfer (first to last byte), what is not a number counting 0; a NaN or an
    // infinity makes the sum one, which is rejected with that part's text.
    val (turnaroundMs, transferMs) = (orZero(turnaround), orZero(transfer))
    texts.downloadMs = if (!java.lang.Double.isFinite(transferMs)) transfer else coalesce(turnaround, transfer)
    if (texts.downloadMs != null) setFinite(row, DownloadMs, turnaroundMs + transferMs)
    row.update(CacheStatus, cache(get(CacheKey), Hits, Misses))
    row.update(Pop, coalesce(get(CountryKey), get(EdgeIpKey)))
    val cmcd = get(CmcdKey)
    if (cmcd != null) row.update(CmcdText, decode(cmcd))
    validate(row, texts, null, null)
  }

  private def coalesce(first: UTF8String, second: UTF8String): UTF8String = if (first != null) first else second

  private def orZero(text: UTF8String): Double = {
    val value = if (text == null) null else toDouble(text)
    if (value == null) 0.0 else value
  }

  /** The values of the read keys (null where absent or JSON null), null if the line is not a JSON object. */
  private def read(line: UTF8String): Array[UTF8String] = {
    val n = line.numBytes
    if (n == 0) return null
    val first = line.getByte(0)
    // Anything else first is not an object; a NUL second would make Jackson read the bytes as UTF-16 or UTF-32.
    if (first != '{' && !isJsonSpace(first)) return null
    if (n > 1 && line.getByte(1) == 0) return readChars(line)
    val parser = line.getBaseObject match {
      case bytes: Array[Byte] =>
        Json.createParser(bytes, (line.getBaseOffset - Platform.BYTE_ARRAY_OFFSET).toInt, n)
      case _ => Json.createParser(line.getBytes)
    }
    try readObject(parser, line)
    catch { case _: IOException | _: RuntimeException => null }
    finally parser.close()
  }

  /** The line as from_json reads it, through a character decoder: for a line whose second byte is NUL. */
  private def readChars(line: UTF8String): Array[UTF8String] = {
    val parser =
      Json.createParser(new InputStreamReader(new ByteArrayInputStream(line.getBytes), StandardCharsets.UTF_8))
    try readObject(parser, null)
    catch { case _: IOException | _: RuntimeException => null }
    finally parser.close()
  }

  /** Reads one object's read keys; `line`, when the parser reads its bytes, gives strings without escapes as slices of
    * the line (no Java string).
    */
  private def readObject(parser: JsonParser, line: UTF8String): Array[UTF8String] = {
    if (parser.nextToken() != JsonToken.START_OBJECT) return null
    val values = new Array[UTF8String](Keys.length)
    var token = parser.nextToken()
    while (token == JsonToken.FIELD_NAME) {
      val key = keyIndex(parser.currentName)
      token = parser.nextToken()
      if (key >= 0) values(key) = value(parser, token, line)
      else if (token == JsonToken.START_OBJECT || token == JsonToken.START_ARRAY) parser.skipChildren()
      token = parser.nextToken()
    }
    values
  }

  /** The value at the parser's `token` as from_json's string conversion gives it. */
  private def value(parser: JsonParser, token: JsonToken, line: UTF8String): UTF8String = token match {
    case JsonToken.VALUE_NULL                   => null
    case JsonToken.VALUE_STRING if line != null => stringBytes(parser, line)
    case JsonToken.VALUE_STRING                 => UTF8String.fromString(parser.getText)
    // The JSON text of an integer is Spark's but for -0, which Spark writes 0.
    case JsonToken.VALUE_NUMBER_INT => UTF8String.fromString(if (parser.getText == "-0") "0" else parser.getText)
    case _                          =>
      // A decimal, a boolean, an object or an array: written back by Jackson, as Spark does (1.50 is 1.5).
      val out = new ByteArrayOutputStream()
      val generator = Json.createGenerator(out, JsonEncoding.UTF8)
      try generator.copyCurrentStructure(parser)
      finally generator.close()
      UTF8String.fromBytes(out.toByteArray)
  }

  /** A string value: its bytes in the line when it has no escape, else its decoded text. */
  private def stringBytes(parser: JsonParser, line: UTF8String): UTF8String = {
    val start = parser.currentTokenLocation().getByteOffset.toInt + 1 // after the opening quote
    parser.finishToken()
    val end = parser.currentLocation().getByteOffset.toInt - 1 // the closing quote
    val raw = slice(line, start, end)
    if (indexOf(raw, '\\', 0) < 0) raw else UTF8String.fromString(parser.getText)
  }

  /** The index of the read key `name` is, matched as `lower(name) = lower(key)` matches it, -1 for a key not read. The
    * keys are ASCII, so only ASCII letters may differ (the one other character whose lower case is ASCII, the Kelvin
    * sign, lower-cases to a `k`, which no key has); no lower-cased copy is made.
    */
  private def keyIndex(name: String): Int = {
    if (name.length >= ByLength.length) return -1
    val candidates = ByLength(name.length)
    var c = 0
    while (c < candidates.length) {
      if (sameLowerCase(name, LowerKeys(candidates(c)))) return candidates(c)
      c += 1
    }
    -1
  }

  private def sameLowerCase(name: String, lower: String): Boolean = {
    var i = 0
    while (i < lower.length) {
      val ch = name.charAt(i)
      if ((if (ch >= 'A' && ch <= 'Z') (ch + 32).toChar else ch) != lower.charAt(i)) return false
      i += 1
    }
    true
  }

  private def isJsonSpace(b: Byte): Boolean = b == ' ' || b == '\t' || b == '\n' || b == '\r'
}
