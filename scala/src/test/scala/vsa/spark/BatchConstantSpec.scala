package vsa.spark

import org.apache.spark.sql.catalyst.expressions.CurrentTimestamp
import org.apache.spark.sql.execution.WholeStageCodegenExec
import org.apache.spark.sql.functions.current_timestamp
import org.apache.spark.sql.vsa.Columns
import org.apache.spark.sql.{Column, DataFrame}
import org.scalatest.funsuite.AnyFunSuite
import vsa.spark.expressions.BatchConstant

/** A plan run again later, as the writer's each micro-batch, generates the same source with `BatchConstant`: Spark's
  * compile cache, keyed by the source, then compiles it once.
  */
class BatchConstantSpec extends AnyFunSuite with LocalSpark {

  private def sources(now: Column): (Seq[String], DataFrame) = {
    val frame = spark.range(3).select((now + org.apache.spark.sql.functions.expr("INTERVAL 5 MINUTES")).as("bound"))
    val plan = frame.queryExecution.executedPlan
    (plan.collect { case stage: WholeStageCodegenExec => stage.doCodeGen()._2.body }, frame)
  }

  test("the time reaches generated code by reference: the source is the same from one run to the next") {
    val batchNow = Columns.column(BatchConstant(CurrentTimestamp()))
    val (first, _) = sources(batchNow)
    Thread.sleep(5)
    val (second, frame) = sources(batchNow)
    assert(first.nonEmpty && first == second)
    val bound = frame.collect().map(_.getTimestamp(0).getTime).distinct
    val expected = System.currentTimeMillis() + 5 * 60 * 1000
    assert(bound.length == 1 && math.abs(bound.head - expected) < 60 * 1000)
    // Spark's own literal changes the source each run.
    val (plain, _) = sources(current_timestamp())
    Thread.sleep(5)
    assert(plain != sources(current_timestamp())._1)
  }
}
