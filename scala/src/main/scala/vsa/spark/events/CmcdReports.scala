package vsa.spark.events

import org.apache.commons.codec.digest.DigestUtils
import org.apache.spark.sql.catalyst.InternalRow
import org.apache.spark.sql.catalyst.util.{ArrayBasedMapData, MapData}
import org.apache.spark.unsafe.types.UTF8String
import vsa.spark.cmcd.SfValue
import vsa.spark.expressions.ParseCmcd

/** CMCD v2 event reports (CTA-5004-B event mode) as player events.
  *
  * A CMCD v2 player POSTs reports of its play state to a collector (`vsa collect`): one CMCD dictionary a line. The
  * collector writes each line to the player topic as a JSON envelope, `{"cmcd": "<the line>", "received_at": <ms>,
  * "client_ip": "...", "user_agent": "..."}`, since a report carries neither the client's address nor its user agent; a
  * bare line (another producer, a file of lines) is read too. A report becomes the fields of vsa's own JSON events, so
  * one validation reads both (docs/views.md, "CMCD v2 event reports").
  */
object CmcdReports {

  /** The play states (`sta`) of an `e=ps` report, as event types of the event model. */
  val StateEvents: Map[String, String] = Map(
    "s" -> "playback_request", // starting
    "p" -> "playback_start", // playing: the first frame, or the end of a stall, pause or seek
    "r" -> "playback_stall", // rebuffering (before the first frame: startup, not a stall)
    "a" -> "playback_pause",
    "k" -> "seek_start",
    "e" -> "playback_finish",
    "f" -> "playback_fail",
    "q" -> "view_end"
  )

  /** The other events (`e`) that become events of the model; `t` and `c` are ruled in [[eventType]]. */
  val ReportEvents: Map[String, String] = Map(
    "e" -> "playback_fail", // an error, with `ec`
    "bc" -> "rendition_update", // a bitrate change, with `br`
    "abs" -> "ad_break_start",
    "abe" -> "ad_break_end"
  )

  /** Play states a heartbeat (`e=t`) may carry while its view lasts. One that carries an end state (e, f, q) is a
    * report after the view closed: it must not open a view of its own.
    */
  val LiveStates: Set[String] = Set("s", "p", "r", "a", "k", "w", "d")

  /** Report keys that are fields of the model; every other key is kept in `extra` as `cmcd_<key>`. */
  val FieldKeys: Set[String] = Set("sid", "cid", "ts", "br", "pt", "ec")

  /** A record that is a report: its fields (null for a report the model has no use for) and, for such a report, its
    * time (what the source's watermark follows, whether the model uses the report or not; a used report's is its `ts`).
    */
  final class Report(val fields: PlayerEvents.Fields, val time: java.lang.Long)

  /** The report a record holds: an envelope's `cmcd`, or a record that is not JSON (`json` absent) and reads as a CMCD
    * dictionary with an event key `e` (anything else that is not JSON stays malformed JSON); null for no report.
    */
  def of(json: PlayerEvents.Fields, raw: UTF8String): Report = {
    val enveloped = json.get("cmcd")
    val text = if (json.isEmpty) raw else enveloped
    if (text == null) return null
    val (cmcd, dictionary) = ParseCmcd.parseWithDictionary(text.toString)
    val bare = cmcd != null && cmcd.isNullAt(Error) && !cmcd.isNullAt(E)
    if (enveloped == null && !bare) return null
    val used = fields(text, cmcd, dictionary, json)
    // An unused report has no error (that would be a field), so its row is read.
    val time =
      if (used != null || cmcd.isNullAt(Ts)) null
      else PlayerEvents.timestampOf(UTF8String.fromString(java.lang.Long.toString(cmcd.getLong(Ts))))
    new Report(used, time)
  }

  /** A report as the fields a vsa JSON event would have: `event_type` by the rules of [[eventType]], `sid` as
    * `session_id`, `cid` as `video_id`, `ts`, `br` as `bitrate_kbps`, `pt` as `playhead_ms`, `ec` as `error_code`; the
    * envelope's `received_at`, `client_ip` and `user_agent`; `event_id` a digest of the line, so a report the player
    * sent twice (its reporter retries) counts once. Every other key is kept as `cmcd_<key>` (its text, as
    * `vsa_parse_cmcd`'s `other` keeps it), but `cmcd_e` and `cmcd_sta`, which are the bare tokens even when the report
    * gave them parameters.
    *
    * Only `cmcd_error` for a line that is not a CMCD dictionary, or that has no `e`. Null for a report the model has no
    * use for (docs/views.md, "CMCD v2 event reports").
    */
  private def fields(
      text: UTF8String,
      cmcd: InternalRow,
      dictionary: scala.collection.Map[String, SfValue],
      envelope: PlayerEvents.Fields
  ): PlayerEvents.Fields = {
    val error =
      if (cmcd != null && !cmcd.isNullAt(Error)) cmcd.getUTF8String(Error).toString
      else if (cmcd == null || cmcd.isNullAt(E)) "no event key e: not an event report"
      else null
    if (error != null)
      return PlayerEvents.Fields.of(map(Array(CmcdError), Array(UTF8String.fromString(error))))
    val event = cmcd.getUTF8String(E)
    val state = if (cmcd.isNullAt(Sta)) null else cmcd.getUTF8String(Sta)
    val other = cmcd.getMap(Other)
    val errorCode = lookup(other, "ec")
    val kind = eventType(event.toString, if (state == null) null else state.toString, errorCode != null)
    if (kind == null) return null
    val keys = Array.newBuilder[UTF8String]
    val values = Array.newBuilder[UTF8String]
    def put(key: String, value: UTF8String): Unit = if (value != null) {
      keys += UTF8String.fromString(key)
      values += value
    }
    def long(index: Int): UTF8String =
      if (cmcd.isNullAt(index)) null else UTF8String.fromString(java.lang.Long.toString(cmcd.getLong(index)))
    put("event_id", UTF8String.fromString(DigestUtils.sha256Hex(text.getBytes).substring(0, 32)))
    put("event_type", UTF8String.fromString(kind))
    put("ts", long(Ts))
    put("session_id", string(cmcd, Sid))
    put("video_id", string(cmcd, Cid))
    put("bitrate_kbps", long(Br))
    put("playhead_ms", lookup(other, "pt"))
    put("error_code", errorCode)
    put("client_ip", envelope.get("client_ip"))
    put("user_agent", envelope.get("user_agent"))
    put("received_at", envelope.get("received_at"))
    put("cmcd_e", event)
    put("cmcd_sta", state)
    val named = keys.result().map(_.toString).toSet
    for ((key, value) <- dictionary if !FieldKeys.contains(key) && !named.contains(CmcdPrefix + key))
      put(CmcdPrefix + key, UTF8String.fromString(ParseCmcd.text(key, value)))
    PlayerEvents.Fields.of(map(keys.result(), values.result()))
  }

  /** The event type of a report (`e`, `sta`): null for an event the model has no use for (`rr`, `m`, `b`…), a heartbeat
    * after the view ended, and any report but the error itself that carries `ec` (the error closed the view as failed;
    * a player keeps reporting it).
    */
  def eventType(event: String, state: String, carriesError: Boolean): String =
    if (carriesError && event != "e") null
    else if (event == "ps") StateEvents.getOrElse(state, null)
    else if (ReportEvents.contains(event)) ReportEvents(event)
    // The view starts at its first report: a heartbeat before any play state, or a new content id (which closes the
    // view of the previous one).
    else if (event == "t" && state == null) "playback_request"
    else if (event == "t" && LiveStates.contains(state)) "heartbeat"
    else if (event == "c") "playback_request"
    else null

  private val Keys = ParseCmcd.ResultType
  private val E = Keys.fieldIndex("e")
  private val Sta = Keys.fieldIndex("sta")
  private val Ts = Keys.fieldIndex("ts")
  private val Sid = Keys.fieldIndex("sid")
  private val Cid = Keys.fieldIndex("cid")
  private val Br = Keys.fieldIndex("br")
  private val Other = Keys.fieldIndex("other")
  private val Error = Keys.fieldIndex("error")

  private val CmcdError = UTF8String.fromString("cmcd_error")
  private val CmcdPrefix = "cmcd_"

  private def string(row: InternalRow, index: Int): UTF8String =
    if (row.isNullAt(index)) null else row.getUTF8String(index)

  /** The value of `key` in `map` (its first entry of that key); null when absent. */
  private def lookup(map: MapData, key: String): UTF8String = {
    val wanted = UTF8String.fromString(key)
    val keys = map.keyArray()
    var i = 0
    while (i < map.numElements()) {
      if (keys.getUTF8String(i) == wanted) return map.valueArray().getUTF8String(i)
      i += 1
    }
    null
  }

  private def map(keys: Array[UTF8String], values: Array[UTF8String]): MapData = ArrayBasedMapData(keys, values)
}
