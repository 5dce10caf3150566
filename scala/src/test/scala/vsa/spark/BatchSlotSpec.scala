package vsa.spark

import org.apache.spark.sql.DataFrame
import org.apache.spark.sql.execution.columnar.InMemoryRelation
import org.apache.spark.sql.functions.{col, count, lit, sum}
import org.scalatest.funsuite.AnyFunSuite
import vsa.spark.streaming.BatchSlot

/** A plan built once over a slot, filled with each batch's rows, gives what the same plan built over those rows gives.
  */
class BatchSlotSpec extends AnyFunSuite with LocalSpark {
  import spark.implicits._

  private def batch(from: Int, n: Int): DataFrame =
    (from until from + n).map(i => (i.toLong, s"k${i % 3}", Option.when(i % 4 != 0)(i.toDouble))).toDF("id", "k", "v")

  /** A table's plan, as the job's builders make them: filters, a union and a self-join of the batch, an aggregate. */
  private def table(rows: DataFrame): DataFrame = {
    val odd = rows.where(col("id") % 2 === 1).select(col("k"), col("v"))
    val even = rows.where(col("id") % 2 === 0).select(col("k"), (col("v") * 10).as("v"))
    val per = odd.unionByName(even).groupBy("k").agg(sum("v").as("total"), count(lit(1)).as("n"))
    per.join(rows.groupBy("k").agg(count(lit(1)).as("all")), "k").orderBy("k")
  }

  test("a template filled with a batch's rows gives what the plan built on those rows gives") {
    val first = batch(0, 40)
    val template = table(BatchSlot.frame(spark, first.schema))
    Seq(first, batch(100, 7), batch(0, 0)).foreach { rows =>
      assert(BatchSlot.fill(template, rows).collect().toSeq == table(rows).collect().toSeq)
    }
  }

  test("a filled part persisted first is read from the cache by the filled frames that hold it") {
    val rows = batch(0, 30).persist()
    val slot = BatchSlot.frame(spark, rows.schema)
    val shared = slot.groupBy("k").agg(sum("v").as("total"))
    val template = shared.where(col("total") > 0)
    val kept = BatchSlot.fill(shared, rows).persist()
    try {
      val filled = BatchSlot.fill(template, rows)
      val cached = filled.queryExecution.withCachedData.collect { case r: InMemoryRelation => r }
      val keptCache = kept.queryExecution.withCachedData.asInstanceOf[InMemoryRelation].cacheBuilder
      assert(cached.map(_.cacheBuilder).exists(_ eq keptCache))
      assert(filled.count() == 3)
    } finally {
      kept.unpersist()
      rows.unpersist()
    }
  }

  test("rows without the slot's columns are refused, naming both") {
    val template = BatchSlot.frame(spark, batch(0, 1).schema).select("k")
    val error = intercept[IllegalArgumentException](BatchSlot.fill(template, batch(0, 1).select("k", "id")))
    assert(error.getMessage.contains("do not fit") && error.getMessage.contains("k:string,id:bigint"))
  }
}
