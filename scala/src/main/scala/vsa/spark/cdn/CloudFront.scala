package vsa.spark.cdn

import org.apache.spark.sql.catalyst.InternalRow
import org.apache.spark.sql.catalyst.expressions.GenericInternalRow
import org.apache.spark.sql.catalyst.util.{ArrayData, GenericArrayData}
import org.apache.spark.unsafe.types.UTF8String
import vsa.spark.cdn.LineRequest._

/** CloudFront standard logs: a tab-separated line read by the names of its `#Fields:` list, `-` for missing
  * (python/vsa/normalize/cdn/cloudfront.py documents the mapping). A line may be shorter than its list (an older
  * layout: the fields it lacks are null) or longer (ignored), but not shorter than the oldest layout's 23 fields unless
  * its list is.
  */
final class CloudFront extends Serializable {
  import CloudFront._

  // The positions of the read fields in the last field list seen (the list as given, a copy of it, the positions):
  // every line of a file has the same list.
  @transient @volatile private var layout: (ArrayData, ArrayData, Array[Int]) = _

  def parse(line: UTF8String, names: ArrayData): InternalRow = {
    if (line == null || names == null) return null
    if (!isUtf8(line)) return notUtf8
    val positions = positionsIn(names)
    val starts = tabStarts(line)
    val count = starts.length - 1 // starts holds one past the end of the last field too
    def field(name: Int): UTF8String = {
      val p = positions(name)
      if (p < 0 || p >= count) null else dash(slice(line, starts(p), starts(p + 1) - 1))
    }
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
    val host = field(HostHeaderField)
    row.update(Host, if (host != null) host else field(HostField))
    val stem = field(StemField)
    row.update(Path, targetPath(stem))
    val query = field(QueryField)
    row.update(Query, if (query != null) query else targetQuery(stem))
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
    val least = math.min(names.numElements(), MinFields)
    if (count < least)
      validate(
        row,
        texts,
        "bad_field_count",
        s"$count tab-separated fields, fewer than the oldest layout's $MinFields " +
          s"(its field list has ${names.numElements()})"
      )
    else validate(row, texts, null, null)
  }

  private def positionsIn(names: ArrayData): Array[Int] = {
    val known = layout
    // A constant list (the configured or documented one, a file's) is the same immutable object on every row; any other
    // (an UnsafeArrayData) may be a view of a reused buffer, so it is compared with the copy.
    if (known != null && names.isInstanceOf[GenericArrayData] && (known._1 eq names)) return known._3
    if (known != null && known._2 == names) return known._3
    val listed =
      (0 until names.numElements()).map(i => if (names.isNullAt(i)) null else names.getUTF8String(i).toString)
    val positions = Read.map(name => listed.indexOf(name)).toArray
    layout = (names, names.copy(), positions)
    positions
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

  // The fewest fields a row may have: the 2016 layout's 23 (newer layouts add fields at the end).
  val MinFields = 23
  private val Hits = Array("HIT", "REFRESHHIT").map(UTF8String.fromString)
  private val Misses = Array(UTF8String.fromString("MISS"))
  private val T = UTF8String.fromString("T")
  private val Z = UTF8String.fromString("Z")

  /** The start of each tab-separated field, and one more entry: one past the end of the line plus one (so field `i` is
    * `[starts(i), starts(i + 1) - 1)`).
    */
  private[cdn] def tabStarts(line: UTF8String): Array[Int] = {
    var starts = new Array[Int](64)
    var count = 1
    var from = 0
    var tab = indexOf(line, '\t', from)
    while (tab >= 0) {
      if (count == starts.length) starts = java.util.Arrays.copyOf(starts, count * 2)
      starts(count) = tab + 1
      count += 1
      from = tab + 1
      tab = indexOf(line, '\t', from)
    }
    if (count == starts.length) starts = java.util.Arrays.copyOf(starts, count + 1)
    starts(count) = line.numBytes + 1
    java.util.Arrays.copyOf(starts, count + 1)
  }

  /** `^\d{4}-\d{2}-\d{2}$`. */
  private def isDate(date: UTF8String): Boolean =
    date.numBytes == 10 && (0 until 10).forall { i =>
      val b = date.getByte(i)
      if (i == 4 || i == 7) b == '-' else b >= '0' && b <= '9'
    }
}
