package vsa.spark.events

import java.util.regex.Pattern

import org.apache.spark.sql.catalyst.InternalRow
import org.apache.spark.sql.catalyst.expressions.GenericInternalRow
import org.apache.spark.sql.catalyst.util.MapData
import org.apache.spark.sql.types._
import org.apache.spark.unsafe.types.UTF8String
import vsa.spark.cdn.LineRequest
import vsa.spark.expressions.{JsonObjectFields, MapWithout}
import vsa.spark.sessions.Sessionizer

/** Player events (docs/events.md): one record's text in, the typed event and the reason it is not one out, in one pass
  * over the record.
  *
  * A JSON record is first read as the map of its top-level fields, so that one wrong field names its own reason instead
  * of blanking the whole record, and unknown fields survive in `extra`. A CMCD v2 event report becomes the fields a
  * JSON event would have ([[CmcdReports]]), so one validation reads both. Each conversion has the semantics of the
  * Spark SQL function named beside it.
  */
object PlayerEvents {

  val StringFields: Seq[String] = Seq(
    "event_id",
    "event_type",
    "session_id",
    "viewer_id",
    "video_id",
    "stream_type",
    "player_name",
    "player_version",
    "user_agent",
    "client_ip",
    "cdn",
    "error_code",
    "error_message",
    // The CMCD session id the player sends its CDN requests with, when it is not session_id.
    "cmcd_sid"
  )
  val IntegerFields: Seq[String] = Seq(
    "bitrate_kbps",
    "video_width",
    "video_height",
    // The player's display size, on any event, held until an event says otherwise.
    "player_width",
    "player_height",
    "playhead_ms"
  )
  val RequiredFields: Seq[String] = Seq("event_id", "event_type", "ts", "session_id")
  val KnownFields: Seq[String] = StringFields ++ IntegerFields :+ "ts"

  /** Limits of what one record may store: a larger record, or one with more top-level fields, is a `too_large` dead
    * letter.
    */
  val MaxRecordBytes = 65536
  val MaxFields = 100

  /** Events stamped before this are a broken clock (0, -1000, year 0000) or seconds sent as ms (1.7e9 ms is January
    * 1970), not history: `vsa batch` can backfill anything after it.
    */
  val MinEventTime = "2000-01-01T00:00:00Z"

  /** Events stamped further ahead of the batch's time than this are a broken clock, not the future. */
  val MaxFutureSkewSeconds = 3600L

  val EventType: StructType = StructType(
    StringFields.map(StructField(_, StringType)) ++ IntegerFields.map(StructField(_, LongType)) ++ Seq(
      StructField("ts", TimestampType),
      StructField("extra", JsonObjectFields.Fields)
    )
  )

  /** The parse of one record: the event (its fields null where absent; set for a bad record too, as far as it reads),
    * `reason` and `detail` (null for a valid event), `ignored` (a CMCD report of no use to the model: neither an event
    * nor a dead letter), `clock_offset` (what the record says of its device's clock) and `event_time` (what a source's
    * watermark follows).
    */
  val ResultType: StructType = StructType(
    Seq(
      StructField("event", EventType),
      StructField("reason", StringType),
      StructField("detail", StringType),
      StructField("ignored", BooleanType, nullable = false),
      StructField("clock_offset", LongType),
      StructField("event_time", TimestampType)
    )
  )

  private val Event = 0
  private val Reason = 1
  private val Detail = 2
  private val Ignored = 3
  private val ClockOffset = 4
  private val EventTime = 5

  private val TsIndex = StringFields.length + IntegerFields.length
  private val ExtraIndex = TsIndex + 1

  private val MinEventMicros: Long = LineRequest.timestamp(UTF8String.fromString(MinEventTime))
  private val MaxFutureSkewMicros = MaxFutureSkewSeconds * 1000000L

  private val EventTypes: java.util.Set[UTF8String] = utf8Set(Sessionizer.EventTypes)
  private val Known: java.util.Set[UTF8String] = utf8Set(KnownFields)

  /** The parse of `raw` (null: not one JSON object), its JSON read by `json`. `received`: the record's arrival as its
    * transport stamped it (the Kafka timestamp, microseconds; null without one), which the record's own `received_at`
    * overrides. `now`: the batch's time; `boundSeconds`: the largest device clock offset believed (docs/views.md,
    * "Device clocks").
    */
  def parse(
      json: JsonObjectFields,
      raw: UTF8String,
      received: java.lang.Long,
      now: Long,
      boundSeconds: Long
  ): InternalRow = {
    val latest = if (now > Long.MaxValue - MaxFutureSkewMicros) Long.MaxValue else now + MaxFutureSkewMicros
    val result = new GenericInternalRow(ResultType.length)
    result.setBoolean(Ignored, false)
    val record = read(json, raw)
    val event = typed(record.fields)
    result.update(Event, event)
    if (record.ignored) result.setBoolean(Ignored, true)
    else {
      val rejection = validate(raw, record, event, latest)
      if (rejection != null) {
        result.update(Reason, UTF8String.fromString(rejection._1))
        result.update(Detail, UTF8String.fromString(rejection._2))
      }
    }
    val receipt = coalesce(timestampOf(record.receivedAt), received)
    val ts: java.lang.Long =
      if (record.ignored) record.reportTime else if (event.isNullAt(TsIndex)) null else event.getLong(TsIndex)
    val offset = clockOffset(ts, receipt, boundSeconds)
    if (!record.ignored && offset != null) result.setLong(ClockOffset, offset)
    // A clock believed gives way to the receipt time, so that a device whose clock runs fast cannot move the watermark;
    // a replay keeps its own time. An absurd time moves nothing.
    val time = if (offset != null) receipt else ts
    if (time != null && time >= MinEventMicros && time <= latest) result.setLong(EventTime, time)
    result
  }

  /** A record read as far as it goes: its fields (JSON, or a report's as JSON's), or why it has none. */
  private final class Record(
      val fields: Fields,
      val bytes: Int,
      val utf8: Boolean,
      val ignored: Boolean,
      val reportTime: java.lang.Long,
      val receivedAt: UTF8String
  )

  private def read(reader: JsonObjectFields, raw: UTF8String): Record = {
    if (raw == null) return new Record(Fields.Absent, 0, utf8 = true, ignored = false, null, null)
    val bytes = raw.numBytes
    val utf8 = LineRequest.isUtf8(raw)
    if (!utf8 || bytes > MaxRecordBytes) return new Record(Fields.Absent, bytes, utf8, ignored = false, null, null)
    val json = Fields.of(reader.fields(raw))
    // A collector's envelope stamps the record's receipt, as a JSON event may.
    val receivedAt = json.get("received_at")
    val report = CmcdReports.of(json, raw)
    if (report == null) new Record(json, bytes, utf8, ignored = false, null, receivedAt)
    else if (report.fields == null) new Record(Fields.Absent, bytes, utf8, ignored = true, report.time, receivedAt)
    else new Record(report.fields, bytes, utf8, ignored = false, report.time, receivedAt)
  }

  /** The event's typed fields, each null where absent or not of its type. */
  private def typed(fields: Fields): GenericInternalRow = {
    val event = new GenericInternalRow(EventType.length)
    if (fields.isEmpty) return event
    // A field's slot is its column in the event.
    for (i <- StringFields.indices) event.update(i, fields.at(i))
    for (i <- StringFields.length until TsIndex) {
      val value = integer(fields.at(i))
      if (value != null) event.setLong(i, value)
    }
    val ts = timestampOf(fields.at(TsIndex))
    if (ts != null) event.setLong(TsIndex, ts)
    event.update(ExtraIndex, fields.extra)
    event
  }

  /** Why the record is not a valid event, `(reason, detail)`; null for a valid one. In this order. */
  private def validate(
      raw: UTF8String,
      record: Record,
      event: GenericInternalRow,
      latest: Long
  ): (String, String) = {
    val fields = record.fields
    def names(of: Seq[String]): String = of.mkString(", ")
    if (!record.utf8) ("bad_encoding", LineRequest.NotUtf8)
    else if (record.bytes > MaxRecordBytes)
      ("too_large", s"record of ${record.bytes} bytes, limit $MaxRecordBytes")
    else if (fields.isEmpty) ("malformed_json", "not one JSON object")
    else if (fields.get("cmcd_error") != null) ("malformed_cmcd", "CMCD: " + fields.get("cmcd_error"))
    else if (fields.size > MaxFields) ("too_large", s"${fields.size} fields, limit $MaxFields")
    else {
      val missing = RequiredFields.filter(fields.get(_) == null)
      lazy val tsText = fields.tsText
      lazy val badTypes = IntegerFields.indices.map(StringFields.length + _).collect {
        case i if fields.at(i) != null && event.isNullAt(i) => EventType.fieldNames(i)
      }
      val eventType = fields.get("event_type")
      if (missing.nonEmpty) ("missing_field", "missing: " + names(missing))
      else if (event.isNullAt(TsIndex))
        ("bad_timestamp", "ts is not epoch ms (an integer) or ISO-8601 with offset: " + asSent(raw, tsText))
      else if (event.getLong(TsIndex) < MinEventMicros)
        ("bad_timestamp", s"ts before $MinEventTime (seconds instead of ms?): " + asSent(raw, tsText))
      else if (badTypes.nonEmpty) ("bad_type", "not a 64-bit integer: " + names(badTypes))
      else if (!EventTypes.contains(eventType)) ("unknown_event_type", "event_type " + left64(eventType))
      else if (event.getLong(TsIndex) > latest) ("future_timestamp", "ts in the future: " + tsText)
      else null
    }
  }

  /** The fields of a record by name: one pass over its entries puts each field the rules read in its slot (the first of
    * a name, as a map lookup finds it), so no rule scans the entries again.
    */
  final class Fields private (val map: MapData, slots: Array[UTF8String]) {
    def isEmpty: Boolean = map == null
    def size: Int = if (map == null) 0 else map.numElements()
    def get(name: String): UTF8String = at(Slot(name))

    /** The field in `slot`: the event's columns come first, in order (`KnownFields`). */
    def at(slot: Int): UTF8String = if (map == null) null else slots(slot)

    /** `trim(ts)`: the text the time is read from. */
    def tsText: UTF8String = { val ts = get("ts"); if (ts == null) null else ts.trim() }

    /** The fields that are not the event's own columns. */
    def extra: MapData = if (map == null) null else MapWithout.without(map, Known, Empty)
  }

  object Fields {
    val Absent = new Fields(null, null)

    def of(map: MapData): Fields =
      if (map == null) Absent
      else {
        val slots = new Array[UTF8String](Slot.size)
        val keys = map.keyArray()
        val values = map.valueArray()
        var i = map.numElements() - 1
        // Backwards, so the first entry of a name is the one kept.
        while (i >= 0) {
          val slot = SlotOf.get(keys.getUTF8String(i))
          if (slot != null) slots(slot) = if (values.isNullAt(i)) null else values.getUTF8String(i)
          i -= 1
        }
        new Fields(map, slots)
      }
  }

  // The fields the rules read: the event's, and those of a collector's envelope and of a report that failed.
  private val Read: Seq[String] = KnownFields ++ Seq("cmcd_error", "received_at", "cmcd")
  private val Slot: Map[String, Int] = Read.zipWithIndex.toMap
  private val SlotOf: java.util.Map[UTF8String, Integer] = {
    val m = new java.util.HashMap[UTF8String, Integer]()
    Read.zipWithIndex.foreach { case (name, i) => m.put(UTF8String.fromString(name), i) }
    m
  }
  private val Empty = UTF8String.EMPTY_UTF8

  private val EpochMs = Pattern.compile("^-?[0-9]{1,15}$")
  private val IsoWithOffset =
    Pattern.compile("^\\d{4}-\\d{2}-\\d{2}[T ]\\d{2}:\\d{2}(:\\d{2}(\\.\\d+)?)?(Z|[+-]\\d{2}(:?\\d{2})?)$")

  /** The time of a `ts` (or `received_at`) as sent, trimmed of spaces: epoch milliseconds (an integer) or ISO-8601 with
    * an offset, in microseconds; else null.
    */
  def timestampOf(sent: UTF8String): java.lang.Long =
    if (sent == null) null
    else {
      val text = sent.trim()
      val s = text.toString
      if (EpochMs.matcher(s).find())
        try Math.multiplyExact(text.toLongExact(), 1000L)
        catch { case _: NumberFormatException | _: ArithmeticException => null }
      else if (IsoWithOffset.matcher(s).find()) LineRequest.timestamp(text)
      else null
    }

  /** A JSON number (or numeric string) that is a whole number within a long's range; else null (2^63 is not clamped to
    * the largest long): `coalesce(try_cast(text AS bigint), CAST(d AS bigint))` for a whole `d = try_cast(text AS
    * double)` under 2^63 in magnitude.
    */
  def integer(text: UTF8String): java.lang.Long =
    if (text == null) null
    else
      try text.toLongExact()
      catch {
        case _: NumberFormatException =>
          val d = LineRequest.toDouble(text)
          if (d != null && d == Math.floor(d) && Math.abs(d) < TwoTo63) d.longValue else null
      }
  private val TwoTo63 = Math.pow(2, 63)

  /** `received - ts` in ms when it is within `boundSeconds` either way; null beyond the bound (a replay, a backfill) or
    * without a receipt time.
    */
  private def clockOffset(ts: java.lang.Long, received: java.lang.Long, boundSeconds: Long): java.lang.Long =
    if (ts == null || received == null) null
    else {
      val offset = Math.floorDiv(received.longValue, 1000L) - Math.floorDiv(ts.longValue, 1000L)
      if (Math.abs(offset) <= boundSeconds * 1000) offset else null
    }

  /** A bad `ts` for its detail, as the record wrote it: the map of fields renders a JSON fraction as a double
    * (`1.7961112862005E12`), so a number is taken from the raw text.
    */
  private def asSent(raw: UTF8String, tsText: UTF8String): String = {
    val m = TsNumber.matcher(raw.toString)
    val number = if (m.find() && m.group(1).nonEmpty) UTF8String.fromString(m.group(1)) else tsText
    left64(number)
  }
  private val TsNumber = Pattern.compile("\"ts\"\\s*:\\s*(-?[0-9][0-9.eE+-]*)")

  /** The first 64 characters (SQL `left(text, 64)`); "null" for none, as string concatenation writes it. */
  private def left64(text: UTF8String): String = if (text == null) "null" else text.substring(0, 64).toString

  private def coalesce(first: java.lang.Long, second: java.lang.Long): java.lang.Long =
    if (first != null) first else second

  private def utf8Set(names: Seq[String]): java.util.Set[UTF8String] = {
    val set = new java.util.HashSet[UTF8String]()
    names.foreach(n => set.add(UTF8String.fromString(n)))
    set
  }

}
