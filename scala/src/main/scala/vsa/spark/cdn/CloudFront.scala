package vsa.spark.cdn

import org.apache.spark.sql.catalyst.InternalRow
import org.apache.spark.sql.catalyst.expressions.GenericInternalRow
import org.apache.spark.sql.catalyst.util.ArrayData
import org.apache.spark.unsafe.types.UTF8String
import vsa.spark.cdn.LineRequest._

/** CloudFront standard logs: a tab-separated line read by the names of its `#Fields:` list ([[TabLine]]; docs/cdn.md
  * gives the mapping).
  */
final class CloudFront extends Serializable {
  import CloudFront._

  private val tabs = new TabLine(Read)

  def parse(line: UTF8String, names: ArrayData): InternalRow = {
    if (line == null || names == null) return null
    if (!isUtf8(line)) return notUtf8
    val field = tabs.fields(line, names)
    val row = new GenericInternalRow(ResultType.length)
    val texts = new Texts
    val date = field(DateField)
    val time = field(TimeField)
    if (date != null && time != null) {
      texts.timestamp = UTF8String.concat(date, T, time, Z)
      if (isDate(date)) {
        val micros = timestamp(texts.timestamp)
        if (micros != null) row.setLong(Timestamp, micros)
      }
    }
    row.update(ClientIp, field(IpField))
    row.update(UserAgent, userAgent(field(AgentField)))
    row.update(Host, coalesce(field(HostHeaderField), field(HostField)))
    val stem = field(StemField)
    row.update(Path, targetPath(stem))
    row.update(Query, coalesce(field(QueryField), targetQuery(stem)))
    texts.status = field(StatusField)
    setInt(row, Status, texts.status)
    texts.bytes = field(BytesField)
    setLong(row, Bytes, texts.bytes)
    texts.ttfbMs = field(TtfbField)
    setDouble(row, TtfbMs, texts.ttfbMs, 1000)
    texts.downloadMs = field(TakenField)
    setDouble(row, DownloadMs, texts.downloadMs, 1000)
    row.update(CacheStatus, cache(field(ResultField), Hits, Misses))
    row.update(Pop, field(LocationField))
    val tooShort = field.tooShort
    validate(row, texts, if (tooShort == null) null else "bad_field_count", tooShort)
  }
}

object CloudFront {
  // The fields read, by their names in the `#Fields:` list; the constants below index this.
  private val Read = Array(
    "date",
    "time",
    "x-edge-location",
    "sc-bytes",
    "c-ip",
    "cs(Host)",
    "cs-uri-stem",
    "sc-status",
    "cs(User-Agent)",
    "cs-uri-query",
    "x-edge-result-type",
    "x-host-header",
    "time-taken",
    "time-to-first-byte"
  )
  private final val DateField = 0
  private final val TimeField = 1
  private final val LocationField = 2
  private final val BytesField = 3
  private final val IpField = 4
  private final val HostField = 5
  private final val StemField = 6
  private final val StatusField = 7
  private final val AgentField = 8
  private final val QueryField = 9
  private final val ResultField = 10
  private final val HostHeaderField = 11
  private final val TakenField = 12
  private final val TtfbField = 13

  // x-edge-result-type: Hit and RefreshHit are hits (real-time logs name it the same).
  private[cdn] val Hits = Array("HIT", "REFRESHHIT").map(UTF8String.fromString)
  private[cdn] val Misses = Array(UTF8String.fromString("MISS"))
  private val T = UTF8String.fromString("T")
  private val Z = UTF8String.fromString("Z")

  /** `^\d{4}-\d{2}-\d{2}$`. */
  private def isDate(date: UTF8String): Boolean =
    date.numBytes == 10 && (0 until 10).forall { i =>
      val b = date.getByte(i)
      if (i == 4 || i == 7) b == '-' else b >= '0' && b <= '9'
    }
}
