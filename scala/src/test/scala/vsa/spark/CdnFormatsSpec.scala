package vsa.spark

import java.io.File
import java.nio.charset.StandardCharsets
import java.nio.file.Files
import java.time.Instant

import org.apache.spark.sql.{AnalysisException, Row}
import org.apache.spark.sql.catalyst.InternalRow
import org.apache.spark.sql.catalyst.expressions.Literal
import org.scalatest.funsuite.AnyFunSuite
import vsa.spark.cdn.LineRequest
import vsa.spark.expressions.{ParseCloudFrontRealtime, ParseEdgecast, ParseFastly}

import scala.jdk.CollectionConverters._

/** The jar's parsers of CloudFront real-time logs, Edgio RTLD and Fastly (`vsa_parse_cloudfront_realtime`,
  * `vsa_parse_edgecast`, `vsa_parse_fastly`) on the real samples of tests/data/third_party/cdn-real, and the one rule
  * set of every format: each of the six rejects the same bad values with the same reason and detail.
  */
class CdnFormatsSpec extends AnyFunSuite with LocalSpark {

  private def sample(path: String): Seq[String] =
    Files.readAllLines(new File(ThirdPartyData.dir, s"cdn-real/$path").toPath, StandardCharsets.UTF_8).asScala.toSeq

  private def query(sql: String, args: Any*): Row =
    spark.sql(s"SELECT $sql AS r FROM VALUES (${args.map(_ => "?").mkString(", ")})", args.toArray).first().getStruct(0)

  private def realtime(line: String, names: Seq[String]): Row =
    query("vsa_parse_cloudfront_realtime(col1, col2)", line, names.toArray)
  private def edgecast(line: String): Row = query("vsa_parse_edgecast(col1)", line)
  private def fastly(line: String, fieldMap: String = ""): Row = query(s"vsa_parse_fastly(col1$fieldMap)", line)

  private def verdict(r: Row): (String, String) = (r.getAs[String]("reason"), r.getAs[String]("detail"))
  private def isNull(r: Row, field: String): Boolean = r.isNullAt(r.fieldIndex(field))
  private def instant(r: Row): Instant = r.getAs[java.sql.Timestamp]("timestamp").toInstant

  // --- CloudFront real-time -------------------------------------------------------------------------------------------

  test("CloudFront real-time: node-cloudfront-log-parser's Kinesis record, by its #Fields line") {
    val lines = sample("cloudfront_rt/node-cloudfront-log-parser_kinesis-1-0.txt")
    val names = lines.find(_.startsWith("#Fields:")).get.stripPrefix("#Fields:").trim.split("\\s+").toSeq
    val r = realtime(lines.find(!_.startsWith("#")).get, names)
    assert(verdict(r) == ((null, null)))
    assert(instant(r) == Instant.parse("2020-12-07T20:52:01.541Z"))
    assert(r.getAs[String]("client_ip") == "127.0.0.1")
    assert(r.getAs[Double]("ttfb_ms") == 42.0 && r.getAs[Double]("download_ms") == 42.0)
    assert(r.getAs[Int]("status") == 200 && r.getAs[Long]("bytes") == 485L)
    assert(
      r.getAs[String]("user_agent") ==
        "Mozilla/5.0 (Macintosh; Intel Mac OS X 10.15; rv:83.0) Gecko/20100101 Firefox/83.0"
    )
    assert(r.getAs[String]("host") == "test.cloudfront.net" && r.getAs[String]("path") == "/i")
    // cs-uri-stem holds the query too; cs-uri-query repeats it: read once.
    assert(r.getAs[String]("query").startsWith("stm=1607374321563&e=pp&"))
    assert(r.getAs[String]("pop") == "EWR52-C4" && isNull(r, "cmcd_fields") && isNull(r, "cmcd_text"))
  }

  private val CmcdNames = Seq(
    "timestamp",
    "sc-status",
    "cs-uri-stem",
    "cmcd-encoded-bitrate",
    "cmcd-buffer-starvation",
    "cmcd-playback-rate",
    "cmcd-session-id",
    "cmcd-startup",
    "cs-headers"
  )

  test("CloudFront real-time: cmcd-* fields typed in cmcd_fields, CMCD headers of cs-headers in cmcd_text") {
    val r =
      realtime("1700000000.123\t200\t/seg.m4s\t2400\ttrue\t1.5\tsess-42\t-\tHost:a%0ACMCD-Object:br=3200", CmcdNames)
    val cmcd = r.getStruct(r.fieldIndex("cmcd_fields"))
    assert(cmcd.getAs[Long]("br") == 2400L && cmcd.getAs[Boolean]("bs") && cmcd.getAs[Double]("pr") == 1.5)
    assert(cmcd.getAs[String]("sid") == "sess-42" && !cmcd.getAs[Boolean]("su")) // absent: false
    assert(cmcd.isNullAt(cmcd.fieldIndex("v")) && cmcd.isNullAt(cmcd.fieldIndex("ot")))
    assert(r.getAs[String]("cmcd_text") == "Host:a\nCMCD-Object:br=3200")
    val none = realtime("1700000000\t200\t/seg.m4s\t-\t-\t-\t-\t-\tHost:a", CmcdNames)
    assert(isNull(none, "cmcd_fields") && isNull(none, "cmcd_text") && verdict(none) == ((null, null)))
    // A number that is not one is left out of the CMCD, not a reason to reject the request.
    val odd = realtime("1700000000\t200\t/seg.m4s\tmany\t1\t-\t-\tTRUE\t-", CmcdNames)
    val oddCmcd = odd.getStruct(odd.fieldIndex("cmcd_fields"))
    assert(oddCmcd.isNullAt(oddCmcd.fieldIndex("br")) && oddCmcd.getAs[Boolean]("bs") && oddCmcd.getAs[Boolean]("su"))
    assert(verdict(odd) == ((null, null)))
  }

  test("CloudFront real-time: too few fields for the list, an epoch timestamp that is not one") {
    val names = (1 to 30).map(i => s"f$i") ++ Seq("timestamp", "sc-status")
    assert(
      verdict(realtime("1700000001.5\tonly\tthree", names)) ==
        (("bad_field_count", "3 tab-separated fields, fewer than the oldest layout's 23 (its field list has 32)"))
    )
    assert(
      verdict(realtime("yesterday\t200", Seq("timestamp", "sc-status"))) ==
        (("bad_timestamp", "not a timestamp: yesterday"))
    )
  }

  // --- Edgio RTLD ---------------------------------------------------------------------------------------------------

  test("Edgio RTLD: the rtld_cdn sample's lines") {
    val lines = sample("edgecast_edgio/rtld_cdn.jsonl")
    val rows = lines.map(edgecast)
    assert(rows.forall(r => verdict(r) == ((null, null))))
    val r = rows.head
    assert(instant(r) == Instant.parse("2018-04-16T22:04:55.768957Z"))
    assert(r.getAs[String]("client_ip") == "121.11.22.3" && r.getAs[Int]("status") == 200)
    assert(r.getAs[Long]("bytes") == 65895L && r.getAs[String]("cache_status") == "HIT")
    assert(r.getAs[String]("host") == "cdn.mydomain.com" && r.getAs[String]("path") == "/Resources/Scripts/script.js")
    assert(r.getAs[String]("user_agent") == "Mozilla/5.0 (Windows NT 10.0; WOW64; rv:59.0) Gecko/20100101 Firefox/59.0")
    assert(isNull(r, "query")) // "" is none
    assert(isNull(r, "ttfb_ms") && isNull(r, "download_ms")) // write_time is only the write phase
  }

  test("Edgio RTLD: the query without its ?, times in seconds, cache results, keys exactly as named") {
    val r = edgecast(
      """{"timestamp": 1700000001.25, "status_code": 200, "path": "/a.ts", "query": "?CMCD=br%3D2000",
        | "prewrite_time": 0.012, "total_time": 0.8, "cache_status": "TCP_EXPIRED_HIT", "cmcd": "br=1"}""".stripMargin
    )
    assert(r.getAs[String]("query") == "CMCD=br%3D2000" && r.getAs[String]("cache_status") == "HIT")
    assert(r.getAs[Double]("ttfb_ms") == 12.0 && r.getAs[Double]("download_ms") == 800.0)
    assert(r.getAs[String]("cmcd_text") == "br=1")
    val miss = edgecast("""{"timestamp": "1700000001", "status_code": "200", "cache_status": "tcp_refresh_miss"}""")
    assert(miss.getAs[String]("cache_status") == "MISS")
    val other = edgecast("""{"timestamp": 1, "status_code": 200, "cache_status": "CONFIG_NOCACHE"}""")
    assert(other.getAs[String]("cache_status") == "OTHER")
    assert(verdict(edgecast("""{"Timestamp": 1, "status_code": 200}""")) == (("missing_field", "missing: timestamp")))
  }

  // --- Fastly -------------------------------------------------------------------------------------------------------

  test("Fastly: the fastly-cli sample's lines, by the preset's real names") {
    val rows = sample("fastly/fastly-cli_eavesdrop.jsonl").map(fastly(_))
    assert(rows.forall(r => verdict(r) == ((null, null))))
    val r = rows.head
    assert(instant(r) == Instant.ofEpochSecond(1559726730L))
    assert(r.getAs[String]("cache_status") == "MISS" && r.getAs[String]("pop") == "LCY")
    assert(r.getAs[Int]("status") == 404 && r.getAs[Long]("bytes") == 71044L)
    assert(r.getAs[String]("path") == "/h" && isNull(r, "query"))
    assert(r.getAs[String]("host") == "www.bar.com" && r.getAs[String]("user_agent") == "curl/7.58.0")
  }

  test("Fastly: vsa's VCL names, an ISO-8601 timestamp, microseconds, the state's prefix") {
    val r = fastly(
      """{"timestamp": "2024-05-01T10:00:00+0000", "url": "/i.m4s?token=abc&next=/x?y", "status": 200,
        | "time_elapsed": 15230, "time_to_first_byte": "0.004", "fastly_info_state": "HIT-CLUSTER",
        | "pop": "LCY", "cmcd": "ot=i"}""".stripMargin
    )
    assert(instant(r) == Instant.parse("2024-05-01T10:00:00Z"))
    assert(r.getAs[String]("path") == "/i.m4s" && r.getAs[String]("query") == "token=abc&next=/x?y")
    assert(r.getAs[Double]("download_ms") == 15.23 && r.getAs[Double]("ttfb_ms") == 4.0)
    assert(r.getAs[String]("cache_status") == "HIT" && r.getAs[String]("cmcd_text") == "ot=i")
    val pass = fastly("""{"timestamp": "1714557601", "status": 200, "fastly_info_state": "PASS"}""")
    assert(pass.getAs[String]("cache_status") == "OTHER")
    // The real name wins over vsa's where both are given.
    assert(
      fastly("""{"start_time": "1", "timestamp": "2", "status": 200}""")
        .getAs[java.sql.Timestamp]("timestamp")
        .getTime == 1000L
    )
  }

  test("Fastly: a field map replaces a name's keys; a name the preset lacks is an error") {
    val line = """{"ts": "1714557602.5", "code": "200", "dc": "AMS", "start_time": "1"}"""
    val r = fastly(line, ", map('timestamp', 'ts', 'status', 'code', 'pop', 'dc')")
    assert(instant(r) == Instant.parse("2024-05-01T10:00:02.500Z"))
    assert(r.getAs[Int]("status") == 200 && r.getAs[String]("pop") == "AMS")
    val error = intercept[AnalysisException](fastly(line, ", map('elapsed', 'x')"))
    assert(error.getMessage.contains("fastly field map: unknown names ['elapsed']; names are timestamp, client_ip"))
    assert(intercept[AnalysisException](fastly(line, ", map('pop', col1)")).getMessage.contains("must be a constant"))
    assert(fastly(line, ", map('pop', CAST(NULL AS string))").getAs[String]("pop") == null) // a null key: not given
  }

  test("interpreted and generated code agree; a null line gives null") {
    val line = """{"timestamp": 1700000000, "status_code": 206, "status": 206}"""
    for (parsed <- Seq(ParseEdgecast(Literal(line)), new ParseFastly(Literal(line))))
      assert(parsed.eval(InternalRow.empty).asInstanceOf[InternalRow].getInt(LineRequest.Status) == 206)
    val names = Literal.create(Array("timestamp", "sc-status"))
    val realtimeRow = ParseCloudFrontRealtime(Literal("1700000000\t206"), names).eval(InternalRow.empty)
    assert(realtimeRow.asInstanceOf[InternalRow].getInt(LineRequest.Status) == 206)
    for (
      f <- Seq("vsa_parse_edgecast(NULL)", "vsa_parse_fastly(NULL)", "vsa_parse_cloudfront_realtime(NULL, array('a'))")
    )
      assert(spark.sql(s"SELECT $f IS NULL").first().getBoolean(0), f)
  }

  // --- One rule set -------------------------------------------------------------------------------------------------

  /** A line of each format with the given texts (`-`: none) of the timestamp (a valid one unless `badTime`), status,
    * bytes, time to first byte and download time, and the SQL of its parser.
    */
  private case class Values(
      missingTime: Boolean,
      badTime: Boolean,
      status: String,
      bytes: String,
      ttfb: String,
      download: String
  )

  private def json(pairs: (String, String)*): String =
    pairs.filter(_._2 != "-").map { case (k, v) => s""""$k": "$v"""" }.mkString("{", ", ", "}")

  private def epoch(v: Values): String = if (v.missingTime) "-" else if (v.badTime) "yesterday" else "1700000000.5"

  private val Formats: Map[String, Values => Row] = Map(
    "cloudfront" -> { v =>
      val date = if (v.missingTime) "-" else if (v.badTime) "24/11/2025" else "2025-11-24"
      val names = Array("date", "time", "sc-status", "sc-bytes", "time-to-first-byte", "time-taken")
      query(
        "vsa_parse_cloudfront(col1, col2)",
        Seq(date, "16:18:30", v.status, v.bytes, v.ttfb, v.download).mkString("\t"),
        names
      )
    },
    "cloudfront-realtime" -> { v =>
      realtime(
        Seq(epoch(v), v.status, v.bytes, v.ttfb, v.download).mkString("\t"),
        Seq("timestamp", "sc-status", "sc-bytes", "time-to-first-byte", "time-taken")
      )
    },
    "akamai-ds2" -> { v =>
      val line = json(
        "reqTimeSec" -> epoch(v),
        "statusCode" -> v.status,
        "bytes" -> v.bytes,
        "timeToFirstByte" -> v.ttfb,
        "transferTimeMSec" -> v.download
      )
      query("vsa_parse_akamai(col1)", line)
    },
    "edgecast" -> { v =>
      edgecast(
        json(
          "timestamp" -> epoch(v),
          "status_code" -> v.status,
          "bytes_out" -> v.bytes,
          "prewrite_time" -> v.ttfb,
          "total_time" -> v.download
        )
      )
    },
    "fastly" -> { v =>
      fastly(
        json(
          "start_time" -> epoch(v),
          "resp_status" -> v.status,
          "resp_bytes" -> v.bytes,
          "time_to_first_byte" -> v.ttfb,
          "time_elapsed" -> v.download
        )
      )
    },
    "nginx" -> { v =>
      val time =
        if (v.missingTime) "-" else if (v.badTime) "24/Nov/2025:25:61:00 +0000" else "24/Nov/2025:16:18:30 +0000"
      query(
        "vsa_parse_nginx(col1)",
        s"""203.0.113.7 - - [$time] "GET /a.ts HTTP/1.1" ${v.status} ${v.bytes} "-" "Player" rt=${v.download} ut="${v.ttfb}""""
      )
    }
  )

  private val Good = Values(missingTime = false, badTime = false, "200", "800", "0.02", "0.08")

  test("every format accepts the same good values") {
    for ((format, parse) <- Formats) assert(verdict(parse(Good)) == ((null, null)), format)
  }

  test("every format rejects the same bad values, with the same reason and detail") {
    val cases = Seq(
      Good.copy(missingTime = true) -> (("missing_field", "missing: timestamp")),
      Good.copy(ttfb = "NaN", download = "NaN") -> (("bad_type", "ttfb_ms is not a number: NaN"))
    ) ++ Seq("NaN", "Infinity", "-Infinity", "inf", "1e999").flatMap { value =>
      Seq(
        Good.copy(ttfb = value) -> (("bad_type", s"ttfb_ms is not a number: $value")),
        Good.copy(download = value) -> (("bad_type", s"download_ms is not a number: $value"))
      )
    } ++ Seq("fast", "1,5").map(value =>
      Good.copy(download = value) -> (("bad_type", s"download_ms is not a number: $value"))
    )
    for ((format, parse) <- Formats; (values, expected) <- cases)
      assert(verdict(parse(values)) == expected, s"$format $values")
    for ((format, parse) <- Formats)
      assert(verdict(parse(Good.copy(badTime = true)))._1 == "bad_timestamp", format)
  }

  test(
    "every format but nginx (whose line is malformed without a 3-digit status and a number of bytes) rejects the same bad status and bytes"
  ) {
    val cases = Seq(
      Good.copy(status = "-") -> (("missing_field", "missing: status")),
      Good.copy(status = "2xx") -> (("bad_type", "status is not a number: 2xx")),
      Good.copy(status = "1.5") -> (("bad_type", "status is not a number: 1.5")),
      Good.copy(bytes = "many") -> (("bad_type", "bytes is not a number: many")),
      Good.copy(status = "2xx", bytes = "many") -> (("bad_type", "status is not a number: 2xx")),
      Good.copy(missingTime = true, status = "2xx") -> (("missing_field", "missing: timestamp"))
    )
    for ((format, parse) <- Formats - "nginx"; (values, expected) <- cases)
      assert(verdict(parse(values)) == expected, s"$format $values")
    assert(verdict(Formats("nginx")(Good.copy(status = "2xx")))._1 == "malformed_line")
  }
}
