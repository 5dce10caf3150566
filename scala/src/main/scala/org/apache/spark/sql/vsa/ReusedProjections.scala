package org.apache.spark.sql.vsa

import org.apache.spark.TaskContext
import org.apache.spark.rdd.RDD
import org.apache.spark.sql.catalyst.InternalRow
import org.apache.spark.sql.catalyst.expressions.BindReferences.bindReferences
import org.apache.spark.sql.catalyst.expressions.codegen.CodegenFallback
import org.apache.spark.sql.catalyst.expressions.{
  Alias,
  Attribute,
  Expression,
  LeafExpression,
  NamedExpression,
  SortOrder,
  UnsafeProjection
}
import org.apache.spark.sql.catalyst.plans.physical.Partitioning
import org.apache.spark.sql.catalyst.rules.Rule
import org.apache.spark.sql.execution.{
  CodegenSupport,
  ColumnarRule,
  ExecSubqueryExpression,
  OrderPreservingUnaryExecNode,
  PartitioningPreservingUnaryExecNode,
  ProjectExec,
  SerializeFromObjectExec,
  SparkPlan,
  UnaryExecNode,
  WholeStageCodegenExec
}
import org.apache.spark.sql.internal.SQLConf

/** Projections that whole-stage code leaves out, made once per executor thread instead of once per task.
  *
  * Spark generates the code of a `ProjectExec` or `SerializeFromObjectExec` outside whole-stage code in every task (its
  * compiled class is cached, the generation is not). vsa's rows are wide (more nested fields than
  * `spark.sql.codegen.maxFields`), so the projections after the sessionizer and those of the wide tables are such
  * operators, and a micro-batch's plans run them in every task: a fifth of the executors' time in a small batch
  * (docs/performance.md). Here they are the same operators, whose task takes the projection its thread made for the
  * same expressions (Spark's own, `UnsafeProjection`).
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
    case p: ProjectExec if !wholeStage(p) && reusable(p.projectList) =>
      ReusedProjectExec(p.projectList, p.child)
    case s: SerializeFromObjectExec if !wholeStage(s) && reusable(s.serializer) =>
      ReusedSerializeFromObjectExec(s.serializer, s.child)
  }

  /** Whether Spark's `CollapseCodegenStages` puts `plan` in whole-stage code: its own test, as Spark 4 has it. */
  private def wholeStage(plan: SparkPlan with CodegenSupport): Boolean = {
    val conf = SQLConf.get
    def tooMany(p: SparkPlan) = WholeStageCodegenExec.isTooManyFields(conf, p.schema)
    val fallback = plan.expressions.exists(_.exists {
      case _: LeafExpression  => false
      case _: CodegenFallback => true
      case _                  => false
    })
    conf.wholeStageEnabled && plan.supportCodegen && !fallback && !tooMany(plan) && !plan.children.exists(tooMany)
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
    val free = idle.get
    val kept = free.getOrDefault(key, Nil)
    val made = kept match {
      case first :: rest => if (rest.isEmpty) free.remove(key) else free.put(key, rest); first
      case Nil           => UnsafeProjection.create(key)
    }
    // Task completion listeners run on the task's thread: the projection goes back to this thread's.
    Option(TaskContext.get()).foreach(_.addTaskCompletionListener[Unit] { _ =>
      free.put(key, made :: free.getOrDefault(key, Nil))
    })
    made.initialize(partitionIndex)
    made
  }

  // The projections of each thread that no running task holds, by their expressions: of the 64 used last, as a
  // long-lived executor runs many plans.
  private val idle = ThreadLocal.withInitial[java.util.Map[Seq[Expression], List[UnsafeProjection]]] { () =>
    new java.util.LinkedHashMap[Seq[Expression], List[UnsafeProjection]](16, 0.75f, true) {
      override def removeEldestEntry(eldest: java.util.Map.Entry[Seq[Expression], List[UnsafeProjection]]): Boolean =
        size > 64
    }
  }
}

/** Spark's `ProjectExec` outside whole-stage code, with the projection of [[ReusedProjections.projection]]. */
final case class ReusedProjectExec(projectList: Seq[NamedExpression], child: SparkPlan)
    extends UnaryExecNode
    with PartitioningPreservingUnaryExecNode
    with OrderPreservingUnaryExecNode {

  override def output: Seq[Attribute] = projectList.map(_.toAttribute)

  override protected def outputExpressions: Seq[NamedExpression] = projectList

  override protected def orderingExpressions: Seq[SortOrder] = child.outputOrdering

  override protected def doExecute(): RDD[InternalRow] =
    ReusedProjections.project(child.execute(), bindReferences(projectList, child.output))

  override protected def withNewChildInternal(newChild: SparkPlan): ReusedProjectExec = copy(child = newChild)
}

/** Spark's `SerializeFromObjectExec` outside whole-stage code (objects to rows), with the projection of
  * [[ReusedProjections.projection]].
  */
final case class ReusedSerializeFromObjectExec(serializer: Seq[NamedExpression], child: SparkPlan)
    extends UnaryExecNode {

  override def output: Seq[Attribute] = serializer.map(_.toAttribute)

  override def outputPartitioning: Partitioning = child.outputPartitioning

  override protected def doExecute(): RDD[InternalRow] = ReusedProjections.project(child.execute(), serializer)

  override protected def withNewChildInternal(newChild: SparkPlan): ReusedSerializeFromObjectExec =
    copy(child = newChild)
}
