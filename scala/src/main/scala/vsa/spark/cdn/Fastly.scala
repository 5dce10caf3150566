package vsa.spark.cdn

import org.apache.spark.sql.catalyst.InternalRow
import org.apache.spark.sql.catalyst.expressions.GenericInternalRow
import org.apache.spark.unsafe.types.UTF8String
import vsa.spark.cdn.LineRequest._

/** Fastly: one JSON object per line, read by [[JsonLine]]; keys match exactly, `-` and the empty string are none.
  * Fastly has no fixed format: the [[Fastly.Preset]] reads the names real formats use (`start_time`, `client_ip`,
  * `req_uri`, `resp_status`, ...) and those of vsa's own VCL format (docs/cdn.md); `fieldMap` (the configuration's
  * `fastly_field_map`) replaces a name's keys with the one key it gives.
  */
final class Fastly(fieldMap: Map[String, String]) extends Serializable {
  import Fastly._

  // The keys read for each name of the preset, in the preset's order, the first present wins.
  private val keysOf: Array[Array[String]] = Preset.map { case (name, keys) => fieldMap.get(name).fold(keys)(Array(_)) }
  private val keys: Array[String] = keysOf.flatten.distinct
  private val indexes: Array[Array[Int]] = keysOf.map(_.map(keys.indexOf(_)))
  private val reader = new JsonLine(keys, anyCase = false)

  def parse(line: UTF8String): InternalRow = {
    if (line == null) return null
    if (!isUtf8(line)) return notUtf8
    val row = new GenericInternalRow(ResultType.length)
    val texts = new Texts
    val values = reader.read(line)
    if (values == null) return validate(row, texts, "malformed_json", "not a JSON object")
    def get(name: Int): UTF8String = {
      val candidates = indexes(name)
      var i = 0
      while (i < candidates.length) {
        val value = dash(values(candidates(i)))
        if (value != null) return value
        i += 1
      }
      null
    }
    texts.timestamp = get(TimeName)
    if (texts.timestamp != null) {
      // Epoch seconds, or ISO-8601 text with its offset.
      val micros = coalesceLong(epochSeconds(texts.timestamp), timestamp(texts.timestamp))
      if (micros != null) row.setLong(Timestamp, micros)
    }
    row.update(ClientIp, get(IpName))
    row.update(UserAgent, get(AgentName))
    row.update(Host, get(HostName))
    val url = get(UrlName) // path and query
    row.update(Path, targetPath(url))
    row.update(Query, targetQuery(url))
    texts.status = get(StatusName)
    setInt(row, Status, texts.status)
    texts.bytes = get(BytesName)
    setLong(row, Bytes, texts.bytes)
    texts.ttfbMs = get(TtfbName) // time.to_first_byte, seconds
    setDouble(row, TtfbMs, texts.ttfbMs, 1000)
    texts.downloadMs = get(ElapsedName) // time.elapsed.usec
    if (texts.downloadMs != null) {
      val micros = toDouble(texts.downloadMs)
      if (micros != null) setFinite(row, DownloadMs, micros / 1000)
    }
    // fastly_info.state: HIT, HIT-STALE, HIT-CLUSTER, MISS, MISS-CLUSTER, PASS, ERROR, ...
    val state = get(CacheName)
    if (state != null) {
      val upper = state.toUpperCase
      row.update(CacheStatus, if (upper.startsWith(Hit)) Hit else if (upper.startsWith(Miss)) Miss else Other)
    }
    row.update(Pop, get(PopName))
    row.update(CmcdText, get(CmcdName))
    validate(row, texts, null, null)
  }
}

object Fastly {

  /** The preset: a normalized name and the JSON keys read for it, the first present wins (the names of real Fastly
    * formats first, then those of vsa's VCL format in docs/cdn.md). The constants below index this.
    */
  val Preset: Array[(String, Array[String])] = Array(
    "timestamp" -> Array("start_time", "timestamp"), // epoch seconds, or ISO-8601 with offset
    "client_ip" -> Array("client_ip"),
    "user_agent" -> Array("req_h_user_agent", "user_agent"),
    "host" -> Array("req_h_host", "host"),
    "url" -> Array("req_uri", "url"), // path and query
    "status" -> Array("resp_status", "status"),
    "bytes" -> Array("resp_bytes", "bytes"),
    "elapsed_us" -> Array("time_elapsed"), // time.elapsed.usec
    "ttfb_s" -> Array("time_to_first_byte"), // time.to_first_byte, seconds
    "cache_state" -> Array("fastly_info", "fastly_info_state"), // fastly_info.state
    "pop" -> Array("datacenter", "pop"), // server.datacenter
    "cmcd" -> Array("cmcd") // any of the four CMCD headers, joined by ","
  )
  private final val TimeName = 0
  private final val IpName = 1
  private final val AgentName = 2
  private final val HostName = 3
  private final val UrlName = 4
  private final val StatusName = 5
  private final val BytesName = 6
  private final val ElapsedName = 7
  private final val TtfbName = 8
  private final val CacheName = 9
  private final val PopName = 10
  private final val CmcdName = 11

  private val Hit = UTF8String.fromString("HIT")
  private val Miss = UTF8String.fromString("MISS")
  private val Other = UTF8String.fromString("OTHER")

  /** Why a field map cannot be used (names the preset lacks), null if it can. */
  def unknownNames(fieldMap: Map[String, String]): String = {
    val unknown = fieldMap.keySet -- Preset.map(_._1)
    if (unknown.isEmpty) null
    else
      s"fastly field map: unknown names ${unknown.toSeq.sorted.mkString("['", "', '", "']")}; names are " +
        Preset.map(_._1).mkString(", ")
  }

  private def coalesceLong(first: java.lang.Long, second: java.lang.Long): java.lang.Long =
    if (first != null) first else second
}
