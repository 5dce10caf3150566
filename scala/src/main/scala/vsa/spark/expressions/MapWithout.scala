package vsa.spark.expressions

import org.apache.spark.sql.catalyst.InternalRow
import org.apache.spark.sql.catalyst.analysis.TypeCheckResult
import org.apache.spark.sql.catalyst.expressions.codegen.{CodegenContext, ExprCode}
import org.apache.spark.sql.catalyst.expressions.{ExpectsInputTypes, Expression, Literal, TernaryExpression}
import org.apache.spark.sql.catalyst.util.{ArrayBasedMapData, ArrayData, GenericArrayData, MapData}
import org.apache.spark.sql.types.{ArrayType, DataType, MapType, StringType}
import org.apache.spark.unsafe.types.UTF8String

/** `vsa_map_without(map, keys[, prefix])`: a string-to-string map without the given keys (a constant array), the keys
  * it keeps prefixed by `prefix` (a constant; none by default). Player events keep their unknown fields this way, and
  * CMCD reports their keys as `cmcd_<key>`. Spark's `map_filter` and `transform_keys` run their lambdas interpreted,
  * look up each entry's type per read, and take the projection they sit in out of whole-stage code generation
  * (docs/performance.md).
  */
case class MapWithout(map: Expression, keys: Expression, prefix: Expression)
    extends TernaryExpression
    with ExpectsInputTypes {

  def this(map: Expression, keys: Expression) = this(map, keys, Literal(""))

  override def first: Expression = map

  override def second: Expression = keys

  override def third: Expression = prefix

  override def inputTypes = Seq(MapType(StringType, StringType), ArrayType(StringType), StringType)

  override def dataType: DataType = map.dataType

  override def checkInputDataTypes(): TypeCheckResult = super.checkInputDataTypes() match {
    case TypeCheckResult.TypeCheckSuccess if !keys.foldable =>
      TypeCheckResult.TypeCheckFailure(s"$prettyName: the keys must be a constant array, not a column")
    case TypeCheckResult.TypeCheckSuccess if !prefix.foldable || prefix.eval() == null =>
      TypeCheckResult.TypeCheckFailure(s"$prettyName: the prefix must be a constant string, not a column or null")
    case other => other
  }

  @transient private lazy val keyPrefix: UTF8String = prefix.eval().asInstanceOf[UTF8String]

  @transient private lazy val excluded: java.util.Set[UTF8String] = {
    val set = new java.util.HashSet[UTF8String]()
    val array = keys.eval().asInstanceOf[ArrayData]
    if (array != null) for (i <- 0 until array.numElements() if !array.isNullAt(i)) set.add(array.getUTF8String(i))
    set
  }

  override def eval(input: InternalRow): Any = {
    val value = map.eval(input)
    if (value == null) null else MapWithout.without(value.asInstanceOf[MapData], excluded, keyPrefix)
  }

  override protected def doGenCode(ctx: CodegenContext, ev: ExprCode): ExprCode = {
    val set = ctx.addReferenceObj("excluded", excluded)
    val keyPrefix = ctx.addReferenceObj("keyPrefix", this.keyPrefix)
    val helper = MapWithout.getClass.getName.stripSuffix("$")
    nullSafeCodeGen(ctx, ev, (m, _, _) => s"${ev.value} = $helper.without($m, $set, $keyPrefix);")
  }

  override protected def withNewChildrenInternal(
      newFirst: Expression,
      newSecond: Expression,
      newThird: Expression
  ): MapWithout = copy(map = newFirst, keys = newSecond, prefix = newThird)

  override def prettyName: String = "vsa_map_without"
}

object MapWithout {

  /** `map` without the entries whose key is in `excluded`, the others' keys prefixed by `prefix`; `map` itself when
    * that changes nothing.
    */
  def without(map: MapData, excluded: java.util.Set[UTF8String], prefix: UTF8String): MapData = {
    val keys = map.keyArray()
    val values = map.valueArray()
    val n = map.numElements()
    val kept = new Array[Int](n)
    var count = 0
    var i = 0
    while (i < n) {
      if (!excluded.contains(keys.getUTF8String(i))) {
        kept(count) = i
        count += 1
      }
      i += 1
    }
    if (count == n && prefix.numBytes() == 0) map
    else {
      val newKeys = new Array[Any](count)
      val newValues = new Array[Any](count)
      var j = 0
      while (j < count) {
        newKeys(j) = UTF8String.concat(prefix, keys.getUTF8String(kept(j)))
        newValues(j) = if (values.isNullAt(kept(j))) null else values.getUTF8String(kept(j))
        j += 1
      }
      new ArrayBasedMapData(new GenericArrayData(newKeys), new GenericArrayData(newValues))
    }
  }
}
