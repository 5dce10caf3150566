package vsa.spark

import org.apache.spark.sql.Row
import org.apache.spark.sql.functions.{col, struct}
import org.scalatest.funsuite.AnyFunSuite
import vsa.spark.sessions.Sessionizer

class SessionizerPassthroughSpec extends AnyFunSuite with LocalSpark {
  import spark.implicits._

  test("every row's passthrough struct comes out unchanged, with or without a session; events still make views") {
    val events = Seq(
      ("s1", "e1", "playback_request", Some(60000L), "r1", "kept", Some(1)),
      ("s1", "e2", "playback_start", Some(61000L), "r2", "also kept", Some(2)),
      (null, null, null, None, "{bad json", "a reject", None)
    ).toDF("session_id", "event_id", "event_type", "ts", "raw", "note", "n")
    val input = events.select(
      col("session_id"),
      col("event_id"),
      col("event_type"),
      col("ts"),
      col("ts").cast("string").as("video_id"),
      col("n").cast("long").as("bitrate_kbps"),
      org.apache.spark.sql.functions.array().cast("array<string>").as("attrs"),
      col("raw"),
      col("raw").as("kafka_topic"),
      col("n").as("kafka_partition"),
      col("n").cast("long").as("kafka_offset"),
      struct(col("note"), col("n")).as("passthrough")
    )
    val out = Sessionizer.sessionize(input, viewTimeoutMs = 120000, maxEventGapMs = 60000, maxPendingEvents = 10)
    assert(out.schema("passthrough").dataType == input.schema("passthrough").dataType)
    val passed = out.where(col("passthrough").isNotNull).select("passthrough.*").collect().toSet
    assert(passed == Set(Row("kept", 1), Row("also kept", 2), Row("a reject", null)))
    assert(out.where(col("closed_view").isNotNull).count() == 1)
  }
}
