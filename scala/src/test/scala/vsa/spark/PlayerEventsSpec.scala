package vsa.spark

import java.sql.Timestamp

import org.apache.spark.sql.Row
import org.scalatest.funsuite.AnyFunSuite

class PlayerEventsSpec extends AnyFunSuite with LocalSpark {

  private val T0 = 1764000000000L // 2025-11-24 16:00:00 UTC
  private val Now = new Timestamp(T0 + 60000)

  /** `vsa_parse_player_event` of one record, received at `receivedMs` (null: no transport stamp), in a batch at `Now`.
    */
  private def parse(record: String, receivedMs: java.lang.Long = null, boundSeconds: Int = 3600): Row = {
    val received = if (receivedMs == null) null else new Timestamp(receivedMs)
    spark
      .sql(
        s"SELECT vsa_parse_player_event(r, t, $boundSeconds, n) AS p FROM VALUES (?, ?, ?) AS v(r, t, n)",
        Array[Any](record, received, Now)
      )
      .first()
      .getStruct(0)
  }

  private def event(fields: String): String =
    s"""{"event_id": "e1", "event_type": "heartbeat", "ts": $T0, "session_id": "s1"$fields}"""

  private def reason(p: Row): (String, String) = (p.getAs[String]("reason"), p.getAs[String]("detail"))

  test("a valid event keeps its typed fields, and the fields it does not know in extra") {
    inBothCodegenModes { mode =>
      val p = parse(event(""", "bitrate_kbps": "3000", "video_width": 1280.0, "player": {"v": [1]}, "n": null"""))
      val e = p.getStruct(p.fieldIndex("event"))
      assert(reason(p) == ((null, null)), mode)
      assert(e.getAs[String]("session_id") == "s1", mode)
      assert(e.getAs[Long]("bitrate_kbps") == 3000L, mode)
      assert(e.getAs[Long]("video_width") == 1280L, mode)
      assert(e.getAs[Timestamp]("ts").getTime == T0, mode)
      assert(e.getAs[Map[String, String]]("extra") == Map("player" -> """{"v":[1]}""", "n" -> null), mode)
    }
  }

  test("each bad record gets the first reason of the rule list, with its detail") {
    val cases = Seq(
      "{not json" -> ("malformed_json", "not one JSON object"),
      event("") + event("") -> ("malformed_json", "not one JSON object"),
      """{"event_id": "e1", "ts": 5}""" -> ("missing_field", "missing: event_type, session_id"),
      event(""", "cmcd_error": "x"""") -> ("malformed_cmcd", "CMCD: x"),
      event(", \"video_width\": 9223372036854775808, \"playhead_ms\": \"1.5\"") ->
        ("bad_type", "not a 64-bit integer: video_width, playhead_ms"),
      event(", \"x\": 1").replace("heartbeat", "zapping") -> ("unknown_event_type", "event_type zapping")
    )
    for ((record, expected) <- cases)
      assert(reason(parse(record)) == expected, record)
    // A ts sent in seconds, and one an hour and a minute after the batch's time.
    val seconds = s"""{"event_id": "e1", "event_type": "heartbeat", "ts": ${T0 / 1000}, "session_id": "s1"}"""
    assert(
      reason(parse(seconds)) == ((
        "bad_timestamp",
        s"ts before 2000-01-01T00:00:00Z (seconds instead of ms?): ${T0 / 1000}"
      ))
    )
    val future = s"""{"event_id": "e1", "event_type": "heartbeat", "ts": ${T0 + 3720000}, "session_id": "s1"}"""
    assert(reason(parse(future)) == (("future_timestamp", s"ts in the future: ${T0 + 3720000}")))
    val fraction = s"""{"event_id": "e1", "event_type": "heartbeat", "ts": $T0.5, "session_id": "s1"}"""
    assert(reason(parse(fraction))._2 == s"ts is not epoch ms (an integer) or ISO-8601 with offset: $T0.5")
  }

  test("a CMCD report whose keys carry parameters is read, the model's fields kept, not a failed batch") {
    // `sta` with a parameter goes to `other` too, whose `cmcd_sta` would name the model's field a second time.
    inBothCodegenModes { mode =>
      val line = s"""e=t,sta=p;x=1,sid="s1",ts=$T0,v=2"""
      val p = parse(s"""{"cmcd": "${line.replace("\"", "\\\"")}", "received_at": ${T0 + 80}}""")
      val e = p.getStruct(p.fieldIndex("event"))
      assert(reason(p) == ((null, null)), mode)
      assert(e.getAs[String]("event_type") == "heartbeat", mode)
      assert(e.getAs[Map[String, String]]("extra")("cmcd_sta") == "p", mode)
      assert(e.getAs[Map[String, String]]("extra").keySet == Set("received_at", "cmcd_e", "cmcd_sta", "cmcd_v"), mode)
    }
  }

  test("the watermark follows the receipt time of a believed clock, a replay's own time, and skips absurd times") {
    def eventTime(p: Row): java.lang.Long =
      Option(p.getAs[Timestamp]("event_time")).map(t => java.lang.Long.valueOf(t.getTime)).orNull
    val fastClock = parse(event(""), receivedMs = T0 - 300000)
    assert(fastClock.getAs[Long]("clock_offset") == -300000L)
    assert(eventTime(fastClock) == T0 - 300000)
    // The record's own receipt stamp overrides the transport's.
    val stamped = parse(event(s""", "received_at": ${T0 + 50}"""), receivedMs = T0 - 300000)
    assert(stamped.getAs[Long]("clock_offset") == 50L)
    val replay = parse(event(""), receivedMs = T0 + 7200000)
    assert(replay.isNullAt(replay.fieldIndex("clock_offset")))
    assert(eventTime(replay) == T0)
    assert(eventTime(parse(event("").replace(s"$T0", "0"))) == null)
    // A report of no use to the model is neither an event nor a dead letter, but its time moves the watermark.
    val after = parse(s"""{"cmcd": "e=t,sid=\\"s1\\",sta=e,ts=$T0,v=2"}""")
    assert(after.getAs[Boolean]("ignored") && reason(after) == ((null, null)))
    assert(eventTime(after) == T0)
  }
}
