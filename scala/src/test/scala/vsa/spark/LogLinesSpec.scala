package vsa.spark

import org.apache.spark.sql.Row
import org.scalatest.funsuite.AnyFunSuite

/** `vsa_log_lines`: how a CDN log record (a line, or a whole file sent as one record) becomes lines. */
class LogLinesSpec extends AnyFunSuite with LocalSpark {

  private def lines(record: String): Seq[String] = {
    import spark.implicits._
    Seq(record).toDF("r").selectExpr("vsa_log_lines(r)").first().getSeq[String](0)
  }

  test("a one-line record is itself") {
    assert(lines("2025-11-24\t16:18:30\tFRA56") == Seq("2025-11-24\t16:18:30\tFRA56"))
  }

  test("LF and CRLF separate lines; a trailing CR is dropped, one inside a line stays") {
    assert(lines("a\r\nb\nc\r") == Seq("a", "b", "c"))
    assert(lines("a\rb\n") == Seq("a\rb"))
  }

  test("blank lines (spaces only) are left out; a line of TABs is not blank") {
    assert(lines("\n  \n a \n\r\n") == Seq(" a "))
    assert(lines("   ") == Seq.empty)
    assert(lines("") == Seq.empty)
    assert(lines("\t\t") == Seq("\t\t"))
  }

  test("lines keep their multi-byte characters; null stays null") {
    assert(lines("café\nüber") == Seq("café", "über"))
    assert(spark.sql("SELECT vsa_log_lines(CAST(NULL AS STRING))").first() == Row(null))
  }
}
