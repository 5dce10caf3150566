package vsa.spark

import org.apache.spark.sql.functions.{array, col, lit, map, struct, when}
import org.apache.spark.sql.types.StructType
import org.apache.spark.sql.vsa.Columns.{column, expression}
import org.apache.spark.sql.{DataFrame, Row}
import org.apache.spark.sql.execution.{ProjectExec, SparkPlan, WholeStageCodegenExec}
import org.scalatest.funsuite.AnyFunSuite
import vsa.spark.expressions.{PackRow, UnpackRow}

class PackedRowSpec extends AnyFunSuite with LocalSpark {

  // Rows of every kind of field the sessionizer carries: strings of growing length (so a reused buffer would show),
  // nulls, a nested struct, an array and a map; one row with the whole struct null.
  private def records: DataFrame = spark
    .range(0, 500)
    .select(
      when(
        col("id") =!= 7,
        struct(
          col("id"),
          lit("x").as("pad"),
          org.apache.spark.sql.functions.repeat(lit("ab"), (col("id") % 50).cast("int")).as("text"),
          when(col("id") % 3 === 0, lit(null).cast("string")).otherwise(col("id").cast("string")).as("maybe"),
          struct(col("id").cast("double").as("d"), lit("in").as("s")).as("nested"),
          array(col("id"), col("id") + 1).as("list"),
          map(lit("k"), col("id").cast("string")).as("dict")
        )
      ).as("record")
    )

  private def roundTrip(records: DataFrame): DataFrame = {
    val schema = records.schema("record").dataType.asInstanceOf[StructType]
    val packed = records.select(col("record"), column(PackRow(expression(col("record")))).as("bytes"))
    packed.select(col("record"), column(UnpackRow(expression(col("bytes")), schema)).as("back"))
  }

  test("a packed struct unpacks to the same struct, row by row, in whole-stage generated code") {
    val out = roundTrip(records)
    val plan = out.queryExecution.executedPlan
    assert(outsideGeneratedCode(plan).collect { case p: ProjectExec => p }.isEmpty, plan)
    val rows = out.collect()
    assert(rows.length == 500)
    rows.foreach(r => assert(r.get(0) == r.get(1), r))
    assert(rows.count(_.isNullAt(1)) == 1)
  }

  test("the interpreted path gives the same bytes") {
    val generated = roundTrip(records).collect().map(_.get(1))
    val interpreted =
      withConf("spark.sql.codegen.wholeStage" -> "false", "spark.sql.codegen.factoryMode" -> "NO_CODEGEN") {
        roundTrip(records).collect().map(_.get(1))
      }
    assert(interpreted.toSeq == generated.toSeq)
    assert(generated.count(_ != null) == 499 && generated.collect { case r: Row => r }.size == 499)
  }

  /** The nodes of `plan` that run outside whole-stage generated code. */
  private def outsideGeneratedCode(plan: SparkPlan): Seq[SparkPlan] = plan match {
    case _: WholeStageCodegenExec => Seq.empty
    case other                    => other +: other.children.flatMap(outsideGeneratedCode)
  }
}
