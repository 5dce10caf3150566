package vsa.spark

import org.apache.spark.sql.Row
import org.apache.spark.sql.catalyst.expressions.BoundReference
import org.apache.spark.sql.execution.{ProjectExec, SparkPlan}
import org.apache.spark.sql.functions.{col, concat, lit, rand}
import org.apache.spark.sql.types.LongType
import org.apache.spark.sql.vsa.{ReusedProjectExec, ReusedProjections, ReusedSerializeFromObjectExec}
import org.scalatest.funsuite.AnyFunSuite

/** Projections that whole-stage code leaves out (here: over more fields than `spark.sql.codegen.maxFields`) are made
  * once per executor thread, and give the rows Spark's own give.
  */
class ReusedProjectionsSpec extends AnyFunSuite with LocalSpark {
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
    }
  }

  test("within whole-stage code, and with nondeterministic expressions, Spark's projection stays") {
    val inStage = spark.range(5).select((col("id") + 1).as("next"))
    assert(!nodes(inStage.queryExecution.executedPlan).contains("ReusedProject"))
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
