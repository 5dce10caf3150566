package org.apache.spark.sql.vsa

import java.util.concurrent.TimeUnit

import org.apache.spark.TaskContext
import org.apache.spark.rdd.RDD
import org.apache.spark.sql.catalyst.InternalRow
import org.apache.spark.sql.catalyst.expressions.BindReferences.bindReferences
import org.apache.spark.sql.catalyst.expressions.aggregate.AggregateExpression
import org.apache.spark.sql.catalyst.expressions.{
  Alias,
  Attribute,
  Expression,
  MutableProjection,
  NamedExpression,
  Projection,
  UnsafeProjection,
  UnsafeRow
}
import org.apache.spark.sql.catalyst.rules.Rule
import org.apache.spark.sql.execution.{
  ColumnarRule,
  ExecSubqueryExpression,
  ProjectExec,
  SerializeFromObjectExec,
  SparkPlan
}
import org.apache.spark.sql.execution.aggregate.{ObjectAggregationIterator, ObjectHashAggregateExec}

/** Projections run outside whole-stage code, made once per executor thread instead of once per task.
  *
  * Spark generates the code of a `ProjectExec` or `SerializeFromObjectExec` that runs on its own in every task (its
  * compiled class is cached, the generation is not). Two kinds of them run in vsa's micro-batches:
  *   - those whole-stage code leaves out: vsa's rows are wide (more nested fields than `spark.sql.codegen.maxFields`),
  *     so the projections after the sessionizer and those of the wide tables;
  *   - those of a stage whose generated method is over `spark.sql.codegen.hugeMethodLimit`, which Spark runs operator
  *     by operator when it executes the stage: the stage that reads Kafka and parses.
  *
  * Together a fifth of the executors' time in a small batch (docs/performance.md). Here every such operator is Spark's
  * own, whole-stage code included; only when it runs on its own does its task take the projection its thread made for
  * the same expressions (Spark's, `UnsafeProjection`).
  *
  * In this package for Spark's `private[spark]` `mapPartitionsWithIndexInternal`, which `ProjectExec` uses too: the
  * public form checks each closure on the driver, a cost of every operator of every batch.
  *
  * Only deterministic expressions without subquery results are kept: a subquery's result is set after planning and is
  * not part of its expression's equality, so two batches' would look the same.
  */
object ReusedProjections extends Rule[SparkPlan] {

  /** Applies the rule after Spark's columnar transitions, before it collapses whole-stage code. */
  val columnarRule: ColumnarRule = new ColumnarRule {
    override def postColumnarTransitions: Rule[SparkPlan] = ReusedProjections
  }

  override def apply(plan: SparkPlan): SparkPlan = plan.transformUp {
    case p: ProjectExec if !p.isInstanceOf[ReusedProjectExec] && reusable(p.projectList) =>
      new ReusedProjectExec(p.projectList, p.child)
    case s: SerializeFromObjectExec if !s.isInstanceOf[ReusedSerializeFromObjectExec] && reusable(s.serializer) =>
      new ReusedSerializeFromObjectExec(s.serializer, s.child)
    case a: ObjectHashAggregateExec if !a.isInstanceOf[ReusedObjectHashAggregateExec] && reusable(a.expressions) =>
      ReusedObjectHashAggregateExec(a, a.child)
  }

  private def reusable(expressions: Seq[Expression]): Boolean =
    expressions.forall(e => e.deterministic && !e.exists(_.isInstanceOf[ExecSubqueryExpression]))

  /** `rows` through `expressions` (bound to their columns), each task with a projection of [[projection]]. */
  private[vsa] def project(rows: RDD[InternalRow], expressions: Seq[Expression]): RDD[InternalRow] =
    rows.mapPartitionsWithIndexInternal((index, part) => part.map(projection(expressions, index)))

  /** A projection of `expressions` (bound to their input), for the task that runs on this thread: one the thread made
    * for the same expressions in an earlier task, or a new one. It is the task's until the task ends (two operators of
    * one task with the same expressions get one each: a projection's row is overwritten by its next).
    */
  def projection(expressions: Seq[Expression], partitionIndex: Int): UnsafeProjection = {
    val key = expressions.map { case a: Alias => a.child; case e => e }
    taken(Key(unsafe = true, key), UnsafeProjection.create(key), partitionIndex)
  }

  /** A mutable projection of `expressions` bound to `input`, as [[projection]]: Spark's aggregation iterators take
    * theirs from a factory of this shape.
    */
  def mutableProjection(expressions: Seq[Expression], input: Seq[Attribute]): MutableProjection = {
    val bound = bindReferences(expressions, input)
    taken(Key(unsafe = false, bound), MutableProjection.create(bound), partitionIndex = 0)
  }

  private def taken[P <: Projection](key: Key, make: => P, partitionIndex: Int): P = {
    val free = idle.get
    val made = free.getOrDefault(key, Nil) match {
      case first :: rest => if (rest.isEmpty) free.remove(key) else free.put(key, rest); first.asInstanceOf[P]
      case Nil           => generatedCount.increment(); make
    }
    // Task completion listeners run on the task's thread: the projection goes back to this thread's.
    Option(TaskContext.get()).foreach(_.addTaskCompletionListener[Unit] { _ =>
      free.put(key, made :: free.getOrDefault(key, Nil))
    })
    made.initialize(partitionIndex)
    made
  }

  /** How many projections this JVM's threads have generated. */
  def generated: Long = generatedCount.sum

  private val generatedCount = new java.util.concurrent.atomic.LongAdder

  private case class Key(unsafe: Boolean, expressions: Seq[Expression])

  // The projections of each thread that no running task holds, by their expressions: of the 1,024 used last, as a
  // long-lived executor runs many plans.
  private val idle = ThreadLocal.withInitial[java.util.Map[Key, List[Projection]]] { () =>
    new java.util.LinkedHashMap[Key, List[Projection]](16, 0.75f, true) {
      override def removeEldestEntry(eldest: java.util.Map.Entry[Key, List[Projection]]): Boolean = size > 1024
    }
  }
}

/** A subclass of one of Spark's operators that is not equal to it. Spark's operators are case classes, whose equality
  * accepts a subclass with the same fields, and a plan's transformation keeps a node that equals the one it replaces:
  * the rule's operator would be dropped for Spark's.
  */
private[vsa] trait UnequalToSparks extends SparkPlan {

  override def canEqual(other: Any): Boolean = other != null && other.getClass == getClass

  override def equals(other: Any): Boolean = canEqual(other) && super.equals(other)
}

/** Spark's `ProjectExec` (its whole-stage code too) that, run on its own, takes the projection of
  * [[ReusedProjections.projection]].
  *
  * A subclass so that Spark's rules and whole-stage code treat it as the `ProjectExec` it is.
  */
final class ReusedProjectExec(expressions: Seq[NamedExpression], input: SparkPlan)
    extends ProjectExec(expressions, input)
    with UnequalToSparks {

  override protected def doExecute(): RDD[InternalRow] =
    ReusedProjections.project(child.execute(), bindReferences(projectList, child.output))

  override protected def withNewChildInternal(newChild: SparkPlan): ProjectExec =
    new ReusedProjectExec(projectList, newChild)
}

/** Spark's `SerializeFromObjectExec` (objects to rows; its whole-stage code too) that, run on its own, takes the
  * projection of [[ReusedProjections.projection]].
  */
final class ReusedSerializeFromObjectExec(expressions: Seq[NamedExpression], input: SparkPlan)
    extends SerializeFromObjectExec(expressions, input)
    with UnequalToSparks {

  override protected def doExecute(): RDD[InternalRow] = ReusedProjections.project(child.execute(), serializer)

  override protected def withNewChildInternal(newChild: SparkPlan): SerializeFromObjectExec =
    new ReusedSerializeFromObjectExec(serializer, newChild)
}

/** Spark's `ObjectHashAggregateExec` (the aggregation of typed objects, such as sketches, which has no whole-stage
  * code) whose task takes its mutable projections from [[ReusedProjections.mutableProjection]]. Spark's generates them
  * in every task: the aggregation of vsa's KPI tables, a fifth of the executors' time in a small batch.
  */
final class ReusedObjectHashAggregateExec private (
    distribution: Option[Seq[Expression]],
    streaming: Boolean,
    shufflePartitions: Option[Int],
    grouping: Seq[NamedExpression],
    aggregates: Seq[AggregateExpression],
    aggregated: Seq[Attribute],
    bufferOffset: Int,
    results: Seq[NamedExpression],
    input: SparkPlan
) extends ObjectHashAggregateExec(
      distribution,
      streaming,
      shufflePartitions,
      grouping,
      aggregates,
      aggregated,
      bufferOffset,
      results,
      input
    )
    with UnequalToSparks {

  // Spark 4.2's `ObjectHashAggregateExec.doExecute`, with the projections' factory of [[ReusedProjections]].
  override protected def doExecute(): RDD[InternalRow] = {
    val numOutputRows = longMetric("numOutputRows")
    val aggTime = longMetric("aggTime")
    val spillSize = longMetric("spillSize")
    val numTasksFallBacked = longMetric("numTasksFallBacked")
    val fallbackCountThreshold = conf.objectAggSortBasedFallbackThreshold
    child.execute().mapPartitionsWithIndexInternal { (partIndex, iter) =>
      val beforeAgg = System.nanoTime()
      val hasInput = iter.hasNext
      val res =
        if (!hasInput && groupingExpressions.nonEmpty) Iterator.empty
        else {
          val aggregationIterator = new ObjectAggregationIterator(
            partIndex,
            child.output,
            groupingExpressions,
            aggregateExpressions,
            aggregateAttributes,
            initialInputBufferOffset,
            resultExpressions,
            ReusedProjections.mutableProjection,
            inputAttributes,
            iter,
            fallbackCountThreshold,
            numOutputRows,
            spillSize,
            numTasksFallBacked
          )
          if (!hasInput && groupingExpressions.isEmpty) {
            numOutputRows += 1
            Iterator.single[UnsafeRow](aggregationIterator.outputForEmptyGroupingKeyWithoutInput())
          } else aggregationIterator
        }
      aggTime += TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - beforeAgg)
      res
    }
  }

  override protected def withNewChildInternal(newChild: SparkPlan): ObjectHashAggregateExec =
    ReusedObjectHashAggregateExec(this, newChild)
}

object ReusedObjectHashAggregateExec {

  /** `aggregate`, over `input`, with [[ReusedProjections]]' projections. */
  def apply(aggregate: ObjectHashAggregateExec, input: SparkPlan): ReusedObjectHashAggregateExec = {
    import aggregate._
    new ReusedObjectHashAggregateExec(
      requiredChildDistributionExpressions,
      isStreaming,
      numShufflePartitions,
      groupingExpressions,
      aggregateExpressions,
      aggregateAttributes,
      initialInputBufferOffset,
      resultExpressions,
      input
    )
  }
}
