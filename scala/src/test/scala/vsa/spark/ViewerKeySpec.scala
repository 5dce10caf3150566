package vsa.spark

import org.scalatest.funsuite.AnyFunSuite
import vsa.spark.expressions.ViewerKey

class ViewerKeySpec extends AnyFunSuite with LocalSpark {
  private val Secret = "s3cret-in-no-plan"
  // vsa_viewer_key('viewer-1', 's3cret'): HMAC-SHA256, first 16 bytes, hex (the catalog's example).
  private val ViewerOne = "f0142901aef8ce1e659f1c668359da9c"

  private def withSecret[T](secret: String)(body: => T): T = {
    spark.conf.set(ViewerKey.SecretKey, secret)
    try body
    finally spark.conf.unset(ViewerKey.SecretKey)
  }

  private def keysInJson(text: String): String =
    spark
      .sql("SELECT vsa_viewer_keys_in_json(t, 's3cret') FROM VALUES (:t) AS v(t)", Map("t" -> text))
      .first()
      .getString(0)

  test("vsa_viewer_key is HMAC-SHA256 cut to 16 bytes, hex; null stays null; the secret must be a constant") {
    val rows = spark.sql("SELECT vsa_viewer_key(id, 's3cret') FROM VALUES ('viewer-1'), (NULL) AS t(id)").collect()
    assert(rows.map(_.getString(0)).toSeq == Seq(ViewerOne, null))
    val error = intercept[Exception](spark.sql("SELECT vsa_viewer_key(id, id) FROM VALUES ('a') AS t(id)").collect())
    assert(error.getMessage.contains("constant"), error.getMessage)
  }

  test("with one argument the secret is the session's spark.vsa.viewer.secret; unset, the error names the key") {
    withSecret("s3cret") {
      assert(spark.sql("SELECT vsa_viewer_key('viewer-1')").first().getString(0) == ViewerOne)
    }
    val error = intercept[Exception](spark.sql("SELECT vsa_viewer_key('viewer-1')").collect())
    assert(error.getMessage.contains(ViewerKey.SecretKey), error.getMessage)
  }

  test("no plan string holds the secret: parsed, analyzed, optimized and physical, nor the plan's JSON") {
    withSecret(Secret) {
      val df = spark.sql(
        "SELECT vsa_viewer_key(id) AS k, vsa_viewer_keys_in_json(raw) AS r FROM VALUES ('a', '{}') AS t(id, raw)"
      )
      df.collect()
      val qe = df.queryExecution
      val plans = Seq(
        qe.toString,
        qe.analyzed.toJSON,
        qe.executedPlan.toJSON,
        qe.explainString(org.apache.spark.sql.execution.ExtendedMode)
      )
      plans.foreach(plan => assert(!plan.contains(Secret), plan))
      assert(qe.analyzed.toString.contains("vsa_viewer_key"))
    }
    // A constant secret is in the SQL text the user wrote, but in no resolved plan.
    val qe = spark.sql(s"SELECT vsa_viewer_key('a', '$Secret')").queryExecution
    Seq(qe.analyzed, qe.optimizedPlan, qe.executedPlan).foreach(p => assert(!p.toString.contains(Secret), p.toString))
  }

  test("vsa_viewer_keys_in_json keys the value of every viewer_id, as the tables would hold it") {
    assert(keysInJson("""{"viewer_id": "viewer-1", "ts": 1}""") == s"""{"viewer_id": "$ViewerOne", "ts": 1}""")
    // Escaped key and value are compared and keyed decoded, as from_json reads them.
    val escaped = "{\"viewer\\u005fid\":\"viewer\\u002d1\"}"
    assert(keysInJson(escaped) == "{\"viewer\\u005fid\":\"" + ViewerOne + "\"}")
    // A number is keyed by its text; malformed records, and a key in any object, are keyed too.
    val number = spark.sql("SELECT vsa_viewer_key('42', 's3cret')").first().getString(0)
    assert(keysInJson("""{"viewer_id":42,"x":1""") == s"""{"viewer_id":"$number","x":1""")
    assert(
      keysInJson("""[{"extra":{"viewer_id":"viewer-1"}}, "viewer_id": "viewer-1"""") ==
        s"""[{"extra":{"viewer_id":"$ViewerOne"}}, "viewer_id": "$ViewerOne""""
    )
    // A string value followed by a colon is read as a key too (no id hides behind a malformed value).
    assert(keysInJson("""{"a":"viewer_id":"viewer-1"}""") == s"""{"a":"viewer_id":"$ViewerOne"}""")
    // Text without the key, and other keys' values, are unchanged; null stays null.
    assert(keysInJson("""{"viewer":"viewer-1","id":"viewer_id"}""") == """{"viewer":"viewer-1","id":"viewer_id"}""")
    assert(spark.sql("SELECT vsa_viewer_keys_in_json(NULL, 's3cret')").first().isNullAt(0))
  }

  test("vsa_viewer_keys_in_json is linear on hostile text: a megabyte of open strings and backslashes") {
    val hostile = "{\"viewer_id\":\"" + ("\\\"" * 300000) + ("\"viewer_id\":\"" * 30000)
    val out = keysInJson(hostile)
    assert(out.startsWith("{\"viewer_id\":\""))
    assert(!out.contains("viewer-1"))
  }
}
