package vsa.spark

import org.apache.spark.sql.Row
import org.apache.spark.sql.catalyst.expressions.BoundReference
import org.apache.spark.sql.execution.adaptive.AdaptiveSparkPlanHelper
import org.apache.spark.sql.execution.{ProjectExec, SparkPlan, WholeStageCodegenExec}
import org.apache.spark.sql.functions.{col, concat, count, hll_sketch_agg, hll_sketch_estimate, lit, rand, sum}
import org.apache.spark.sql.types.LongType
import org.apache.spark.sql.vsa.{
  ReusedObjectHashAggregateExec,
  ReusedProjectExec,
  ReusedProjections,
  ReusedSerializeFromObjectExec
}
import org.scalatest.funsuite.AnyFunSuite

/** Projections that run outside whole-stage code (over more fields than `spark.sql.codegen.maxFields`, or in a stage
  * whose code is over the huge-method limit) are made once per executor thread, and give the rows Spark's own give.
  */
class ReusedProjectionsSpec extends AnyFunSuite with LocalSpark with AdaptiveSparkPlanHelper {
  import spark.implicits._

  private def nodes(plan: SparkPlan): Seq[String] = plan.collect { case p => p.nodeName }

  test("a projection outside whole-stage code is vsa's, with Spark's rows, batch after batch") {
    withConf("spark.sql.codegen.maxFields" -> "3") {
      val projected = spark
        .range(0, 50, 1, 2)
        .select(
          (col("id") * 2).as("twice"),
          concat(col("id").cast("string"), lit("!")).as("loud"),
          (col("id") % 7).as("k"),
          col("id").as("again")
        )
      assert(nodes(projected.queryExecution.executedPlan).contains("ReusedProject"))
      val expected = (0L until 50L).map(i => Row(i * 2, s"$i!", i % 7, i))
      (1 to 3).foreach(_ => assert(projected.collect().toSeq == expected))
      // Below another operator too: by Spark's case-class equality vsa's would equal the projection it replaces, and
      // the parent would keep Spark's.
      val sorted = projected.orderBy(col("twice").desc)
      assert(sorted.collect().toSeq == expected.reverse)
      assert(collect(sorted.queryExecution.executedPlan) { case p: ReusedProjectExec => p }.nonEmpty)
    }
  }

  test("a stage over the huge-method limit, run operator by operator, generates its projections once") {
    withConf("spark.sql.codegen.hugeMethodLimit" -> "1") {
      val projected = spark
        .range(0, 40, 1, 4)
        .select((col("id") * 3).as("thrice"), concat(col("id").cast("string"), lit("?")).as("asked"))
      val plan = projected.queryExecution.executedPlan
      assert(plan.collect { case s: WholeStageCodegenExec => s.child }.exists(_.isInstanceOf[ReusedProjectExec]))
      val expected = (0L until 40L).map(i => Row(i * 3, s"$i?"))
      val before = ReusedProjections.generated
      (1 to 4).foreach(_ => assert(projected.collect().toSeq == expected))
      // Spark's own would generate one in each of the 16 tasks; vsa's, one for each executor thread (local[1]: one,
      // or two when a task starts before the thread of the one before is back in its pool).
      val generated = ReusedProjections.generated - before
      assert(generated >= 1 && generated <= 2, s"$generated projections generated")
    }
  }

  test("an aggregation of sketches gives Spark's results, its projections made once per thread") {
    val byKey = spark
      .range(0, 200, 1, 4)
      .groupBy((col("id") % 5).as("k"))
      .agg(hll_sketch_estimate(hll_sketch_agg(col("id"))).as("distinct"), sum("id").as("total"), count("id").as("n"))
      .orderBy("k")
    val expected = (0L until 5L).map(k => Row(k, 40L, (0L until 200L).filter(_ % 5 == k).sum, 40L))
    val before = ReusedProjections.generated
    assert(byKey.collect().toSeq == expected)
    val first = ReusedProjections.generated - before
    val plan = byKey.queryExecution.executedPlan // adaptive: its stages, planned as they ran
    val aggregates = collect(plan) { case a: ReusedObjectHashAggregateExec => a }
    assert(aggregates.size == 2, plan) // partial and final
    // Spark copies a node by its constructor (to canonicalize it, when it looks for exchanges to reuse).
    assert(aggregates.forall(_.canonicalized.isInstanceOf[ReusedObjectHashAggregateExec]))
    (1 to 3).foreach(_ => assert(byKey.collect().toSeq == expected))
    val later = ReusedProjections.generated - before - first
    // Spark's own would generate them again in each of the 15 tasks; vsa's, once for each executor thread.
    assert(first >= 1 && later <= first, s"$first projections generated in the first run, $later in three more")
  }

  test("with nondeterministic expressions, Spark's projection stays") {
    withConf("spark.sql.codegen.maxFields" -> "1") {
      val random = spark.range(5).select(rand(1).as("r"), col("id"))
      val plan = random.queryExecution.executedPlan
      assert(plan.collect { case p: ProjectExec => p }.nonEmpty)
      assert(plan.collect { case p: ReusedProjectExec => p }.isEmpty)
    }
  }

  test("objects become rows through a thread's projection too") {
    withConf("spark.sql.codegen.maxFields" -> "1") {
      val pairs = spark.range(0, 10, 1, 2).as[Long].map(i => (i, s"n$i"))
      assert(pairs.queryExecution.executedPlan.collect { case s: ReusedSerializeFromObjectExec => s }.nonEmpty)
      (1 to 2).foreach(_ => assert(pairs.collect().toSeq == (0L until 10L).map(i => (i, s"n$i"))))
    }
  }

  test("a thread's tasks share one projection; two operators of one task get one each") {
    val columns = Seq(BoundReference(0, LongType, nullable = false))
    val tasks = (1 to 6).flatMap { _ =>
      spark.sparkContext
        .parallelize(Seq(0), 1)
        .map { _ =>
          val first = ReusedProjections.projection(columns, 0)
          val second = ReusedProjections.projection(columns, 0)
          (Thread.currentThread.getId, Set(first, second).map(System.identityHashCode), first ne second)
        }
        .collect()
    }
    assert(tasks.forall(_._3), "two operators of one task shared a projection")
    val byThread = tasks.groupBy(_._1)
    assert(byThread.values.exists(_.size > 1), s"no executor thread ran two of the tasks: $tasks")
    byThread.values.foreach(ran =>
      assert(ran.map(_._2).distinct.size == 1, s"a thread made its projection again: $ran")
    )
  }
}
