package vsa.spark.expressions

import org.apache.spark.sql.catalyst.expressions.codegen.{CodegenContext, ExprCode}
import org.apache.spark.sql.catalyst.expressions.{
  BoundReference,
  ExpectsInputTypes,
  Expression,
  GenericInternalRow,
  JsonToStructs,
  UnaryExpression
}
import org.apache.spark.sql.catalyst.util.MapData
import org.apache.spark.sql.types.{DataType, MapType, StringType}
import org.apache.spark.unsafe.types.UTF8String

/** `vsa_json_object_fields(text)`: the top-level fields of a record that is one JSON object (`vsa_is_json_object`), as
  * a `map<string,string>`; null for anything else. Each value is what `from_json(text, 'map<string,string>')` makes of
  * it (a string's text, any other value as JSON), because it is Spark's own `from_json` that reads the object.
  *
  * Spark's `from_json` has no generated code: the projection it sits in leaves whole-stage code generation, and every
  * task then generates that projection's code again (docs/performance.md). Here it is called by reference from
  * generated code, so the record's validation around it stays generated.
  */
case class JsonObjectFields(child: Expression) extends UnaryExpression with ExpectsInputTypes {

  override def inputTypes = Seq(StringType)

  override def dataType: DataType = JsonObjectFields.Fields

  @transient private lazy val fromJson =
    new JsonToStructs(
      JsonObjectFields.Fields,
      Map.empty,
      BoundReference(0, StringType, nullable = true),
      Some("UTC"),
      false
    )

  /** The fields of `text`; null when it is not one JSON object. */
  def fields(text: UTF8String): MapData =
    if (!IsJsonObject.check(text)) null
    else fromJson.eval(new GenericInternalRow(Array[Any](text))).asInstanceOf[MapData]

  override protected def nullSafeEval(input: Any): Any = fields(input.asInstanceOf[UTF8String])

  override protected def doGenCode(ctx: CodegenContext, ev: ExprCode): ExprCode = {
    val self = ctx.addReferenceObj("jsonObjectFields", this)
    nullSafeCodeGen(ctx, ev, text => s"${ev.value} = $self.fields($text);\n${ev.isNull} = ${ev.value} == null;")
  }

  override protected def withNewChildInternal(newChild: Expression): JsonObjectFields = copy(child = newChild)

  override def prettyName: String = "vsa_json_object_fields"
}

object JsonObjectFields {
  val Fields: MapType = MapType(StringType, StringType)
}
