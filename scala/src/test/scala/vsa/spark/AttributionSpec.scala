package vsa.spark

import org.apache.datasketches.kll.KllLongsSketch
import org.apache.datasketches.memory.Memory
import org.apache.spark.sql.Row
import org.apache.spark.sql.functions.col
import org.scalatest.funsuite.AnyFunSuite
import vsa.spark.sessions.{CdnRequest, SessionEvent, Sessionizer}

/** The attribution rules of docs/cdn.md: which view a CMCD request belongs to, and the figures a view and its slices
  * get from its requests. Every expectation is worked out by hand from the rows below.
  */
class AttributionSpec extends AnyFunSuite with LocalSpark {
  import spark.implicits._

  private val Minute = 60000L
  private val T0 = 1700000040000L - 1700000040000L % Minute // a minute's start
  private val Timeout = 120000L
  private val Gap = 60000L
  private val MaxPending = 10000

  private def event(session: String, id: String, kind: String, ts: Long, key: String = null): SessionEvent =
    SessionEvent(
      Option(key).getOrElse(session),
      session,
      id,
      kind,
      ts,
      "video-1",
      None,
      Seq.empty,
      null,
      null,
      None,
      None,
      null,
      None
    )

  private def request(
      sid: String,
      ts: Long,
      bytes: Long = 1000,
      status: Int = 200,
      cache: String = "HIT",
      ttfb: Double = 10,
      downloadMs: Double = 8,
      starved: Boolean = false,
      pop: String = "FRA"
  ): SessionEvent =
    SessionEvent(
      sid,
      null,
      null,
      null,
      ts,
      null,
      None,
      null,
      null,
      null,
      None,
      None,
      null,
      Some(CdnRequest(Some(bytes), Some(status), cache, Some(ttfb), Some(downloadMs), starved, pop, "akamai"))
    )

  private def run(rows: SessionEvent*) = runWithGap(Gap, rows: _*)

  private def runWithGap(gap: Long, rows: SessionEvent*) =
    Sessionizer.sessionize(rows.toDF().drop("passthrough"), Timeout, gap, MaxPending)

  private def views(rows: SessionEvent*): Map[String, Row] =
    run(rows: _*)
      .where(col("closed_view").isNotNull)
      .select("closed_view.*")
      .collect()
      .map(r => r.getAs[String]("view_id") -> r)
      .toMap

  private def quantile(sketch: Array[Byte], rank: Double): Long =
    KllLongsSketch.heapify(Memory.wrap(sketch)).getQuantile(rank)

  test("a view's figures are those of the requests of its sid while it is open") {
    val v = views(
      event("s1", "e1", "playback_request", T0),
      event("s1", "e2", "playback_start", T0 + 1000),
      request("s1", T0 + 2000, bytes = 4000, ttfb = 20, downloadMs = 16, pop = "FRA"),
      request("s1", T0 + 3000, bytes = 1000, status = 503, cache = "MISS", ttfb = 40, pop = "AMS"),
      request("s1", T0 + 4000, bytes = 1000, status = 0, cache = "MISS", ttfb = 30, starved = true, pop = "AMS"),
      request("s1", T0 + 5000, bytes = 500, status = 404, cache = "EXPIRED", ttfb = 10, downloadMs = 0, pop = null),
      event("s1", "e3", "playback_finish", T0 + 6000)
    )("s1#1")
    assert(v.getAs[Long]("cdn_requests") == 4)
    assert(v.getAs[Long]("cdn_bytes") == 6500)
    assert(v.getAs[Long]("cdn_errors") == 3) // 503, 0 and 404
    assert(v.getAs[Double]("cdn_cache_hit_ratio") == 1.0 / 3)
    assert(v.getAs[Long]("cdn_starvation_requests") == 1)
    assert(v.getSeq[String](v.fieldIndex("cdn_pops")) == Seq("AMS", "FRA"))
    assert(v.getAs[String]("cdn_primary_pop") == "FRA") // 4000 bytes against AMS's 2000
    // TTFB 10, 20, 30, 40: the median is the second value, the 95th percentile the fourth.
    assert(v.getAs[Double]("cdn_ttfb_p50_ms") == 20)
    assert(v.getAs[Double]("cdn_ttfb_p95_ms") == 40)
    // Throughputs 4000*8/16 = 2000, 1000*8/8 = 1000 (twice); the zero-time download has none.
    assert(v.getAs[Double]("cdn_throughput_p50_kbps") == 1000)
  }

  test("requests outside every view are not attributed") {
    val v = views(
      request("s1", T0 - 1000), // before the session's first event
      event("s1", "e1", "playback_request", T0),
      request("s1", T0), // same instant as the opening event: after it, so attributed
      event("s1", "e2", "playback_start", T0 + 1000),
      request("s1", T0 + 5000), // same instant as the finish: after it, so not
      event("s1", "e3", "playback_finish", T0 + 5000),
      request("s1", T0 + 6000), // after the finish
      request("other", T0 + 2000) // a sid no session has
    )
    assert(v.keySet == Set("s1#1"))
    assert(v("s1#1").getAs[Long]("cdn_requests") == 1)
  }

  test("a timed-out view takes requests until its last event plus the view timeout; new_video splits at the request") {
    val v = views(
      event("s1", "e1", "playback_request", T0),
      event("s1", "e2", "playback_start", T0 + 1000),
      request("s1", T0 + 1000 + Timeout - 1), // the view is still open, silent
      request("s1", T0 + 1000 + Timeout), // it timed out at this instant
      event("s2", "f1", "playback_request", T0),
      event("s2", "f2", "playback_start", T0 + 1000),
      request("s2", T0 + 9000),
      event("s2", "f3", "playback_request", T0 + 10000).copy(video_id = "video-2"),
      request("s2", T0 + 10000),
      event("s2", "f4", "view_end", T0 + 20000)
    )
    assert(v("s1#1").getAs[Long]("cdn_requests") == 1)
    assert(v("s1#1").getAs[String]("end_reason") == "timeout")
    assert(v("s2#1").getAs[Long]("cdn_requests") == 1)
    assert(v("s2#2").getAs[Long]("cdn_requests") == 1)
  }

  test("a session keyed by its cmcd_sid gets the requests of that sid; its views keep their session_id") {
    val v = views(
      event("s1", "e1", "playback_request", T0, key = "cmcd-1"),
      event("s1", "e2", "playback_start", T0 + 1000, key = "cmcd-1"),
      request("cmcd-1", T0 + 2000),
      request("s1", T0 + 2000), // the analytics id is not the key
      event("s1", "e3", "playback_finish", T0 + 3000, key = "cmcd-1")
    )
    assert(v.keySet == Set("s1#1"))
    assert(v("s1#1").getAs[String]("session_id") == "s1")
    assert(v("s1#1").getAs[Long]("cdn_requests") == 1)
  }

  test("slices hold each minute's parts, a silent minute with requests included") {
    // A gap cap of 30 s: time is counted up to T0 + 31 s (minute 0); minute 1 has only a request; the view times out
    // at T0 + 121 s, in minute 2 (its last slice).
    val slices = runWithGap(
      30000L,
      event("s1", "e1", "playback_request", T0),
      event("s1", "e2", "playback_start", T0 + 1000),
      request("s1", T0 + 2000, bytes = 100, pop = "AMS", ttfb = 7),
      request("s1", T0 + 3000, bytes = 100, pop = "FRA", ttfb = 9),
      request("s1", T0 + Minute + 5000, bytes = 300, status = 500, pop = "FRA")
    ).where(col("slice").isNotNull)
      .select("slice.*")
      .collect()
      .map(r => (r.getAs[Long]("minute") - T0) / Minute -> r)
      .toMap
    assert(slices.keySet == Set(0L, 1L, 2L))
    assert(slices(0).getAs[Long]("cdn_requests") == 2)
    assert(slices(0).getAs[String]("cdn_primary_pop") == "AMS") // 100 bytes each: the smaller name
    assert(slices(0).getAs[String]("cdn_primary_cdn") == "akamai")
    assert(quantile(slices(0).getAs[Array[Byte]]("cdn_ttfb_sketch"), 1.0) == 9)
    assert(slices(1).getAs[Long]("cdn_requests") == 1)
    assert(slices(1).getAs[Long]("cdn_errors") == 1)
    assert(slices(1).getAs[Long]("cdn_bytes") == 300)
    assert(slices(1).getAs[String]("cdn_primary_pop") == "FRA")
    assert(slices(1).getAs[Long]("watch_time_ms") == 0)
    assert(slices(2).getAs[Boolean]("ended"))
    assert(slices(2).getAs[Long]("cdn_requests") == 0)
    assert(slices(2).getAs[Array[Byte]]("cdn_ttfb_sketch") == null)
    assert(slices(2).getAs[String]("cdn_primary_pop") == null)
  }

  test("a request without sid is passed through, never part of a session") {
    val rows = Seq(
      event("s1", "e1", "playback_request", T0),
      request(null, T0 + 1000)
    ).toDF()
      .drop("passthrough")
      .withColumn("passthrough", org.apache.spark.sql.functions.struct(col("event_id")))
    val out = Sessionizer.sessionize(rows, Timeout, Gap, MaxPending)
    assert(out.where(col("passthrough").isNotNull).count() == 2)
    val view = out.where(col("closed_view").isNotNull).select("closed_view.cdn_requests").collect()
    assert(view.toSeq == Seq(Row(0L)))
  }
}
