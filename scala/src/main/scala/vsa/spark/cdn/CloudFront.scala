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

  private val tabs = new TabLine(Common.map(_._1) ++ Array("date", "time"))

  def parse(line: UTF8String, names: ArrayData): InternalRow = {
    if (line == null || names == null) return null
    if (!isUtf8(line)) return notUtf8
    val field = tabs.fields(line, names)
    val row = new GenericInternalRow(ResultType.length)
    val texts = new Texts
    val date = field(Common.length)
    val time = field(Common.length + 1)
    if (date != null && time != null) {
      texts.timestamp = UTF8String.concat(date, T, time, Z)
      if (isDate(date)) {
        val micros = timestamp(texts.timestamp)
        if (micros != null) row.setLong(Timestamp, micros)
      }
    }
    readCommon(field, row, texts)
    val tooShort = field.tooShort
    validate(row, texts, if (tooShort == null) null else "bad_field_count", tooShort)
  }
}

object CloudFront {

  /** The fields both CloudFront formats read, by their names in a standard log's `#Fields:` list and in a real-time
    * log's; the constants below index this. Each format's own fields (the time) follow them.
    */
  private[cdn] val Common: Array[(String, String)] = Array(
    ("x-edge-location", "x-edge-location"),
    ("sc-bytes", "sc-bytes"),
    ("c-ip", "c-ip"),
    ("cs(Host)", "cs-host"),
    ("cs-uri-stem", "cs-uri-stem"),
    ("sc-status", "sc-status"),
    ("cs(User-Agent)", "cs-user-agent"),
    ("cs-uri-query", "cs-uri-query"),
    ("x-edge-result-type", "x-edge-result-type"),
    ("x-host-header", "x-host-header"),
    ("time-taken", "time-taken"),
    ("time-to-first-byte", "time-to-first-byte")
  )
  private final val LocationField = 0
  private final val BytesField = 1
  private final val IpField = 2
  private final val HostField = 3
  private final val StemField = 4
  private final val StatusField = 5
  private final val AgentField = 6
  private final val QueryField = 7
  private final val ResultField = 8
  private final val HostHeaderField = 9
  private final val TakenField = 10
  private final val TtfbField = 11

  private val Hits = Array("HIT", "REFRESHHIT").map(UTF8String.fromString)
  private val Misses = Array(UTF8String.fromString("MISS"))
  private val T = UTF8String.fromString("T")
  private val Z = UTF8String.fromString("Z")

  /** Sets the request's columns but the timestamp from the [[Common]] fields. The viewer's host is `x-host-header`
    * (`cs(Host)` is the distribution's own domain); a stem may hold the query too (real-time logs): the path stops at
    * its `?`, and `cs-uri-query`, when given, is the query. The user agent is URL-decoded, times are seconds, the cache
    * status is HIT for `Hit` and `RefreshHit`, MISS for `Miss`, else OTHER.
    */
  private[cdn] def readCommon(field: TabLine.Fields, row: GenericInternalRow, texts: Texts): Unit = {
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
  }

  /** `^\d{4}-\d{2}-\d{2}$`. */
  private def isDate(date: UTF8String): Boolean =
    date.numBytes == 10 && (0 until 10).forall { i =>
      val b = date.getByte(i)
      if (i == 4 || i == 7) b == '-' else b >= '0' && b <= '9'
    }
}
