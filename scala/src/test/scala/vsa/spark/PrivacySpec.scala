package vsa.spark

import org.scalatest.funsuite.AnyFunSuite
import vsa.spark.expressions.{GeoIp, IsJsonObject, MaskIpsInText}
import org.apache.spark.unsafe.types.UTF8String

/** Addresses as clients, proxies and hostile senders write them, and the JSON check of player records. */
class PrivacySpec extends AnyFunSuite with LocalSpark {

  test("vsa_mask_ips_in_text masks addresses with ports, brackets, zones, escapes and glued to words") {
    val cases = Seq(
      "203.0.113.155:8443" -> "203.0.113.0:8443",
      "peer [2001:db8:1:2::1]:443" -> "peer [2001:db8:1::]:443",
      "fe80::1%eth0" -> "fe80::%eth0",
      "203.0.113.155, 198.51.100.7" -> "203.0.113.0, 198.51.100.0",
      "ip=%5B2001:db8:1:2::1%5D&x=1" -> "ip=%5B2001:db8:1::%5D&x=1",
      "a=%2012.1.2.3&b=%12.1.2.3" -> "a=%2012.1.2.0&b=%12.1.2.0",
      "\\u00e9203.0.113.7 \\u00e92001:db8:1:2::1" -> "\\u00e9203.0.113.0 \\u00e92001:db8:1::",
      "{\"nested\": \"\\u00e939.30.175.81\"}" -> "{\"nested\": \"\\u00e939.30.175.0\"}",
      "Chrome/999.1.2.3" -> "Chrome/999.1.2.3",
      "id203.0.113.155x" -> "id203.0.113.0x",
      "net 2001:db8:1:2:: ends:" -> "net 2001:db8:1:: ends:",
      "ff:203.0.113.155:80" -> "ff:203.0.113.0:80",
      "192.88.99.2092001:4:112:da35::1" -> "192.88.99.02001:4:112::",
      "2001:4:112:da35:1890:f822:3dbb:6752:8443 up" -> "2001:4:112:::8443 up",
      "oid 1.3.6.1.4.1, Chrome/120.0.6099.109, 12:30:45, AppleCoreMedia/1.0.0.21A5326a" ->
        "oid 1.3.6.1.4.1, Chrome/120.0.6099.109, 12:30:45, AppleCoreMedia/1.0.0.21A5326a"
    )
    inBothCodegenModes { _ =>
      val input = spark.createDataFrame(cases.map(c => Tuple1(c._1))).toDF("t")
      assert(input.selectExpr("vsa_mask_ips_in_text(t)").collect().map(_.getString(0)).toSeq == cases.map(_._2))
    }
  }

  test("vsa_mask_ips_in_text closes the gaps: 6to4, %3A, a.b.c.d.port, host names dotted or dashed") {
    val cases = Seq(
      // 6to4 carries 203.0.113.7 in its second and third groups: /40, the IPv4 /24.
      "net 2002:cb00:7107::/48 and 2002:cb00:7107:1::1" -> "net 2002:cb00:7100::/48 and 2002:cb00:7100::",
      // Colons percent-encoded in a query, either case; other escapes around kept.
      "/v?ip=2001%3Adb8%3A1%3A2%3A%3A1&b=%5B2001%3adb8%3A1%3A2%3A%3A1%5D%3A443" ->
        "/v?ip=2001%3Adb8%3A1%3A%3A&b=%5B2001%3Adb8%3A1%3A%3A%5D%3A443",
      "q=%3A%3Affff%3A203.0.113.7" -> "q=203.0.113.0",
      // a.b.c.d.port (tcpdump, netstat), IPv6 too.
      "IP 203.0.113.7.52311 > 198.51.100.2.443: Flags" -> "IP 203.0.113.0.52311 > 198.51.100.0.443: Flags",
      "IP6 2001:db8:1:2::1.443 >" -> "IP6 2001:db8:1::.443 >",
      // A quad beginning a host name, a hex letter or not after its dot, maybe backwards: first and last zeroed.
      "from 7.113.0.203.bc.googleusercontent.com" -> "from 0.113.0.0.bc.googleusercontent.com",
      "ptr 7.113.0.203.in-addr.arpa" -> "ptr 0.113.0.0.in-addr.arpa",
      // Dashed in a host name.
      "ec2-203-0-113-7.compute-1.amazonaws.com" -> "ec2-0-0-113-0.compute-1.amazonaws.com",
      "host 203-0-113-7.example, ip-10-1-2-3" -> "host 0-0-113-0.example, ip-0-1-2-0",
      // Not addresses: longer dotted or dashed numbers, dates, a UUID, versions, times.
      "oid 1.3.6.1.4.1.2, 2025-11-24-10-20, 2025-11-24, 550e8400-e29b-41d4-a716-446655440000, 1-2-3-4-5" ->
        "oid 1.3.6.1.4.1.2, 2025-11-24-10-20, 2025-11-24, 550e8400-e29b-41d4-a716-446655440000, 1-2-3-4-5",
      "Chrome/120.0.6099.129 AppleCoreMedia/1.0.0.21A5326a at 12:30:45, v1-256-3-4" ->
        "Chrome/120.0.6099.129 AppleCoreMedia/1.0.0.21A5326a at 12:30:45, v1-256-3-4"
    )
    inBothCodegenModes { _ =>
      val input = spark.createDataFrame(cases.map(c => Tuple1(c._1))).toDF("t")
      assert(input.selectExpr("vsa_mask_ips_in_text(t)").collect().map(_.getString(0)).toSeq == cases.map(_._2))
    }
  }

  test("vsa_mask_ip keeps the IPv4 /24 of a 6to4 address, not all of it") {
    val rows = spark.sql("SELECT vsa_mask_ip('2002:cb00:7107::1'), vsa_mask_ip('[2002:cb00:7107:5::9]:443')").first()
    assert(rows.getString(0) == "2002:cb00:7100::" && rows.getString(1) == "2002:cb00:7100::")
  }

  test("text without an address comes back as the same object; invalid UTF-8 around an address is kept") {
    val plain = UTF8String.fromString("a-session-id 550e8400-e29b-41d4-a716-446655440000")
    assert(MaskIpsInText.mask(plain) eq plain)
    val bytes = Array[Byte](0xe9.toByte) ++ "203.0.113.155".getBytes ++ Array[Byte](0xff.toByte)
    val masked = MaskIpsInText.mask(UTF8String.fromBytes(bytes)).getBytes
    assert(masked.toSeq == (Array[Byte](0xe9.toByte) ++ "203.0.113.0".getBytes ++ Array[Byte](0xff.toByte)).toSeq)
  }

  test("vsa_mask_ips_in_text masks the keys and values of a string map") {
    inBothCodegenModes { _ =>
      val row = spark
        .sql("SELECT vsa_mask_ips_in_text(map('x_forwarded_for', '203.0.113.155, 10.1.2.3', '198.51.100.7', 'k'))")
        .first()
      assert(
        row.getMap[String, String](0).toMap == Map("x_forwarded_for" -> "203.0.113.0, 10.1.2.0", "198.51.100.0" -> "k")
      )
    }
  }

  test("vsa_mask_ip and vsa_geoip take a client address with a port, brackets, a zone, or first in a list") {
    spark.conf.set(GeoIp.CityDbKey, ThirdPartyData.mmdb("GeoIP2-City-Test.mmdb"))
    try {
      val rows = spark
        .sql(
          """SELECT vsa_mask_ip(ip), vsa_geoip(ip).city FROM VALUES ('81.2.69.142:8443'), ('[2001:218::1]:443'),
            |  ('2001:218::1%eth0'), ('81.2.69.142, 10.0.0.1'), (' 81.2.69.142 '), ('localhost:80'), ('[::1') AS t(ip)""".stripMargin
        )
        .collect()
        .map(r => (Option(r.getString(0)), Option(r.getString(1))))
        .toSeq
      assert(
        rows == Seq(
          (Some("81.2.69.0"), Some("London")),
          (Some("2001:218::"), None),
          (Some("2001:218::"), None),
          (Some("81.2.69.0"), Some("London")),
          (Some("81.2.69.0"), Some("London")),
          (None, None),
          (None, None)
        )
      )
    } finally spark.conf.unset(GeoIp.CityDbKey)
  }

  test("vsa_is_json_object: one object and whitespace only") {
    val cases = Seq(
      """{"a": 1}""" -> true,
      """  {"a": {"b": [1, "}"]}, "c": "\"}"}  """ -> true,
      """{"a":1}{"b":2}""" -> false,
      """{"a":1} xx""" -> false,
      """{"a":1}, {"b":2}""" -> false,
      """{"a":1""" -> false,
      """[{"a":1}]""" -> false,
      "" -> false
    )
    for ((text, expected) <- cases) assert(IsJsonObject.check(UTF8String.fromString(text)) == expected, text)
    inBothCodegenModes { _ =>
      val input = spark.createDataFrame(cases.map(c => Tuple1(c._1))).toDF("t")
      assert(input.selectExpr("vsa_is_json_object(t)").collect().map(_.getBoolean(0)).toSeq == cases.map(_._2))
    }
  }
}
