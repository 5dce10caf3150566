package vsa.spark

import org.apache.spark.sql.Row
import org.scalatest.funsuite.AnyFunSuite

class FunctionCatalogSpec extends AnyFunSuite with LocalSpark {

  test("every catalog entry is registered with the session and documented") {
    for (entry <- FunctionCatalog.entries) {
      assert(spark.catalog.functionExists(entry.name), entry.name)
      val usage = spark.sql(s"DESCRIBE FUNCTION ${entry.name}").collect().map(_.getString(0)).mkString("\n")
      assert(usage.contains(entry.name) && usage.contains("Usage"), usage)
    }
  }

  test("every catalog example runs and gives the result it shows") {
    spark.conf.set(vsa.spark.expressions.GeoIp.CityDbKey, ThirdPartyData.mmdb("GeoIP2-City-Test.mmdb"))
    try
      for (entry <- FunctionCatalog.entries) {
        val example = entry.info.getExamples.trim.stripPrefix("Examples:").trim
        val (query, expected) = example.stripPrefix("> ").split(";\n", 2) match {
          case Array(q, e) => (q.replace("_FUNC_", entry.name), e.trim)
        }
        assert(spark.sql(query).first().get(0).toString == expected, s"${entry.name}: $query")
      }
    finally spark.conf.unset(vsa.spark.expressions.GeoIp.CityDbKey)
  }

  test("vsa_parse_ua from SQL: a real agent, null, empty and garbage") {
    val rows = spark
      .sql(
        """SELECT vsa_parse_ua(ua) AS p FROM VALUES
          |  ('Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:121.0) Gecko/20100101 Firefox/121.0'),
          |  (NULL), (''), ('%%%garbage%%%') AS t(ua)""".stripMargin
      )
      .selectExpr("p.browser_family", "p.browser_major", "p.os_family", "p.device_type")
      .collect()
    assert(rows(0) == Row("Firefox", "121", "Windows", "desktop"))
    assert(rows(1) == Row(null, null, null, null))
    assert(rows(2) == Row("Other", null, "Other", "other"))
    assert(rows(3) == Row("Other", null, "Other", "other"))
  }

  test("vsa_parse_ua's struct has the field names of tables.md") {
    val fields = spark
      .sql("SELECT vsa_parse_ua('x') AS p")
      .schema("p")
      .dataType
      .asInstanceOf[org.apache.spark.sql.types.StructType]
    assert(fields.fieldNames.toSeq == vsa.spark.useragent.ParsedUserAgent.FieldNames)
  }

  test("a wrong number of arguments is an analysis error naming the function") {
    val error = intercept[org.apache.spark.sql.AnalysisException](spark.sql("SELECT vsa_parse_ua('a', 'b')").collect())
    assert(error.getMessage.contains("vsa_parse_ua"))
  }

  test("vsa_mask_ip truncates IPv4 to /24 and IPv6 to /48, and never resolves names") {
    val masked = spark
      .sql(
        """SELECT vsa_mask_ip(ip) FROM VALUES ('203.0.113.77'), ('2001:db8:85a3:8d3:1319:8a2e:370:7348'),
          |  ('::1'), ('localhost'), ('999.1.1.1'), (''), (NULL) AS t(ip)""".stripMargin
      )
      .collect()
      .map(r => Option(r.getString(0)))
      .toSeq
    assert(masked == Seq(Some("203.0.113.0"), Some("2001:db8:85a3::"), Some("::"), None, None, None, None))
  }

  test("vsa_map_without drops the listed keys, keeps the rest and null values, generated or interpreted") {
    val query =
      """SELECT vsa_map_without(m, array('ts', 'event_id')) AS kept FROM VALUES
        |  (map('ts', '1', 'event_id', 'e', 'mood', 'happy', 'seat', NULL)),
        |  (map('ts', '1')), (map('x', 'y')), (CAST(NULL AS MAP<STRING, STRING>)) AS t(m)""".stripMargin
    inBothCodegenModes { codegen =>
      val kept = spark.sql(query).collect().map(r => Option(r.getMap[String, String](0)).map(_.toMap)).toSeq
      assert(
        kept == Seq(Some(Map("mood" -> "happy", "seat" -> null)), Some(Map()), Some(Map("x" -> "y")), None),
        codegen
      )
    }
    val error = intercept[org.apache.spark.sql.AnalysisException](
      spark.sql("SELECT vsa_map_without(map('a', 'b'), array(k)) FROM VALUES ('a') AS t(k)").collect()
    )
    assert(error.getMessage.contains("constant array"))
  }

  test("vsa_map_without prefixes the keys it keeps, generated or interpreted") {
    val query =
      """SELECT vsa_map_without(m, array('sid'), 'cmcd_') AS kept FROM VALUES
        |  (map('sid', 's', 'bl', '2500', 'su', 'true')), (map('sid', 's')), (map()),
        |  (CAST(NULL AS MAP<STRING, STRING>)) AS t(m)""".stripMargin
    inBothCodegenModes { codegen =>
      val kept = spark.sql(query).collect().map(r => Option(r.getMap[String, String](0)).map(_.toMap)).toSeq
      assert(kept == Seq(Some(Map("cmcd_bl" -> "2500", "cmcd_su" -> "true")), Some(Map()), Some(Map()), None), codegen)
    }
    val error = intercept[org.apache.spark.sql.AnalysisException](
      spark.sql("SELECT vsa_map_without(map('a', 'b'), array('x'), p) FROM VALUES ('a') AS t(p)").collect()
    )
    assert(error.getMessage.contains("constant string"))
  }

  test("vsa_json_object_fields is from_json's map of one JSON object, and null for anything else, generated or not") {
    val records = Seq(
      """{"event_id": "e1", "ts": 1700000000123, "f": 1.7961112862005e12, "b": true, "n": null, "o": {"x": [1, "y"]}}""",
      "  {\"a\": \"\\u00e9\\\"q\\\"\", \"a\": \"dup\"}  ", // JSON escapes and a duplicate key
      """{}""",
      """{"a": 1}{"b": 2}""",
      """{"a": 1} xx""",
      """[1, 2]""",
      """"just a string"""",
      """{"a": """,
      """{"a": tru}""",
      """not json at all""",
      null
    )
    val session = spark
    import session.implicits._
    val table = records.map(Tuple1(_)).toDF("raw")
    val expected = table
      .selectExpr("CASE WHEN vsa_is_json_object(raw) THEN from_json(raw, 'map<string,string>') END AS m")
      .collect()
      .map(_.get(0))
      .toSeq
    assert(expected.count(_ != null) == 3)
    inBothCodegenModes { codegen =>
      val got = table.selectExpr("vsa_json_object_fields(raw) AS m").collect().map(_.get(0)).toSeq
      assert(got == expected, codegen)
    }
  }

  test("vsa_mask_ips_in_text masks IPv4 and IPv6 addresses inside text, and nothing else") {
    val cases = Seq(
      """{"client_ip":"81.2.69.142","ts":"12:30:45"}""" -> """{"client_ip":"81.2.69.0","ts":"12:30:45"}""",
      "from 2001:db8:85a3:8d3:1319:8a2e:370:7348." -> "from 2001:db8:85a3::.",
      "peer [2a02:c7f:1234:5678::1]:443 ok" -> "peer [2a02:c7f:1234::]:443 ok",
      "::ffff:81.2.69.142 mapped" -> "81.2.69.0 mapped",
      "version 1.2 build cafe:beef, v2.3.4.5x, 999.1.1.1" -> "version 1.2 build cafe:beef, v2.3.4.0x, 999.1.1.1",
      "" -> ""
    )
    inBothCodegenModes { codegen =>
      val input = spark.createDataFrame(cases.map(c => Tuple1(c._1))).toDF("t")
      val masked = input.selectExpr("vsa_mask_ips_in_text(t)").collect().map(_.getString(0)).toSeq
      assert(masked == cases.map(_._2), codegen)
    }
  }
}
