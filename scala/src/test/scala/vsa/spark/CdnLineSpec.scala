package vsa.spark

import org.apache.spark.sql.Row
import org.scalatest.funsuite.AnyFunSuite

/** The CDN line parsers of the jar (`vsa_parse_cloudfront`): values, checks and the reasons of rejected lines. */
class CdnLineSpec extends AnyFunSuite with LocalSpark {

  private val Names = Seq(
    "date",
    "time",
    "x-edge-location",
    "sc-bytes",
    "c-ip",
    "cs-method",
    "cs(Host)",
    "cs-uri-stem",
    "sc-status",
    "cs(Referer)",
    "cs(User-Agent)",
    "cs-uri-query",
    "cs(Cookie)",
    "x-edge-result-type",
    "x-edge-request-id",
    "x-host-header",
    "cs-protocol",
    "cs-bytes",
    "time-taken",
    "x-forwarded-for",
    "ssl-protocol",
    "ssl-cipher",
    "x-edge-response-result-type",
    "cs-protocol-version",
    "fle-status",
    "fle-encrypted-fields",
    "c-port",
    "time-to-first-byte"
  )

  private val Good = Seq(
    "2025-11-24",
    "16:18:30",
    "FRA56-P4",
    "800873",
    "81.2.69.160",
    "GET",
    "d111.cloudfront.net",
    "/live/seg_1.m4s",
    "206",
    "-",
    "Mozilla/5.0%2520(X11)",
    "CMCD=br%3D1600",
    "-",
    "RefreshHit",
    "id",
    "video.example.com",
    "https",
    "200",
    "0.498",
    "-",
    "TLSv1.3",
    "TLS_AES_128_GCM_SHA256",
    "Hit",
    "HTTP/2.0",
    "-",
    "-",
    "50123",
    "0.07"
  )

  private def parse(fields: Seq[String], names: Seq[String] = Names): Row =
    spark
      .sql(
        "SELECT vsa_parse_cloudfront(l, n) AS r FROM VALUES (?, ?) AS v(l, n)",
        Array[Any](fields.mkString("\t"), names.toArray)
      )
      .first()
      .getStruct(0)

  private def replaced(name: String, value: String): Seq[String] = Good.updated(Names.indexOf(name), value)

  test("a line's fields, by the names of its list") {
    val r = parse(Good)
    assert(r.getAs[java.sql.Timestamp]("timestamp").toInstant == java.time.Instant.parse("2025-11-24T16:18:30Z"))
    assert(r.getAs[String]("client_ip") == "81.2.69.160")
    assert(r.getAs[String]("user_agent") == "Mozilla/5.0 (X11)") // encoded twice
    assert(r.getAs[String]("host") == "video.example.com") // x-host-header, not the distribution's domain
    assert(r.getAs[String]("path") == "/live/seg_1.m4s")
    assert(r.getAs[String]("query") == "CMCD=br%3D1600")
    assert(r.getAs[Int]("status") == 206)
    assert(r.getAs[Long]("bytes") == 800873L)
    assert(r.getAs[Double]("ttfb_ms") == 70.0)
    assert(r.getAs[Double]("download_ms") == 498.0)
    assert(r.getAs[String]("cache_status") == "HIT") // RefreshHit
    assert(r.getAs[String]("pop") == "FRA56-P4")
    assert(r.isNullAt(r.fieldIndex("reason")) && r.isNullAt(r.fieldIndex("detail")))
  }

  test("fields in another order, missing ones null, dashes null") {
    val order = Names.reverse
    val r = parse(Good.reverse.updated(order.indexOf("x-host-header"), "-"), order)
    assert(r.getAs[String]("host") == "d111.cloudfront.net")
    assert(r.getAs[Int]("status") == 206)
    val short = parse(Good.take(23), Names) // the 2016 layout: no port, no time to first byte
    assert(short.isNullAt(short.fieldIndex("ttfb_ms")) && short.isNullAt(short.fieldIndex("reason")))
  }

  test("the reason and detail of a rejected line, the first check that fails") {
    def rejected(fields: Seq[String]): (String, String) = {
      val r = parse(fields)
      (r.getAs[String]("reason"), r.getAs[String]("detail"))
    }
    assert(
      rejected(Good.take(12)) ==
        ("bad_field_count", "12 tab-separated fields, fewer than the oldest layout's 23 (its field list has 28)")
    )
    assert(rejected(replaced("time", "-")) == ("missing_field", "missing: timestamp"))
    assert(rejected(replaced("sc-status", "-")) == ("missing_field", "missing: status"))
    assert(rejected(replaced("date", "24/11/2025")) == ("bad_timestamp", "not a timestamp: 24/11/2025T16:18:30Z"))
    assert(rejected(replaced("time", "25:61:00")) == ("bad_timestamp", "not a timestamp: 2025-11-24T25:61:00Z"))
    assert(rejected(replaced("sc-status", "2xx")) == ("bad_type", "status is not a number: 2xx"))
    assert(rejected(replaced("sc-status", "1.5")) == ("bad_type", "status is not a number: 1.5"))
    assert(rejected(replaced("sc-bytes", "many")) == ("bad_type", "bytes is not a number: many"))
    assert(rejected(replaced("time-taken", "slow")) == ("bad_type", "download_ms is not a number: slow"))
  }

  test("a duration that is NaN or infinite, or overflows in milliseconds, is not a number") {
    def rejected(fields: Seq[String]): (String, String) = {
      val r = parse(fields)
      (r.getAs[String]("reason"), r.getAs[String]("detail"))
    }
    for (value <- Seq("NaN", "Infinity", "-Infinity", "inf", "1e999", "1e307")) {
      assert(rejected(replaced("time-taken", value)) == ("bad_type", s"download_ms is not a number: $value"))
      assert(rejected(replaced("time-to-first-byte", value)) == ("bad_type", s"ttfb_ms is not a number: $value"))
    }
  }

  test("URL decoding: a literal plus stays, malformed escapes keep the text, UTF-8 escapes decode") {
    def agent(text: String): String = parse(replaced("cs(User-Agent)", text)).getAs[String]("user_agent")
    assert(agent("a+b%20c") == "a+b c")
    assert(agent("100%zz") == "100%zz")
    assert(agent("caf%C3%A9") == "café")
    assert(agent("User-Agent:%20Player/1") == "Player/1")
  }

  test("a null line or list gives null") {
    val r = spark.sql("SELECT vsa_parse_cloudfront(NULL, array('date')) IS NULL").first()
    assert(r.getBoolean(0))
  }

  private def nginx(line: String): Row =
    spark.sql("SELECT vsa_parse_nginx(l) AS r FROM VALUES (?) AS v(l)", Array[Any](line)).first().getStruct(0)

  private val Combined =
    "203.0.113.7 - - [24/Nov/2025:17:18:30 +0100] \"GET /v/seg.ts?CMCD=br%3D800 HTTP/1.1\" 200 800 " +
      "\"https://p.example/\" \"Player \\\"quoted\\\"\""

  test("nginx: combined, extended in any order, quoted or not, several upstreams") {
    val plain = nginx(Combined)
    assert(plain.getAs[java.sql.Timestamp]("timestamp").toInstant == java.time.Instant.parse("2025-11-24T16:18:30Z"))
    assert(plain.getAs[String]("client_ip") == "203.0.113.7")
    assert(plain.getAs[String]("path") == "/v/seg.ts" && plain.getAs[String]("query") == "CMCD=br%3D800")
    assert(plain.getAs[String]("user_agent") == "Player \\\"quoted\\\"") // as logged, escapes kept
    assert(plain.isNullAt(plain.fieldIndex("ttfb_ms")) && plain.isNullAt(plain.fieldIndex("reason")))
    val extended = nginx(Combined + " cs=HIT ut=\"0.100, 0.300 : 0.050\" rt=\"0.600\"")
    assert(extended.getAs[Double]("ttfb_ms") == 100.0 && extended.getAs[Double]("download_ms") == 600.0)
    assert(extended.getAs[String]("cache_status") == "HIT")
    val upstreamOnly = nginx(Combined + " ut=\"0.100, 0.300\" uht=\"0.020, 0.040\"")
    assert(upstreamOnly.getAs[Double]("ttfb_ms") == 20.0 && upstreamOnly.getAs[Double]("download_ms") == 400.0)
  }

  test("nginx: a malformed request keeps the line, without a path") {
    val r = nginx("203.0.113.7 - - [24/Nov/2025:17:18:30 +0100] \"\\x16\\x03\" 400 0 \"-\" \"-\"")
    assert(r.isNullAt(r.fieldIndex("path")) && r.getAs[Int]("status") == 400 && r.isNullAt(r.fieldIndex("reason")))
  }

  test("nginx: the reason of a rejected line") {
    def rejected(line: String): (String, String) = {
      val r = nginx(line); (r.getAs[String]("reason"), r.getAs[String]("detail"))
    }
    assert(rejected("not nginx") == ("malformed_line", "not an nginx combined (or extended) log line"))
    assert(rejected(Combined.replace("Nov", "Foo")) == ("bad_timestamp", "not a timestamp: 24/Foo/2025:17:18:30 +0100"))
    assert(rejected(Combined + " rt=slow") == ("bad_type", "download_ms is not a number: slow"))
    for (value <- Seq("NaN", "Infinity", "-Infinity", "1e999")) {
      assert(rejected(Combined + s" rt=$value") == ("bad_type", s"download_ms is not a number: $value"))
      assert(rejected(Combined + s" ut=$value") == ("bad_type", s"ttfb_ms is not a number: $value"))
    }
    // Upstream times summed to a download time: an infinite one makes the sum infinite.
    assert(
      rejected(Combined + " uht=0.1 ut=\"0.1, Infinity\"") == ("bad_type", "download_ms is not a number: Infinity")
    )
  }
}
