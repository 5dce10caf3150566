package vsa.spark.cdn

import org.apache.spark.sql.catalyst.InternalRow
import org.apache.spark.sql.catalyst.expressions.GenericInternalRow
import org.apache.spark.unsafe.types.UTF8String
import vsa.spark.cdn.LineRequest._

/** Edgio (Edgecast) RTLD: one JSON object per line (docs/cdn.md gives the mapping), read by [[JsonLine]]; keys match
  * exactly, `-` and the empty string are none. (An array or an `{"logs": [...]}` envelope is split into its entries
  * before, one line each.)
  */
object Edgecast {

  // The keys read; the constants below index this.
  private val Keys = Array(
    "timestamp",
    "client_ip",
    "user_agent",
    "host",
    "path",
    "query",
    "status_code",
    "bytes_out",
    "prewrite_time",
    "total_time",
    "cache_status",
    "pop",
    "cmcd"
  )
  private final val TimeKey = 0
  private final val IpKey = 1
  private final val AgentKey = 2
  private final val HostKey = 3
  private final val PathKey = 4
  private final val QueryKey = 5
  private final val StatusKey = 6
  private final val BytesKey = 7
  private final val PrewriteKey = 8
  private final val TotalKey = 9
  private final val CacheKey = 10
  private final val PopKey = 11
  private final val CmcdKey = 12

  private val Reader = new JsonLine(Keys, anyCase = false)
  private val Hits =
    Array("TCP_HIT", "TCP_MEM_HIT", "TCP_EXPIRED_HIT", "TCP_PARTIAL_HIT", "TCP_REFRESH_HIT").map(UTF8String.fromString)
  private val Misses =
    Array("TCP_MISS", "TCP_EXPIRED_MISS", "TCP_CLIENT_REFRESH_MISS", "TCP_REFRESH_MISS").map(UTF8String.fromString)

  def parse(line: UTF8String): InternalRow = {
    if (line == null) return null
    if (!isUtf8(line)) return notUtf8
    val row = new GenericInternalRow(ResultType.length)
    val texts = new Texts
    val values = Reader.read(line)
    if (values == null) return validate(row, texts, "malformed_json", "not a JSON object")
    def get(key: Int): UTF8String = dash(values(key))
    texts.timestamp = get(TimeKey)
    if (texts.timestamp != null) {
      val micros = epochSeconds(texts.timestamp)
      if (micros != null) row.setLong(Timestamp, micros)
    }
    row.update(ClientIp, get(IpKey))
    row.update(UserAgent, get(AgentKey))
    row.update(Host, get(HostKey))
    row.update(Path, get(PathKey))
    // RTLD writes the query with its `?`.
    val query = get(QueryKey)
    row.update(Query, if (query != null && query.getByte(0) == '?') slice(query, 1, query.numBytes) else query)
    texts.status = get(StatusKey)
    setInt(row, Status, texts.status)
    texts.bytes = get(BytesKey)
    setLong(row, Bytes, texts.bytes)
    // prewrite_time: request received to response start; total_time: to the last byte (write_time is only the write
    // phase, not a download time). Seconds.
    texts.ttfbMs = get(PrewriteKey)
    setDouble(row, TtfbMs, texts.ttfbMs, 1000)
    texts.downloadMs = get(TotalKey)
    setDouble(row, DownloadMs, texts.downloadMs, 1000)
    row.update(CacheStatus, cache(get(CacheKey), Hits, Misses))
    row.update(Pop, get(PopKey))
    row.update(CmcdText, get(CmcdKey))
    validate(row, texts, null, null)
  }
}
