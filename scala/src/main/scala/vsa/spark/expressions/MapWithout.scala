package vsa.spark.expressions

import org.apache.spark.sql.catalyst.InternalRow
import org.apache.spark.sql.catalyst.analysis.TypeCheckResult
import org.apache.spark.sql.catalyst.expressions.codegen.{CodegenContext, ExprCode}
import org.apache.spark.sql.catalyst.expressions.{BinaryExpression, ExpectsInputTypes, Expression}
import org.apache.spark.sql.catalyst.util.{ArrayBasedMapData, ArrayData, GenericArrayData, MapData}
import org.apache.spark.sql.types.{ArrayType, DataType, MapType, StringType}
import org.apache.spark.unsafe.types.UTF8String

/** `vsa_map_without(map, keys)`: a string-to-string map without the given keys (a constant array). Player events keep
  * their unknown fields this way; Spark's `map_filter` runs its lambda interpreted and looks up each entry's type per
  * read, which cost more than the rest of the event's validation.
  */
case class MapWithout(map: Expression, keys: Expression) extends BinaryExpression with ExpectsInputTypes {

  override def left: Expression = map

  override def right: Expression = keys

  override def inputTypes = Seq(MapType(StringType, StringType), ArrayType(StringType))

  override def dataType: DataType = map.dataType

  override def checkInputDataTypes(): TypeCheckResult = super.checkInputDataTypes() match {
    case TypeCheckResult.TypeCheckSuccess if !keys.foldable =>
      TypeCheckResult.TypeCheckFailure(s"$prettyName: the keys must be a constant array, not a column")
    case other => other
  }

  @transient private lazy val excluded: java.util.Set[UTF8String] = {
    val set = new java.util.HashSet[UTF8String]()
    val array = keys.eval().asInstanceOf[ArrayData]
    if (array != null) for (i <- 0 until array.numElements() if !array.isNullAt(i)) set.add(array.getUTF8String(i))
    set
  }

  override def eval(input: InternalRow): Any = {
    val value = map.eval(input)
    if (value == null) null else MapWithout.without(value.asInstanceOf[MapData], excluded)
  }

  override protected def doGenCode(ctx: CodegenContext, ev: ExprCode): ExprCode = {
    val set = ctx.addReferenceObj("excluded", excluded)
    val helper = MapWithout.getClass.getName.stripSuffix("$")
    nullSafeCodeGen(ctx, ev, (m, _) => s"${ev.value} = $helper.without($m, $set);")
  }

  override protected def withNewChildrenInternal(newLeft: Expression, newRight: Expression): MapWithout =
    copy(map = newLeft, keys = newRight)

  override def prettyName: String = "vsa_map_without"
}

object MapWithout {

  /** `map` without the entries whose key is in `excluded`; `map` itself when none is. */
  def without(map: MapData, excluded: java.util.Set[UTF8String]): MapData = {
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
    if (count == n) map
    else {
      val newKeys = new Array[Any](count)
      val newValues = new Array[Any](count)
      var j = 0
      while (j < count) {
        newKeys(j) = keys.getUTF8String(kept(j))
        newValues(j) = if (values.isNullAt(kept(j))) null else values.getUTF8String(kept(j))
        j += 1
      }
      new ArrayBasedMapData(new GenericArrayData(newKeys), new GenericArrayData(newValues))
    }
  }
}
