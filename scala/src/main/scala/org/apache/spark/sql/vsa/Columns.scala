package org.apache.spark.sql.vsa

import org.apache.spark.sql.Column
import org.apache.spark.sql.catalyst.expressions.Expression
import org.apache.spark.sql.classic.ExpressionUtils

/** Columns of Catalyst expressions for the jar's own plumbing (the sessionizer's packed rows). Spark keeps the bridge
  * `private[sql]`, hence this package; SQL functions go through `FunctionCatalog` instead.
  */
object Columns {
  def column(expression: Expression): Column = ExpressionUtils.column(expression)

  def expression(column: Column): Expression = ExpressionUtils.expression(column)
}
