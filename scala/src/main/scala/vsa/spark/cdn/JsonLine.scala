package vsa.spark.cdn

import java.io.{ByteArrayInputStream, ByteArrayOutputStream, IOException, InputStreamReader}
import java.nio.charset.StandardCharsets

import com.fasterxml.jackson.core.{JsonEncoding, JsonFactory, JsonParser, JsonToken}
import org.apache.spark.sql.catalyst.json.JSONOptions
import org.apache.spark.unsafe.Platform
import org.apache.spark.unsafe.types.UTF8String
import vsa.spark.cdn.LineRequest.{indexOf, slice}

/** The reader of the JSON formats' lines (Akamai DataStream 2, Edgio RTLD, Fastly): one JSON object per line, the
  * values of the given `keys` only, as `from_json(line, 'map<string,string>')` gives them: a string's text, a number's
  * or a nested value's JSON text as Spark writes it, null for JSON null and for an absent key; what follows the object
  * is ignored, as Spark ignores it. The other values are skipped (still checked to be JSON). A key given twice keeps
  * its last value.
  *
  * The object is read with Jackson's streaming parser over the line's UTF-8 bytes; keys match exactly, or, with
  * `anyCase`, as `lower(name) = lower(key)` (the keys must then be ASCII).
  */
final class JsonLine(keys: Array[String], anyCase: Boolean) extends Serializable {

  private val compared = if (anyCase) keys.map(_.toLowerCase(java.util.Locale.ROOT)) else keys
  // The keys' indexes by the length of their names.
  private val byLength: Array[Array[Int]] =
    Array.tabulate(keys.map(_.length).max + 1)(length => keys.indices.filter(keys(_).length == length).toArray)

  /** The values of the keys (null where absent or JSON null), null if the line is not a JSON object. */
  def read(line: UTF8String): Array[UTF8String] = {
    val n = line.numBytes
    if (n == 0) return null
    val first = line.getByte(0)
    // Anything else first is not an object; a NUL second would make Jackson read the bytes as UTF-16 or UTF-32.
    if (first != '{' && !JsonLine.isJsonSpace(first)) return null
    if (n > 1 && line.getByte(1) == 0) return readChars(line)
    val parser = line.getBaseObject match {
      case bytes: Array[Byte] =>
        JsonLine.Json.createParser(bytes, (line.getBaseOffset - Platform.BYTE_ARRAY_OFFSET).toInt, n)
      case _ => JsonLine.Json.createParser(line.getBytes)
    }
    try readObject(parser, line)
    catch { case _: IOException | _: RuntimeException => null }
    finally parser.close()
  }

  /** The line as from_json reads it, through a character decoder: for a line whose second byte is NUL. */
  private def readChars(line: UTF8String): Array[UTF8String] = {
    val parser =
      JsonLine.Json.createParser(new InputStreamReader(new ByteArrayInputStream(line.getBytes), StandardCharsets.UTF_8))
    try readObject(parser, null)
    catch { case _: IOException | _: RuntimeException => null }
    finally parser.close()
  }

  /** Reads one object's keys; `line`, when the parser reads its bytes, gives strings without escapes as slices of the
    * line (no Java string).
    */
  private def readObject(parser: JsonParser, line: UTF8String): Array[UTF8String] = {
    if (parser.nextToken() != JsonToken.START_OBJECT) return null
    val values = new Array[UTF8String](keys.length)
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
      val generator = JsonLine.Json.createGenerator(out, JsonEncoding.UTF8)
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

  /** The index of the key `name` is, -1 for a key not read. With `anyCase`, only ASCII letters may differ (the one
    * other character whose lower case is ASCII, the Kelvin sign, lower-cases to a `k`, which no key has); no
    * lower-cased copy is made.
    */
  private def keyIndex(name: String): Int = {
    if (name.length >= byLength.length) return -1
    val candidates = byLength(name.length)
    var c = 0
    while (c < candidates.length) {
      val key = compared(candidates(c))
      if (if (anyCase) JsonLine.sameLowerCase(name, key) else name == key) return candidates(c)
      c += 1
    }
    -1
  }
}

object JsonLine {

  // Jackson with from_json's settings (single quotes allowed, NaN and Infinity allowed, no comments, ...).
  private lazy val Json: JsonFactory = new JSONOptions(Map.empty[String, String], "UTC", "").buildJsonFactory()

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
