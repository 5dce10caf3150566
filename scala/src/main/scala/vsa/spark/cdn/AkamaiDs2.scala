package vsa.spark.cdn

import org.apache.spark.sql.catalyst.InternalRow
import org.apache.spark.sql.catalyst.expressions.GenericInternalRow
import org.apache.spark.unsafe.types.UTF8String
import vsa.spark.cdn.LineRequest._

/** Akamai DataStream 2: one JSON object per line (docs/cdn.md gives the mapping), read by [[JsonLine]]. Keys are
  * matched case-insensitively (a logging pipeline may lower-case them); a value may be a string or a number; `-`, `^`,
  * `""` (the two characters) and the empty string are placeholders for none. A key given twice (in any case) keeps its
  * last value.
  */
object AkamaiDs2 {

  // The keys read, as DataStream names them; the constants below index this.
  private val Keys = Array(
    "reqTimeSec",
    "cliIP",
    "UA",
    "reqHost",
    "reqPath",
    "queryStr",
    "statusCode",
    "bytes",
    "totalBytes",
    "timeToFirstByte",
    "turnAroundTimeMSec",
    "transferTimeMSec",
    "cacheStatus",
    "serverCountry",
    "edgeIP",
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
  private final val TotalBytesKey = 8
  private final val TtfbKey = 9
  private final val TurnaroundKey = 10
  private final val TransferKey = 11
  private final val CacheKey = 12
  private final val CountryKey = 13
  private final val EdgeIpKey = 14
  private final val CmcdKey = 15

  private val Reader = new JsonLine(Keys, anyCase = true)

  private val Hits = Array(UTF8String.fromString("1"))
  private val Misses = Array(UTF8String.fromString("0"))
  private val Slash = UTF8String.fromString("/")
  private val Caret = UTF8String.fromString("^")
  private val QuotePair = UTF8String.fromString("\"\"")

  def parse(line: UTF8String): InternalRow = {
    if (line == null) return null
    if (!isUtf8(line)) return notUtf8
    val row = new GenericInternalRow(ResultType.length)
    val texts = new Texts
    val values = Reader.read(line)
    if (values == null) return validate(row, texts, "malformed_json", "not a JSON object")
    def get(key: Int): UTF8String = {
      val value = dash(values(key))
      if (value == Caret || value == QuotePair) null else value
    }
    texts.timestamp = get(TimeKey)
    if (texts.timestamp != null) {
      val micros = epochSeconds(texts.timestamp)
      if (micros != null) row.setLong(Timestamp, micros)
    }
    row.update(ClientIp, get(IpKey))
    row.update(UserAgent, userAgent(get(AgentKey)))
    row.update(Host, get(HostKey))
    val path = get(PathKey)
    // reqPath may come without its leading '/'.
    if (path != null) row.update(Path, decode(if (path.startsWith(Slash)) path else UTF8String.concat(Slash, path)))
    row.update(Query, get(QueryKey))
    texts.status = get(StatusKey)
    setInt(row, Status, texts.status)
    texts.bytes = coalesce(get(BytesKey), get(TotalBytesKey))
    setLong(row, Bytes, texts.bytes)
    val turnaround = get(TurnaroundKey)
    val transfer = get(TransferKey)
    texts.ttfbMs = coalesce(get(TtfbKey), turnaround)
    setDouble(row, TtfbMs, texts.ttfbMs, 1)
    // Turnaround (to the first byte) plus transfer (first to last byte), an absent one counting 0; a part that is not a
    // finite number makes the sum none, and the line is rejected with that part's text, as in every format.
    val (turnaroundMs, transferMs) = (milliseconds(turnaround), milliseconds(transfer))
    texts.downloadMs = if (!java.lang.Double.isFinite(transferMs)) transfer else coalesce(turnaround, transfer)
    if (texts.downloadMs != null) setFinite(row, DownloadMs, turnaroundMs + transferMs)
    row.update(CacheStatus, cache(get(CacheKey), Hits, Misses))
    row.update(Pop, coalesce(get(CountryKey), get(EdgeIpKey)))
    val cmcd = get(CmcdKey)
    if (cmcd != null) row.update(CmcdText, decode(cmcd))
    validate(row, texts, null, null)
  }

  /** 0 for none, NaN for text that is not a number. */
  private def milliseconds(text: UTF8String): Double = {
    val value = if (text == null) null else toDouble(text)
    if (value != null) value else if (text == null) 0.0 else Double.NaN
  }
}
