package vsa.spark.cdn

import org.apache.spark.sql.catalyst.InternalRow
import org.apache.spark.sql.catalyst.expressions.GenericInternalRow
import org.apache.spark.sql.catalyst.util.ArrayData
import org.apache.spark.sql.types._
import org.apache.spark.unsafe.types.UTF8String
import vsa.spark.cdn.LineRequest._

/** CloudFront real-time logs: tab-separated and positional, read by the names of the real-time log configuration's
  * fields ([[TabLine]]; docs/cdn.md gives the mapping): the fields of a standard log under their real-time names
  * (`CloudFront.readCommon`), the time as epoch seconds; the `cmcd-*` fields fill `cmcd_fields`, the CMCD headers in
  * `cs-headers` the `cmcd_text`.
  */
final class CloudFrontRealtime extends Serializable {
  import CloudFrontRealtime._

  private val tabs = new TabLine(CloudFront.Common.map(_._2) ++ Array("timestamp", "cs-headers") ++ CmcdFields.Names)

  def parse(line: UTF8String, names: ArrayData): InternalRow = {
    if (line == null || names == null) return null
    if (!isUtf8(line)) return notUtf8
    val field = tabs.fields(line, names)
    val row = new GenericInternalRow(ResultType.length)
    val texts = new Texts
    texts.timestamp = field(TimeField)
    if (texts.timestamp != null) {
      val micros = epochSeconds(texts.timestamp)
      if (micros != null) row.setLong(Timestamp, micros)
    }
    CloudFront.readCommon(field, row, texts)
    // The request's headers, `Name:value` lines joined by %0A: vsa_parse_cmcd reads the CMCD ones.
    val headers = field(HeadersField)
    if (headers != null && headers.toLowerCase.contains(CmcdPrefix)) row.update(CmcdText, decode(headers))
    row.update(CmcdFieldsIndex, CmcdFields.of(i => field(HeadersField + 1 + i)))
    val tooShort = field.tooShort
    validate(row, texts, if (tooShort == null) null else "bad_field_count", tooShort)
  }
}

object CloudFrontRealtime {
  // The real-time format's own fields, after CloudFront.Common (the cmcd-* fields follow them).
  private val TimeField = CloudFront.Common.length
  private val HeadersField = TimeField + 1

  private val CmcdPrefix = UTF8String.fromString("cmcd-")
}

/** CloudFront real-time's `cmcd-*` fields as the request's `cmcd_fields`: each field's CMCD key, typed as
  * `vsa_parse_cmcd` types it (python's `with_cmcd` fills the keys the query's or headers' CMCD lacks from it). Null in
  * the other formats, and for a line without any of these fields.
  */
object CmcdFields {

  // The field, its CMCD key and the key's type.
  private val Fields: Seq[(String, String, DataType)] = Seq(
    ("cmcd-encoded-bitrate", "br", LongType),
    ("cmcd-buffer-length", "bl", LongType),
    ("cmcd-buffer-starvation", "bs", BooleanType),
    ("cmcd-content-id", "cid", StringType),
    ("cmcd-object-duration", "d", LongType),
    ("cmcd-deadline", "dl", LongType),
    ("cmcd-measured-throughput", "mtp", LongType),
    ("cmcd-next-object-request", "nor", StringType),
    ("cmcd-next-range-request", "nrr", StringType),
    ("cmcd-object-type", "ot", StringType),
    ("cmcd-playback-rate", "pr", DoubleType),
    ("cmcd-requested-maximum-throughput", "rtp", LongType),
    ("cmcd-streaming-format", "sf", StringType),
    ("cmcd-session-id", "sid", StringType),
    ("cmcd-stream-type", "st", StringType),
    ("cmcd-startup", "su", BooleanType),
    ("cmcd-top-bitrate", "tb", LongType),
    ("cmcd-version", "v", LongType)
  )
  val Names: Array[String] = Fields.map(_._1).toArray
  val Type: StructType = StructType(Fields.map { case (_, key, kind) => StructField(key, kind) })
  private val Kinds = Fields.map(_._3).toArray
  private val True = UTF8String.fromString("true")
  private val One = UTF8String.fromString("1")

  /** The struct of the fields' values (`field(i)`: the text of `Names(i)`, null when absent), null when all are. A
    * boolean is true for `true` (any case) or `1`, else false (also when absent); a number not a number is null.
    */
  def of(field: Int => UTF8String): InternalRow = {
    val texts = Names.indices.map(field)
    if (texts.forall(_ == null)) return null
    val row = new GenericInternalRow(Names.length)
    for (i <- Names.indices) {
      val text = texts(i)
      Kinds(i) match {
        case BooleanType => row.setBoolean(i, text != null && (text.toLowerCase == True || text == One))
        case LongType    => setLong(row, i, text)
        case DoubleType =>
          if (text != null) {
            val value = toDouble(text)
            if (value != null) row.setDouble(i, value)
          }
        case _ => row.update(i, text)
      }
    }
    row
  }
}
