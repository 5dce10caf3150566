package vsa.spark

import org.apache.spark.sql.Row
import org.scalatest.funsuite.AnyFunSuite

class SketchSpec extends AnyFunSuite with LocalSpark {

  test("vsa_viewer_sketch builds the very bytes of hll_sketch_agg, for strings and longs, any lgK") {
    val same = spark
      .sql(
        """SELECT vsa_viewer_sketch(CAST(id AS STRING)) = hll_sketch_agg(CAST(id AS STRING)),
          |       vsa_viewer_sketch(id, 14) = hll_sketch_agg(id, 14)
          |FROM range(5000)""".stripMargin
      )
      .first()
    assert(same == Row(true, true))
  }

  test("estimate, bounds and union over 100k distinct ids") {
    val row = spark
      .sql(
        """WITH s AS (SELECT id % 10 AS part, vsa_viewer_sketch(id) AS sketch FROM range(100000) GROUP BY id % 10),
          |     u AS (SELECT vsa_sketch_union(sketch) AS sketch FROM s)
          |SELECT vsa_sketch_estimate(sketch), hll_sketch_estimate(sketch),
          |       vsa_sketch_lower_bound(sketch, 3), vsa_sketch_upper_bound(sketch, 3) FROM u""".stripMargin
      )
      .first()
    val estimate = row.getLong(0)
    assert(estimate == row.getLong(1))
    assert(math.abs(estimate - 100000) < 3 * 1.04 / 64 * 100000, estimate)
    assert(row.getDouble(2) <= estimate && estimate <= row.getDouble(3))
    assert(row.getDouble(2) <= 100000 && 100000 <= row.getDouble(3), row)
  }

  test("numStdDev outside 1..3 is an analysis error") {
    val error = intercept[org.apache.spark.sql.AnalysisException](
      spark.sql("SELECT vsa_sketch_upper_bound(vsa_viewer_sketch(id), 4) FROM range(3)").collect()
    )
    assert(error.getMessage.contains("numStdDev must be 1, 2 or 3"), error.getMessage)
  }
}
