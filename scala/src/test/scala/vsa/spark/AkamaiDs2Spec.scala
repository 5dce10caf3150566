package vsa.spark

import java.time.Instant

import org.apache.spark.sql.Row
import org.apache.spark.sql.catalyst.InternalRow
import org.apache.spark.sql.catalyst.expressions.Literal
import org.apache.spark.unsafe.types.UTF8String
import org.scalatest.funsuite.AnyFunSuite
import vsa.spark.cdn.LineRequest
import vsa.spark.expressions.ParseAkamai

/** `vsa_parse_akamai`: an Akamai DataStream 2 line's values, the JSON semantics of `from_json` it keeps, and the
  * reasons of rejected lines.
  */
class AkamaiDs2Spec extends AnyFunSuite with LocalSpark {

  // Akamai's documented sample (techdocs "JSON log sample"), trimmed to the fields read and a few others.
  private val Good =
    """{"version": 1, "cp": "123456", "reqId": "1239f220", "reqTimeSec": "1573840000.250", "bytes": "4995",
      | "cliIP": "128.147.28.68", "statusCode": "206", "proto": "HTTPS", "reqHost": "test.hostname.net",
      | "reqMethod": "GET", "reqPath": "/path1/path%202/file.ext", "UA": "Mozilla%2F5.0+%28Macintosh%29",
      | "totalBytes": "5227", "queryStr": "cmcd=//1.0@V/bl=21600", "breadcrumbs": "//BC/%5Ba=23.33.41.20%5D",
      | "turnAroundTimeMSec": "11", "transferTimeMSec": "125", "edgeIP": "23.50.55.38", "serverCountry": "GB",
      | "cacheStatus": "1", "timeToFirstByte": "14", "cmcd": "br%3D1426%2Cot%3Dv"}""".stripMargin

  private def parse(line: String): Row =
    spark.sql("SELECT vsa_parse_akamai(l) AS r FROM VALUES (?) AS v(l)", Array[Any](line)).first().getStruct(0)

  /** The line with `key` set to the JSON text `value` (added at the end, after the key's first value). */
  private def withValue(key: String, value: String, line: String = Good): String =
    line.stripSuffix("}") + s""", "$key": $value}"""

  private def rejected(line: String): (String, String) = {
    val r = parse(line)
    (r.getAs[String]("reason"), r.getAs[String]("detail"))
  }

  private def isNull(r: Row, field: String): Boolean = r.isNullAt(r.fieldIndex(field))

  test("a line's fields") {
    val r = parse(Good)
    assert(r.getAs[java.sql.Timestamp]("timestamp").toInstant == Instant.parse("2019-11-15T17:46:40.250Z"))
    assert(r.getAs[String]("client_ip") == "128.147.28.68")
    assert(r.getAs[String]("user_agent") == "Mozilla/5.0+(Macintosh)") // decoded, a literal '+' kept
    assert(r.getAs[String]("host") == "test.hostname.net")
    assert(r.getAs[String]("path") == "/path1/path 2/file.ext")
    assert(r.getAs[String]("query") == "cmcd=//1.0@V/bl=21600") // as logged
    assert(r.getAs[Int]("status") == 206)
    assert(r.getAs[Long]("bytes") == 4995L) // bytes, not totalBytes
    assert(r.getAs[Double]("ttfb_ms") == 14.0) // timeToFirstByte, not the turnaround
    assert(r.getAs[Double]("download_ms") == 136.0) // turnaround + transfer
    assert(r.getAs[String]("cache_status") == "HIT")
    assert(r.getAs[String]("pop") == "GB") // serverCountry, not edgeIP
    assert(r.getAs[String]("cmcd_text") == "br=1426,ot=v")
    assert(isNull(r, "reason") && isNull(r, "detail"))
  }

  test("keys in any case, numbers, placeholders, fallbacks") {
    val sparse = parse(
      """{"reqtimesec": 1573840000, "STATUSCODE": 500, "TotalBytes": 0, "reqpath": "master.m3u8", "UA": "-",
        | "queryStr": "^", "cmcd": "\"\"", "turnaroundtimemsec": 48, "cachestatus": "0", "edgeip": "23.50.55.40",
        | "serverCountry": ""}""".stripMargin
    )
    assert(sparse.getAs[java.sql.Timestamp]("timestamp").toInstant == Instant.parse("2019-11-15T17:46:40Z"))
    assert(sparse.getAs[Int]("status") == 500 && sparse.getAs[Long]("bytes") == 0L) // totalBytes without bytes
    assert(sparse.getAs[String]("path") == "/master.m3u8") // given its leading '/'
    assert(isNull(sparse, "user_agent") && isNull(sparse, "query") && isNull(sparse, "cmcd_text"))
    assert(sparse.getAs[Double]("ttfb_ms") == 48.0 && sparse.getAs[Double]("download_ms") == 48.0)
    assert(sparse.getAs[String]("cache_status") == "MISS")
    assert(sparse.getAs[String]("pop") == "23.50.55.40") // edgeIP without serverCountry
    assert(isNull(sparse, "reason"))
    val noTimes = parse("""{"reqTimeSec": "1", "statusCode": "200", "cacheStatus": "2"}""")
    assert(isNull(noTimes, "ttfb_ms") && isNull(noTimes, "download_ms") && isNull(noTimes, "bytes"))
    assert(noTimes.getAs[String]("cache_status") == "OTHER")
    val transferOnly = parse("""{"reqTimeSec": "1", "statusCode": "200", "transferTimeMSec": "7.5"}""")
    assert(transferOnly.getAs[Double]("download_ms") == 7.5 && isNull(transferOnly, "ttfb_ms"))
  }

  test("from_json's values: a number's and a nested value's JSON text as Spark writes it, null, escapes") {
    // 1.50 is written back as 1.5, so it is not a whole number of bytes; -0 as 0.
    assert(rejected(withValue("bytes", "1.50")) == ("bad_type", "bytes is not a number: 1.5"))
    assert(parse(withValue("statusCode", "-0")).getAs[Int]("status") == 0)
    assert(parse(withValue("queryStr", """{"a": [1, 2 ,"b"]}""")).getAs[String]("query") == """{"a":[1,2,"b"]}""")
    assert(parse(withValue("reqHost", "true")).getAs[String]("host") == "true")
    assert(
      rejected(withValue("turnAroundTimeMSec", "NaN", withValue("timeToFirstByte", "null"))) ==
        ("bad_type", "ttfb_ms is not a number: \"NaN\"")
    )
    assert(rejected(withValue("statusCode", "null")) == ("missing_field", "missing: status"))
    val escaped = parse(withValue("UA", "\"Caf\\u00e9 \\\"TV\\\" \\ud83d\\ude00\""))
    assert(escaped.getAs[String]("user_agent") == "Café \"TV\" \uD83D\uDE00")
    assert(parse(withValue("UA", "\"Café TV\"")).getAs[String]("user_agent") == "Café TV")
  }

  test("what follows the object is ignored; a key given twice keeps its last value; single quotes are JSON") {
    assert(parse(Good + " {\"more\": 1}").getAs[Int]("status") == 206)
    assert(parse(withValue("STATUSCODE", "\"404\"")).getAs[Int]("status") == 404)
    assert(isNull(parse(withValue("cliip", "null")), "client_ip"))
    assert(parse("{'reqTimeSec': '1', 'statusCode': '200', 'reqHost': 'h'}").getAs[String]("host") == "h")
  }

  test("the reason and detail of a rejected line") {
    val malformed = ("malformed_json", "not a JSON object")
    assert(rejected(Good.take(120)) == malformed) // truncated
    assert(rejected("[1, 2]") == malformed)
    assert(rejected("\"text\"") == malformed)
    assert(rejected("not json") == malformed)
    assert(rejected("\uFEFF" + Good) == malformed) // a byte-order mark is not JSON whitespace
    assert(rejected(withValue("skipped", "{\"deep\": [1, }")) == malformed) // a value not read is still JSON
    assert(rejected(withValue("skipped", "01")) == malformed) // no leading zeros
    assert(rejected("{}") == ("missing_field", "missing: timestamp"))
    assert(rejected(withValue("reqTimeSec", "\"^\"")) == ("missing_field", "missing: timestamp"))
    assert(rejected(withValue("reqTimeSec", "\"yesterday\"")) == ("bad_timestamp", "not a timestamp: yesterday"))
    assert(rejected(withValue("reqTimeSec", "1e13")) == ("bad_timestamp", "not a timestamp: 1.0E13"))
    assert(rejected(withValue("statusCode", "\"2xx\"")) == ("bad_type", "status is not a number: 2xx"))
    assert(rejected(withValue("timeToFirstByte", "\"fast\"")) == ("bad_type", "ttfb_ms is not a number: fast"))
    for (value <- Seq("NaN", "Infinity", "-Infinity", "1e999")) {
      assert(rejected(withValue("timeToFirstByte", s"\"$value\"")) == ("bad_type", s"ttfb_ms is not a number: $value"))
      // The download time is turnaround plus transfer: either one infinite makes it so.
      assert(
        rejected(withValue("transferTimeMSec", s"\"$value\"")) == ("bad_type", s"download_ms is not a number: $value")
      )
      val turnaround = withValue("turnAroundTimeMSec", s"\"$value\"")
      assert(rejected(turnaround) == ("bad_type", s"download_ms is not a number: $value"))
    }
    // Unquoted, as from_json reads JSON's non-standard numbers.
    assert(rejected(withValue("timeToFirstByte", "Infinity"))._1 == "bad_type")
  }

  test("epoch seconds: six decimals, rounded half up, as a cast to decimal(20,6)") {
    def micros(text: String): Any = LineRequest.epochSeconds(UTF8String.fromString(text))
    assert(micros("1700000000.25") == 1700000000250000L)
    assert(micros(" 1700000000.0000005 ") == 1700000000000001L)
    assert(micros("1.7e9") == 1700000000000000L)
    assert(micros("999999999999.5") == 999999999999500000L && micros("0001.") == 1000000L)
    assert(micros("1700000000.1234565") == 1700000000123457L) // a seventh decimal: rounded
    assert(micros("-1") == -1000000L)
    assert(micros("9300000000000") == null) // fits decimal(20,6), not a long of microseconds
    assert(micros("NaN") == null && micros("0x10") == null)
  }

  test("a line that is not UTF-8 is rejected as bad_encoding, whatever Jackson would make of it") {
    // Bytes Jackson rejects (ff, a lone e9) and bytes it would accept (an overlong NUL, a code point past U+10FFFF).
    for (bad <- Seq("ff", "e974", "c080", "f4908080")) {
      val line = "cast(unhex(hex('{\"reqTimeSec\": \"1\", \"statusCode\": \"200\", \"reqHost\": \"h')) || " +
        s"unhex('$bad') || unhex(hex('\"}')) AS string)"
      val parsed = spark.sql(s"SELECT vsa_parse_akamai($line) AS r").first().getStruct(0)
      assert(parsed.getAs[String]("reason") == "bad_encoding", bad)
      assert(parsed.isNullAt(parsed.fieldIndex("status")), bad)
    }
  }

  test("interpreted and generated code agree; a null line gives null") {
    val interpreted = ParseAkamai(Literal(Good)).eval(InternalRow.empty).asInstanceOf[InternalRow]
    assert(interpreted.getInt(LineRequest.Status) == 206 && interpreted.isNullAt(LineRequest.Reason))
    assert(spark.sql("SELECT vsa_parse_akamai(NULL) IS NULL").first().getBoolean(0))
  }
}
