package vsa.spark

import org.apache.spark.sql.Row
import org.apache.spark.sql.types.StringType
import org.apache.spark.unsafe.types.UTF8String
import org.scalatest.funsuite.AnyFunSuite
import vsa.spark.expressions.GeoIp

class GeoIpSpec extends AnyFunSuite with LocalSpark {

  private def withDatabases[T](city: String, asn: String)(body: => T): T = {
    spark.conf.set(GeoIp.CityDbKey, city)
    spark.conf.set(GeoIp.AsnDbKey, asn)
    try body
    finally {
      spark.conf.unset(GeoIp.CityDbKey)
      spark.conf.unset(GeoIp.AsnDbKey)
    }
  }

  private def geoip(ips: String*): Seq[Row] = {
    val values = ips.map(ip => s"('$ip')").mkString(", ")
    spark.sql(s"SELECT g.* FROM (SELECT vsa_geoip(ip) AS g FROM VALUES $values AS t(ip))").collect().toSeq
  }

  private val valid = (ThirdPartyData.mmdb("GeoIP2-City-Test.mmdb"), ThirdPartyData.mmdb("GeoLite2-ASN-Test.mmdb"))

  test("known addresses: London, Milton WA, an IPv6 network, an ASN") {
    withDatabases(valid._1, valid._2) {
      val rows = geoip("81.2.69.142", "216.160.83.56", "2001:218::1", "1.128.0.0")
      assert(rows(0) == Row("GB", "ENG", "London", 51.5142, -0.0931, null, null))
      // country is the record's country, not registered_country (GB here), as Python geoip2 gives it
      assert(rows(1) == Row("US", "WA", "Milton", 47.2513, -122.3149, 209L, null))
      assert(rows(2) == Row("JP", null, null, 35.68536, 139.75309, null, null))
      val asn = rows(3)
      assert(asn.getLong(5) == 1221L && asn.getString(6) == "Telstra Pty Ltd")
    }
  }

  test("a long input is answered but not cached: the cache's keys stay short") {
    val (city, asn) = (Some(valid._1), Some(valid._2))
    val geoip = GeoIp(org.apache.spark.sql.catalyst.expressions.Literal(null, StringType), city, asn)
    val answers = GeoIp.answersFor(city, asn)
    val short = UTF8String.fromString("81.2.69.142")
    val long = UTF8String.fromString("81.2.69.142, " + "10.0.0.1, " * 6000) // a 60 KB X-Forwarded-For
    assert(geoip.answer(long).getUTF8String(2).toString == "London")
    assert(answers.get(long) == null)
    assert(geoip.answer(short).getUTF8String(2).toString == "London")
    assert(answers.get(short) != null)
  }

  test("garbage, host names and unknown addresses give null fields, never a DNS lookup") {
    withDatabases(valid._1, valid._2) {
      val rows = geoip("localhost", "example.com", "", "999.1.1.1", "10.0.0.1", "::1")
      rows.foreach(r => assert(r.toSeq.forall(_ == null), r))
      assert(spark.sql("SELECT vsa_geoip(NULL)").first().isNullAt(0))
    }
  }

  test("no database configured is an analysis-time error naming the conf keys") {
    val error = intercept[IllegalArgumentException](spark.sql("SELECT vsa_geoip('81.2.69.142')"))
    assert(error.getMessage.contains(GeoIp.CityDbKey))
  }

  test("a missing file is an error naming it, raised when the query is analysed") {
    withDatabases("/nonexistent/GeoIP2-City.mmdb", valid._2) {
      val error = intercept[IllegalArgumentException](spark.sql("SELECT vsa_geoip('81.2.69.142')"))
      assert(error.getMessage.contains("/nonexistent/GeoIP2-City.mmdb") && error.getMessage.contains("does not exist"))
    }
  }

  test("a database of the wrong kind is an error") {
    withDatabases(valid._2, valid._2) {
      val error = intercept[IllegalArgumentException](spark.sql("SELECT vsa_geoip('81.2.69.142')"))
      assert(error.getMessage.contains("not a City database"), error.getMessage)
    }
  }

  for (
    broken <- Seq(
      "GeoIP2-City-Test-Broken-Double-Format.mmdb",
      "GeoIP2-City-Test-Invalid-Node-Count.mmdb",
      "MaxMind-DB-test-broken-pointers-24.mmdb",
      "MaxMind-DB-test-broken-search-tree-24.mmdb"
    )
  )
    test(s"corrupt $broken is an error naming the file when the query is analysed") {
      withDatabases(ThirdPartyData.mmdb(broken), valid._2) {
        val error = intercept[IllegalArgumentException](spark.sql("SELECT vsa_geoip('81.2.69.142')"))
        info(error.getMessage)
        assert(error.getMessage.contains(broken), error.getMessage)
        assert(error.getMessage.contains("corrupt") || error.getMessage.contains("cannot be opened"), error.getMessage)
      }
    }
}
