package vsa.spark.expressions

import org.apache.spark.sql.catalyst.InternalRow
import org.apache.spark.sql.catalyst.expressions.codegen.Block._
import org.apache.spark.sql.catalyst.expressions.codegen.{CodeGenerator, CodegenContext, ExprCode}
import org.apache.spark.sql.catalyst.expressions.{ExpectsInputTypes, Expression, GenericInternalRow, UnaryExpression}
import org.apache.spark.sql.catalyst.util.ArrayBasedMapData
import org.apache.spark.sql.types._
import org.apache.spark.unsafe.types.UTF8String
import vsa.spark.cmcd._

/** `vsa_parse_cmcd(text)`: the CMCD keys of a query string (its `CMCD` argument) or of a CMCD header value, typed.
  *
  * Null when the input carries no CMCD. A malformed dictionary gives a struct whose only non-null field is `error`, so
  * a stream never fails on one bad request. Booleans are false when the request carries CMCD without the key (CMCD
  * omits false), and `v` is 1 when omitted. Keys without a column, and the whole inner lists of keys whose column holds
  * the first item, are kept in `other`: strings and tokens as text, anything else as JSON (lists as arrays).
  */
case class ParseCmcd(child: Expression) extends UnaryExpression with ExpectsInputTypes {

  override def inputTypes = Seq(StringType)

  override def dataType: DataType = ParseCmcd.ResultType

  // Null for text without CMCD, whatever the input's nullability.
  override def nullable: Boolean = true

  override def eval(input: InternalRow): Any = parse(child.eval(input).asInstanceOf[UTF8String])

  def parse(text: UTF8String): InternalRow = if (text == null) null else ParseCmcd.parse(text.toString)

  // A call of `parse`, as in ParseUserAgent: the projection stays in whole-stage code generation and the struct is
  // computed once per row however many of its fields are selected.
  override protected def doGenCode(ctx: CodegenContext, ev: ExprCode): ExprCode = {
    val self = ctx.addReferenceObj("parseCmcd", this)
    val in = child.genCode(ctx)
    ev.copy(code = code"""
        ${in.code}
        ${CodeGenerator.javaType(dataType)} ${ev.value} = $self.parse(${in.isNull} ? null : ${in.value});
        boolean ${ev.isNull} = ${ev.value} == null;""")
  }

  override protected def withNewChildInternal(newChild: Expression): ParseCmcd = copy(child = newChild)

  override def prettyName: String = "vsa_parse_cmcd"
}

object ParseCmcd {
  private sealed trait Kind
  private case object Whole extends Kind
  private case object Dec extends Kind
  private case object Text extends Kind
  private case object Token extends Kind
  private case object Flag extends Kind

  /** The keys of docs/inputs.md (CMCD v1 and the v2 keys listed there), each with its column type. */
  private val Keys: Seq[(String, Kind)] = Seq(
    "br" -> Whole,
    "bl" -> Whole,
    "bs" -> Flag,
    "bsd" -> Whole,
    "cdn" -> Text,
    "cid" -> Text,
    "d" -> Whole,
    "dl" -> Whole,
    "e" -> Token,
    "msd" -> Whole,
    "mtp" -> Whole,
    "nor" -> Text,
    "nrr" -> Text,
    "ot" -> Token,
    "pr" -> Dec,
    "rtp" -> Whole,
    "sf" -> Token,
    "sid" -> Text,
    "st" -> Token,
    "sta" -> Token,
    "su" -> Flag,
    "tb" -> Whole,
    "ts" -> Whole,
    "ttfb" -> Whole,
    "ttlb" -> Whole,
    "v" -> Whole
  )
  private val KeyIndex: Map[String, (Int, Kind)] = Keys.zipWithIndex.map { case ((k, t), i) => k -> (i, t) }.toMap
  private val OtherIndex = Keys.length
  private val ErrorIndex = Keys.length + 1

  val KeyNames: Seq[String] = Keys.map(_._1)

  val ResultType: StructType = StructType(
    Keys.map { case (name, kind) =>
      StructField(
        name,
        kind match {
          case Whole        => LongType
          case Dec          => DoubleType
          case Flag         => BooleanType
          case Text | Token => StringType
        }
      )
    } ++ Seq(
      StructField("other", MapType(StringType, StringType, valueContainsNull = false)),
      StructField("error", StringType)
    )
  )

  def parse(text: String): InternalRow = parseWithDictionary(text)._1

  /** The row of `text` and the dictionary it was read from: `(null, null)` without CMCD, `(the row of the error, null)`
    * for a malformed dictionary.
    */
  def parseWithDictionary(text: String): (InternalRow, scala.collection.Map[String, SfValue]) =
    try
      CmcdParser.parse(text) match {
        case Some(dictionary) => (toRow(dictionary), dictionary)
        case None             => (null, null)
      }
    catch { case e: SfParseError => (failed(e.getMessage), null) }

  /** A key's value as text, as `other` keeps it: `nor` decoded, strings and tokens as text, anything else as JSON. */
  def text(key: String, value: SfValue): String = (if (key == "nor") decodedNor(value) else value).text

  private def failed(message: String): InternalRow = {
    val row = new GenericInternalRow(ResultType.length)
    row.update(ErrorIndex, UTF8String.fromString(message))
    row
  }

  private def toRow(dictionary: scala.collection.Map[String, SfValue]): InternalRow = {
    val row = new GenericInternalRow(ResultType.length)
    row.setLong(KeyIndex("v")._1, 1L)
    Keys.iterator.zipWithIndex.foreach { case ((_, Flag), i) => row.setBoolean(i, false); case _ => () }
    val otherKeys = Array.newBuilder[UTF8String]
    val otherValues = Array.newBuilder[UTF8String]
    def keep(k: String, v: SfValue): Unit = {
      otherKeys += UTF8String.fromString(k)
      otherValues += UTF8String.fromString(v.text)
    }
    for ((key, sent) <- dictionary) {
      val value = if (key == "nor") decodedNor(sent) else sent
      KeyIndex.get(key) match {
        case None                => keep(key, value)
        case Some((index, kind)) =>
          // v2 sends some keys as inner lists: the column takes the first item, `other` the whole list; parameters
          // stay in `other` too.
          val item = SfValue.bare(value) match {
            case SfInnerList(items) => keep(key, value); items.headOption.map(SfValue.bare)
            case single             => if (single ne value) keep(key, value); Some(single)
          }
          item.foreach(v => set(row, index, kind, key, v))
      }
    }
    row.update(OtherIndex, ArrayBasedMapData(otherKeys.result(), otherValues.result()))
    row
  }

  /** `nor` is a relative URL that players percent-encode inside the string: stored decoded, as common-media-library
    * decodes it.
    */
  private def decodedNor(value: SfValue): SfValue = value match {
    case SfString(s)                => SfString(CmcdParser.tryPercentDecode(s))
    case SfInnerList(items)         => SfInnerList(items.map(decodedNor))
    case SfWithParams(item, params) => SfWithParams(decodedNor(item), params)
    case other                      => other
  }

  private def set(row: GenericInternalRow, index: Int, kind: Kind, key: String, value: SfValue): Unit =
    (kind, value) match {
      case (Whole, SfInteger(n)) => row.setLong(index, n)
      case (Dec, SfDecimal(d))   => row.setDouble(index, d)
      case (Dec, SfInteger(n))   => row.setDouble(index, n.toDouble)
      case (Flag, SfBoolean(b))  => row.setBoolean(index, b)
      case (Text, SfString(s))   => row.update(index, UTF8String.fromString(s))
      case (Token, SfToken(t))   => row.update(index, UTF8String.fromString(t))
      case (Token, SfString(t))  => row.update(index, UTF8String.fromString(t)) // players that quote tokens
      case (expected, got) =>
        throw new SfParseError(s"$key: expected ${describe(expected)}, got ${describe(got)}")
    }

  private def describe(kind: Kind): String = kind match {
    case Whole => "an integer"
    case Dec   => "a decimal"
    case Flag  => "a boolean"
    case Text  => "a string"
    case Token => "a token"
  }

  private def describe(value: SfValue): String = value match {
    case _: SfInteger    => "an integer"
    case _: SfDecimal    => "a decimal"
    case _: SfBoolean    => "a boolean"
    case _: SfString     => "a string"
    case _: SfToken      => "a token"
    case _: SfBytes      => "a byte sequence"
    case _: SfInnerList  => "an inner list"
    case _: SfWithParams => "an item with parameters"
  }
}
