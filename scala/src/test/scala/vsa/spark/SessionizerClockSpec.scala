package vsa.spark

import org.apache.spark.sql.{Encoders, Row}
import org.apache.spark.sql.execution.streaming.runtime.MemoryStream
import org.apache.spark.sql.functions.{coalesce, col, lit, timestamp_millis}
import org.apache.spark.sql.streaming.Trigger
import org.scalatest.funsuite.AnyFunSuite
import vsa.spark.sessions.{SessionEvent, Sessionizer}

/** Device clocks (docs/views.md, "Device clocks") and the cap on what a session holds, through the streaming
  * sessionizer micro-batch by micro-batch. Each record's watermark time is its receipt time (`ts` + its `clock_offset`,
  * or `ts` without one), as the job's sources set it; the watermark delay is 0, so the watermark of a batch is the
  * newest receipt of the batches before it. Every expectation is worked out by hand from the rows below.
  */
class SessionizerClockSpec extends AnyFunSuite with LocalSpark {
  import spark.implicits._

  private val T = 1700000040000L - 1700000040000L % 60000L // a minute's start
  private val S = 1000L
  private val Timeout = 600 * S
  private val Gap = 300 * S

  private def event(session: String, id: String, kind: String, ts: Long, offset: Option[Long]): SessionEvent =
    SessionEvent(session, session, id, kind, ts, "video-1", None, Seq.empty, id, null, None, None, null, None, offset)

  /** A record of the session "clock", received when its device says (offset 0): it moves the watermark to `at`. */
  private def tick(at: Long): SessionEvent = event("clock", s"tick-$at", "heartbeat", at, Some(0L))

  private final case class Outcome(views: Map[String, Row], rejected: Seq[(String, String)])

  /** Runs the micro-batches one after another; returns the views that closed and the rejected events (reason, id). */
  private def stream(batches: Seq[SessionEvent]*)(maxPending: Int = 10000, delay: Long = 0): Outcome = {
    val input = MemoryStream[SessionEvent](Encoders.product[SessionEvent], spark.sqlContext)
    val received = timestamp_millis(col("ts") + coalesce(col("clock_offset"), lit(0L)))
    val watermarked = input.toDF().withColumn("received", received).withWatermark("received", s"$delay milliseconds")
    val out = Sessionizer.sessionize(watermarked.drop("passthrough"), Timeout, Gap, maxPending)
    val name = s"clock_${System.nanoTime()}"
    val query = out.writeStream
      .format("memory")
      .queryName(name)
      .outputMode("append")
      .trigger(Trigger.ProcessingTime(0))
      .start()
    try {
      batches.foreach { batch =>
        input.addData(batch)
        query.processAllAvailable()
      }
      // Two more batches: a watermark past every view's timeout, and one that runs with it.
      val far = batches.flatten.map(e => e.ts + e.clock_offset.getOrElse(0L)).max + delay + Timeout + 180 * S
      Seq(far, far + 1).foreach { at =>
        input.addData(Seq(tick(at)))
        query.processAllAvailable()
      }
    } finally query.stop()
    val rows = spark.table(name)
    val views = rows
      .where(col("closed_view").isNotNull)
      .select("closed_view.*")
      .collect()
      .map(r => r.getAs[String]("view_id") -> r)
      .toMap
    val rejected = rows
      .where(col("rejected").isNotNull)
      .select("rejected.reason", "rejected.raw")
      .as[(String, String)]
      .collect()
      .toSeq
    Outcome(views, rejected)
  }

  test("a device clock 5 minutes fast or slow: its events are placed in server time, none is late") {
    val fast = -300 * S // receipt - ts
    val slow = 300 * S
    val outcome = stream(
      // Batch 0: true time T. The fast device says T + 5 min, the slow one T - 5 min.
      Seq(
        event("fast", "f1", "playback_request", T + 300 * S, Some(fast)),
        event("slow", "s1", "playback_request", T - 300 * S, Some(slow)),
        tick(T)
      ),
      // Batch 1 (watermark T): true time T + 60 s.
      Seq(
        event("fast", "f2", "playback_start", T + 360 * S, Some(fast)),
        event("slow", "s2", "playback_start", T - 240 * S, Some(slow)),
        tick(T + 60 * S)
      ),
      // Batch 2 (watermark T + 60 s): true time T + 90 s. Without the offset the slow device's
      // event (ts T - 210 s) would be late, and the fast one's would have moved the watermark
      // 5 minutes ahead, making the ticks of the correct device late.
      Seq(
        event("fast", "f3", "view_end", T + 390 * S, Some(fast)),
        event("slow", "s3", "view_end", T - 210 * S, Some(slow)),
        tick(T + 90 * S)
      )
    )()
    assert(outcome.rejected.isEmpty)
    for (session <- Seq("fast", "slow")) {
      val view = outcome.views(s"$session#1")
      assert(view.getAs[Long]("view_start") == T)
      assert(view.getAs[Long]("view_end") == T + 90 * S)
      assert(view.getAs[Long]("closed_at") == T + 90 * S)
      assert(view.getAs[Any]("startup_time_ms") == 60 * S)
      assert(view.getAs[Long]("watch_time_ms") == 90 * S)
    }
  }

  test("a view keeps the offset its first event arrived with; the next view takes the session's lower one") {
    val outcome = stream(
      // Batch 0: the request arrives 30 s after its ts (a slow network): offset 30 s.
      Seq(event("a", "a1", "playback_request", T, Some(30 * S)), tick(T + 30 * S)),
      // Batch 1 (watermark T + 30 s): the request is due (T + 30 s) and opens the view at
      // T + 30 s. A heartbeat received at once lowers the session's offset to 0.
      Seq(event("a", "a2", "heartbeat", T + 40 * S, Some(0L)), tick(T + 40 * S)),
      // Batch 2 (watermark T + 40 s): the heartbeat is applied in the view's time, T + 70 s.
      Seq(event("a", "a3", "view_end", T + 100 * S, Some(0L)), tick(T + 100 * S)),
      // Batch 3: a new view, opened with the session's offset now (0).
      Seq(event("a", "a4", "playback_request", T + 200 * S, Some(0L)), tick(T + 200 * S)),
      Seq(event("a", "a5", "view_end", T + 210 * S, Some(0L)), tick(T + 210 * S))
    )()
    assert(outcome.rejected.isEmpty)
    val first = outcome.views("a#1")
    assert(first.getAs[Long]("view_start") == T + 30 * S)
    assert(first.getAs[Long]("view_end") == T + 130 * S)
    // The device's durations: 100 s from request to end, in startup.
    assert(first.getAs[Long]("watch_time_ms") == 100 * S)
    val second = outcome.views("a#2")
    assert(second.getAs[Long]("view_start") == T + 200 * S)
    assert(second.getAs[Long]("view_end") == T + 210 * S)
  }

  test("lateness is judged at ts + the session's offset, which never rises") {
    val outcome = stream(
      Seq(event("b", "b1", "playback_request", T, Some(0L)), tick(T + 100 * S)),
      // Watermark T + 100 s. b2 says its device is 60 s slow, but b1 said 0: the offset stays 0,
      // and b2 (ts T + 50 s) is late. b3 (ts T + 150 s) is on time.
      Seq(event("b", "b2", "heartbeat", T + 50 * S, Some(60 * S)), event("b", "b3", "heartbeat", T + 150 * S, None))
    )()
    assert(outcome.rejected == Seq("late" -> "b2"))
  }

  test("records beyond the bound (no clock_offset: a replay) keep their ts") {
    val outcome = stream(
      Seq(event("r", "r1", "playback_request", T, None), event("r", "r2", "view_end", T + 20 * S, None)),
      Seq(tick(T + 3600 * S))
    )()
    val view = outcome.views("r#1")
    assert(view.getAs[Long]("view_start") == T && view.getAs[Long]("view_end") == T + 20 * S)
  }

  test("a session holds at most max_pending_events_per_session waiting events; more are dead letters") {
    // A watermark delay of a minute: the events wait in the state across the two batches.
    val flood = (1 to 5).map(n => event("c", s"c$n", "heartbeat", T + n * S, Some(0L)))
    val outcome =
      stream(flood, Seq(event("c", "c6", "heartbeat", T + 10 * S, Some(0L))))(maxPending = 3, delay = 60 * S)
    assert(outcome.rejected.sortBy(_._2) == Seq("c4", "c5", "c6").map("session_overflow" -> _))
    // The events held make the view: c1..c3.
    assert(outcome.views("c#1").getAs[Long]("view_end") == T + 3 * S)
  }

  test("a batch run takes the session's least offset for every view") {
    val rows = Seq(
      event("d", "d1", "playback_request", T, Some(20 * S)),
      event("d", "d2", "playback_start", T + 2 * S, Some(-5 * S)),
      event("d", "d3", "view_end", T + 10 * S, Some(0L))
    )
    val view = Sessionizer
      .sessionize(rows.toDF().drop("passthrough"), Timeout, Gap, 10000)
      .where(col("closed_view").isNotNull)
      .select("closed_view.*")
      .collect()
      .head
    assert(view.getAs[Long]("view_start") == T - 5 * S)
    assert(view.getAs[Long]("view_end") == T + 5 * S)
    assert(view.getAs[Any]("startup_time_ms") == 2 * S)
  }
}
