package vsa.spark.sessions

import org.scalatest.funsuite.AnyFunSuite

/** The sessionizer's state machine (docs/views.md) driven directly, one session key and one micro-batch at a time,
  * without a SparkSession ([[SessionRuns]]). Every expected value is worked out by hand from the events of its test
  * (times in seconds after `T`, a minute's start).
  */
class SessionStateMachineSpec extends AnyFunSuite {
  private val S = 1000L
  private val Minute = 60 * S
  private val T = 1764000000000L // 2025-11-24T16:00:00Z, a minute's start
  private val Timeout = 600 * S
  private val Gap = 30 * S

  private def settings(maxPending: Int = 10000) = Sessionizer.Settings(Timeout, Gap, maxPending)

  /** An event of session "s" at `T` + `at` ms; its id (also its raw record) is `id`. */
  private def ev(
      id: String,
      kind: String,
      at: Long,
      video: String = "v1",
      bitrate: Option[Long] = None,
      session: String = "s"
  ): SessionEvent =
    SessionEvent(session, session, id, kind, T + at, video, bitrate, Seq.empty, id, null, None, None, null, None)

  private final class StreamedSession(maxPending: Int = 10000) extends SessionRuns.Streamed(settings(maxPending), T)

  /** A batch run (`vsa batch`): every row at once, no watermark, every view closes. */
  private def batchRun(rows: SessionEvent*): Seq[SessionOutput] = SessionRuns.batch(settings(maxPending = 3), rows)

  private def views(out: Seq[SessionOutput]): Map[String, ViewRow] =
    out.flatMap(_.closed_view).map(v => v.view_id -> v).toMap

  private def only(out: Seq[SessionOutput]): ViewRow = {
    val all = views(out)
    assert(all.size == 1, all.keys)
    all.values.head
  }

  private def slices(out: Seq[SessionOutput]): Seq[SliceRow] = out.flatMap(_.slice).sortBy(s => (s.view_id, s.minute))

  private def rejected(out: Seq[SessionOutput]): Seq[(String, String)] =
    out.flatMap(_.rejected).map(r => (r.reason, r.raw))

  /** The columns of a view this spec checks: (started, startup, watch, playing, stalls, stall time, end reason). */
  private def times(v: ViewRow) =
    (v.started, v.startup_time_ms, v.watch_time_ms, v.playing_time_ms, v.stall_count, v.stall_time_ms, v.end_reason)

  test("startup time runs from the request to the first frame; finish closes the view at its ts") {
    val v = only(
      batchRun(
        ev("a", "playback_request", 0),
        ev("b", "playback_start", 2 * S),
        ev("c", "heartbeat", 10 * S),
        ev("d", "heartbeat", 20 * S),
        ev("e", "playback_finish", 25 * S)
      )
    )
    // 0-2 s startup (watch), 2-25 s playing; nothing after the finish.
    assert(times(v) == ((true, Some(2000L), 25000L, 23000L, 0, 0L, "finish")))
    assert((v.view_id, v.view_start, v.view_end, v.closed_at) == (("s#1", T, T + 25 * S, T + 25 * S)))
    assert(v.rebuffer_ratio.contains(0.0))
    assert(!v.playback_failed && !v.video_start_failure && !v.exit_before_video_start && !v.start_missing)
  }

  test("stalls after the first frame count; a stall before it changes nothing") {
    val v = only(
      batchRun(
        ev("a", "playback_request", 0),
        ev("b", "playback_start", 1 * S),
        ev("c", "playback_stall", 5 * S),
        ev("d", "playback_start", 8 * S),
        ev("e", "playback_stall", 12 * S),
        ev("f", "playback_start", 13 * S),
        ev("g", "playback_finish", 20 * S)
      )
    )
    // playing 1-5, 8-12, 13-20 = 15 s; stalled 5-8, 12-13 = 4 s; watch 20 s.
    assert(times(v) == ((true, Some(1000L), 20000L, 15000L, 2, 4000L, "finish")))
    assert(v.rebuffer_ratio.contains(0.2))

    val early = only(
      batchRun(
        ev("a", "playback_request", 0),
        ev("b", "playback_stall", 1 * S),
        ev("c", "playback_start", 3 * S),
        ev("d", "playback_finish", 4 * S)
      )
    )
    // The stall at 1 s keeps the player in startup: 3 s of startup, 1 s playing, no stall.
    assert(times(early) == ((true, Some(3000L), 4000L, 1000L, 0, 0L, "finish")))
  }

  test("a pause counts no watch time; a seek counts watch but not playing") {
    val v = only(
      batchRun(
        ev("a", "playback_request", 0),
        ev("b", "playback_start", 2 * S),
        ev("c", "playback_pause", 10 * S),
        ev("d", "heartbeat", 20 * S),
        ev("e", "playback_start", 30 * S),
        ev("f", "seek_start", 40 * S),
        ev("g", "seek_end", 42 * S),
        ev("h", "playback_finish", 50 * S)
      )
    )
    // watch: 0-10 (2 startup + 8 playing), 30-40 playing, 40-42 seeking, 42-50 playing = 30 s; paused 10-30 s.
    assert(times(v) == ((true, Some(2000L), 30000L, 26000L, 0, 0L, "finish")))
  }

  test("a pause or a seek before the first frame voids the startup time") {
    val paused = only(
      batchRun(
        ev("a", "playback_request", 0),
        ev("b", "playback_pause", 1 * S),
        ev("c", "playback_request", 5 * S), // same video: a resume, back to startup
        ev("d", "playback_start", 7 * S),
        ev("e", "playback_finish", 9 * S)
      )
    )
    // startup 0-1 and 5-7 (watch 3 s), paused 1-5, playing 7-9.
    assert(times(paused) == ((true, None, 5000L, 2000L, 0, 0L, "finish")))

    val sought = only(
      batchRun(
        ev("a", "playback_request", 0),
        ev("b", "seek_start", 1 * S),
        ev("c", "seek_end", 2 * S),
        ev("d", "playback_start", 4 * S),
        ev("e", "view_end", 5 * S)
      )
    )
    assert(times(sought) == ((true, None, 5000L, 1000L, 0, 0L, "close")))
  }

  test("a failure before the first frame is VSF, an exit before it EBVS, a failure after it neither") {
    val vsf = only(batchRun(ev("a", "playback_request", 0), ev("b", "playback_fail", 3 * S)))
    assert(times(vsf) == ((false, None, 3000L, 0L, 0, 0L, "fail")))
    assert(vsf.playback_failed && vsf.video_start_failure && !vsf.exit_before_video_start)

    val failed = only(
      batchRun(ev("a", "playback_request", 0), ev("b", "playback_start", 1 * S), ev("c", "playback_fail", 5 * S))
    )
    assert(failed.playback_failed && !failed.video_start_failure && !failed.exit_before_video_start)

    val ebvs = only(batchRun(ev("a", "playback_request", 0), ev("b", "view_end", 4 * S)))
    assert(times(ebvs) == ((false, None, 4000L, 0L, 0, 0L, "close")))
    assert(!ebvs.playback_failed && !ebvs.video_start_failure && ebvs.exit_before_video_start)

    // Left in startup: it times out, its watch time capped at the gap; still an exit before video start.
    val abandoned = only(batchRun(ev("a", "playback_request", 0)))
    assert(times(abandoned) == ((false, None, Gap, 0L, 0, 0L, "timeout")))
    assert(abandoned.exit_before_video_start && abandoned.closed_at == T + Timeout && abandoned.view_end == T)
  }

  test("a request for another video closes the view (new_video); one for the same video is a resume") {
    val out = batchRun(
      ev("a", "playback_request", 0),
      ev("b", "playback_start", 1 * S),
      ev("c", "heartbeat", 10 * S),
      ev("d", "playback_request", 20 * S, video = "v2"),
      ev("e", "playback_start", 21 * S, video = "v2"),
      ev("f", "playback_finish", 30 * S, video = "v2")
    )
    val (first, second) = (views(out)("s#1"), views(out)("s#2"))
    // The first view ends at its last event (10 s) but counts its time up to the new request (20 s).
    assert(times(first) == ((true, Some(1000L), 20000L, 19000L, 0, 0L, "new_video")))
    assert((first.video_id, first.view_end, first.closed_at) == (("v1", T + 10 * S, T + 20 * S)))
    assert(times(second) == ((true, Some(1000L), 10000L, 9000L, 0, 0L, "finish")))
    assert((second.video_id, second.view_start) == (("v2", T + 20 * S)))

    val resumed = only(
      batchRun(
        ev("a", "playback_request", 0),
        ev("b", "playback_start", 1 * S),
        ev("c", "playback_pause", 5 * S),
        ev("d", "playback_request", 10 * S),
        ev("e", "playback_start", 12 * S),
        ev("f", "playback_finish", 15 * S)
      )
    )
    // startup 0-1, playing 1-5, paused 5-10, waiting 10-12, playing 12-15.
    assert(times(resumed) == ((true, Some(1000L), 10000L, 7000L, 0, 0L, "finish")))
  }

  test("inactivity: a gap of exactly the view timeout closes the view, one ms less does not") {
    val out = batchRun(
      ev("a", "playback_request", 0),
      ev("b", "playback_start", 1 * S),
      ev("c", "heartbeat", 10 * S),
      ev("d", "heartbeat", 10 * S + Timeout)
    )
    val (first, second) = (views(out)("s#1"), views(out)("s#2"))
    // 1 s startup, 9 s playing, then 30 s (the gap cap) playing after the last event.
    assert(times(first) == ((true, Some(1000L), 40000L, 39000L, 0, 0L, "timeout")))
    assert((first.view_end, first.closed_at) == ((T + 10 * S, T + 10 * S + Timeout)))
    // The heartbeat opens a view with a lost start: playing from its first event, never a startup.
    assert(times(second) == ((true, None, Gap, Gap, 0, 0L, "timeout")))
    assert(second.start_missing && !second.exit_before_video_start && second.view_start == T + 10 * S + Timeout)

    val kept = only(
      batchRun(
        ev("a", "playback_request", 0),
        ev("b", "playback_start", 1 * S),
        ev("c", "heartbeat", Timeout + 1 * S - 1),
        ev("d", "playback_finish", Timeout + 1 * S)
      )
    )
    // 1 s startup, 30 s (capped) playing after the start, 1 ms playing before the finish.
    assert(times(kept) == ((true, Some(1000L), 31001L, 30001L, 0, 0L, "finish")))
  }

  test("a lost start opens in the state of its first event; a close opens and ends a view of one instant") {
    val stalled =
      only(batchRun(ev("a", "playback_stall", 0), ev("b", "playback_start", 4 * S), ev("c", "view_end", 6 * S)))
    // Past its first frame from the opening stall on: it counts (1 stall, 4 s), then 2 s playing.
    assert(times(stalled) == ((true, None, 6000L, 2000L, 1, 4000L, "close")))
    assert(stalled.start_missing && !stalled.exit_before_video_start)

    val failed = only(batchRun(ev("a", "playback_fail", 0)))
    assert(times(failed) == ((true, None, 0L, 0L, 0, 0L, "fail")))
    assert(failed.playback_failed && !failed.video_start_failure && failed.closed_at == T)
  }

  test("the bitrate is weighted by playing time; only updates after the first frame are switches") {
    val v = only(
      batchRun(
        ev("a", "playback_request", 0),
        ev("b", "rendition_update", 500, bitrate = Some(500L)),
        ev("c", "playback_start", 1 * S),
        ev("d", "rendition_update", 2 * S, bitrate = Some(1000L)),
        ev("e", "rendition_update", 6 * S, bitrate = Some(4000L)),
        ev("f", "playback_finish", 10 * S)
      )
    )
    // Playing 1-2 s at 500, 2-6 s at 1000, 6-10 s at 4000: (500 + 4000 + 16000) / 9 s.
    assert(v.avg_bitrate_kbps.exists(b => math.abs(b - 20500.0 / 9) < 1e-9))
    assert(v.bitrate_switches == 2)
  }

  test("the picture: upscale and downscale weighted by playing time, the largest upscale, downshifts, per minute too") {
    def rendition(id: String, at: Long, kbps: Long, w: Long, h: Long) =
      ev(id, "rendition_update", at, bitrate = Some(kbps)).copy(video_width = Some(w), video_height = Some(h))
    val out = batchRun(
      ev("a", "playback_request", 0).copy(player_width = Some(1920L), player_height = Some(1080L)),
      rendition("b", 500, 3000L, 1280L, 720L),
      ev("c", "playback_start", 50 * S),
      rendition("d", 60 * S, 6000L, 1920L, 1080L),
      rendition("e", 70 * S, 1600L, 960L, 540L),
      // A resize to 640x360 (a window): the 960x540 rendition now shrinks by a third.
      ev("f", "heartbeat", 80 * S).copy(player_width = Some(640L), player_height = Some(360L)),
      ev("g", "playback_finish", 90 * S)
    )
    val v = only(out)
    // Playing 50-60 s at 1280x720 in 1920x1080 (upscale 50 %), 60-70 s at its size (0 %), 70-80 s at 960x540
    // (upscale 100 %), 80-90 s at 960x540 in 640x360 (downscale 33.3 %).
    assert(v.upscale_pct.exists(u => math.abs(u - (500.0 + 1000) / 40) < 1e-9))
    assert(v.downscale_pct.exists(d => math.abs(d - 33.33 * 10 / 40) < 1e-9))
    assert(v.max_upscale_pct.contains(100.0))
    assert(v.bitrate_downshifts == 1 && v.bitrate_switches == 2)
    assert(v.avg_bitrate_kbps.exists(b => math.abs(b - (3000.0 + 6000 + 1600 + 1600) / 4) < 1e-9))
    val quality = 100 * math.exp(-0.33 * (0.15 * 1.0 + 0.85 * 0.375))
    assert(v.score_video_quality.exists(q => math.abs(q - quality) < 1e-9))
    // Minute 0 holds 50-60 s, minute 1 the rest and the downshift, as parts that add up.
    val Seq(first, second) = slices(out)
    assert((first.bitrate_kbps_ms, first.bitrate_ms, first.scaled_ms) == ((30000000L, 10000L, 10000L)))
    assert(first.upscale_bp_ms == 5000L * 10000 && first.bitrate_downshifts == 0)
    assert((second.bitrate_kbps_ms, second.bitrate_ms, second.scaled_ms) == ((92000000L, 30000L, 30000L)))
    assert(second.upscale_bp_ms == 10000L * 10000 && second.bitrate_downshifts == 1)
    assert(second.downscale_bp_ms == 3333L * 10000) // 33.33 %, in whole basis points
  }

  test("ads: time in breaks is ad time, not watch time; a pre-roll is left out of the content's startup") {
    val out = batchRun(
      ev("a", "playback_request", 0),
      ev("b", "ad_break_start", 1 * S),
      ev("c", "heartbeat", 11 * S),
      ev("d", "playback_fail", 15 * S), // the ad failed: the view goes on
      ev("e", "ad_break_end", 21 * S),
      ev("f", "playback_start", 23 * S),
      ev("g", "ad_break_start", 40 * S),
      ev("h", "playback_stall", 45 * S), // the ad's own stall, not the content's
      ev("i", "ad_break_end", 55 * S),
      ev("j", "playback_finish", 70 * S)
    )
    val v = only(out)
    // Startup 0-1 s and 21-23 s, playing 23-40 s and 55-70 s; ads 1-21 s and 40-55 s.
    assert(times(v) == ((true, Some(3000L), 35000L, 32000L, 0, 0L, "finish")))
    assert(v.startup_with_ads_ms.contains(1000L))
    assert((v.ad_time_ms, v.ad_breaks, v.ad_failures) == ((35000L, 2, 1)))
    assert(!v.playback_failed)
    val Seq(first, second) = slices(out)
    assert((first.ad_time_ms, first.ad_breaks, first.ad_failures) == ((35000L, 2, 1)))
    assert((second.ad_time_ms, second.ad_breaks, second.ad_failures) == ((0L, 0, 0)))
    assert(first.watch_time_ms + second.watch_time_ms == 35000L)
  }

  test("events waiting for the watermark keep their attributes once, and the view gets them all") {
    val session = new StreamedSession()
    val gb = Seq("viewer-1", "vod", null)
    val filled = Seq("viewer-1", "vod", "GB")
    // The first batch has no watermark: every event waits.
    session.batch(
      0,
      ev("a", "playback_request", 0).copy(attrs = gb),
      ev("b", "playback_start", 1 * S).copy(attrs = gb),
      ev("c", "heartbeat", 10 * S).copy(attrs = gb),
      ev("d", "heartbeat", 20 * S).copy(attrs = filled),
      ev("e", "heartbeat", 30 * S).copy(attrs = filled)
    )
    assert(session.waitingAttrs == Seq(gb, null, null, filled, null))
    // Up to 30 s applied; the close waits, its attributes kept (the first waiting event's).
    val applied = session.batch(30 * S, ev("f", "view_end", 31 * S).copy(attrs = filled))
    assert(session.waitingAttrs == Seq(filled))
    val out = applied ++ session.batch(2 * Minute) // the close applied, and its minute over
    assert(only(out).attrs == filled) // its first event's, the null filled by a later event
  }

  test("no display size: no upscale, and no video quality score") {
    val v = only(
      batchRun(
        ev("a", "playback_request", 0),
        ev("b", "rendition_update", 500, bitrate = Some(3000L))
          .copy(video_width = Some(1280L), video_height = Some(720L)),
        ev("c", "playback_start", 1 * S),
        ev("d", "playback_finish", 10 * S)
      )
    )
    assert(v.upscale_pct.isEmpty && v.downscale_pct.isEmpty && v.max_upscale_pct.isEmpty)
    assert(v.score_video_quality.isEmpty && v.score_overall.isDefined)
  }

  test("events of the same instant apply closes first, heartbeats last, whatever their ids or arrival") {
    val out = batchRun(
      ev("h", "playback_finish", 10 * S),
      ev("a", "playback_request", 10 * S, video = "v2"), // a smaller id, yet after the finish
      ev("g", "heartbeat", 5 * S),
      ev("b", "playback_start", 5 * S), // the start at 5 s before the heartbeat and the stall
      ev("c", "playback_stall", 5 * S),
      ev("z", "playback_start", 1 * S),
      ev("y", "playback_request", 0)
    )
    // At 5 s: stall, then start (playing again), then heartbeat; at 10 s: the finish closes s#1, then v2 opens s#2.
    val (first, second) = (views(out)("s#1"), views(out)("s#2"))
    assert(times(first) == ((true, Some(1000L), 10000L, 9000L, 1, 0L, "finish")))
    assert(second.video_id == "v2" && second.view_start == T + 10 * S && second.end_reason == "timeout")
  }

  test("slices split time at minute edges and come out once the watermark passes their minute") {
    val session = new StreamedSession()
    val events = Seq(
      ev("a", "playback_request", 50 * S),
      ev("b", "playback_start", 55 * S),
      ev("c", "heartbeat", 70 * S),
      ev("d", "heartbeat", 90 * S),
      ev("e", "heartbeat", 110 * S),
      ev("f", "playback_finish", 130 * S)
    )
    // The first batch has no watermark: everything waits (but the live view, LiveViewSpec).
    val first = session.batch(0, events: _*)
    assert(slices(first).isEmpty && views(first).isEmpty && first.flatMap(_.live).nonEmpty)

    // Watermark at 100 s: minute 0 is over, minute 1 is not.
    val early = session.batch(100 * S)
    val firstMinute = slices(early)
    assert(firstMinute.map(_.minute) == Seq(T))
    val m0 = firstMinute.head
    assert(
      (m0.opened, m0.first_frame, m0.startup_time_ms, m0.watch_time_ms, m0.playing_time_ms, m0.active) == ((
        true,
        true,
        Some(5000L),
        10000L,
        5000L,
        true
      ))
    )
    assert(views(early).isEmpty)

    // Watermark at 200 s: the finish at 130 s applies; minutes 1 and 2 are over.
    val late = session.batch(200 * S)
    val rest = slices(late)
    assert(rest.map(_.minute) == Seq(T + Minute, T + 2 * Minute))
    val (m1, m2) = (rest(0), rest(1))
    assert(
      (m1.opened, m1.first_frame, m1.startup_time_ms, m1.watch_time_ms, m1.playing_time_ms, m1.ended) == ((
        false,
        false,
        None,
        60000L,
        60000L,
        false
      ))
    )
    assert((m2.watch_time_ms, m2.playing_time_ms, m2.ended, m2.failed) == ((10000L, 10000L, true, false)))
    val v = only(late)
    assert(times(v) == ((true, Some(5000L), 80000L, 75000L, 0, 0L, "finish")))
    assert(v.watch_time_ms == (firstMinute ++ rest).map(_.watch_time_ms).sum)
  }

  test("a minute of silence longer than the gap has no slice; a timeout's end has a slice of its own") {
    val out = batchRun(
      ev("a", "playback_request", 0),
      ev("b", "playback_start", 1 * S),
      ev("c", "heartbeat", 10 * S),
      ev("d", "heartbeat", 200 * S),
      ev("e", "playback_finish", 205 * S)
    )
    // Minute 0: 1 s startup + 9 s + 30 s (capped) playing; minutes 1 and 2 silent; minute 3: 200-205 s.
    assert(
      slices(out).map(s => (s.minute, s.watch_time_ms, s.playing_time_ms, s.ended)) == Seq(
        (T, 40000L, 39000L, false),
        (T + 3 * Minute, 5000L, 5000L, true)
      )
    )

    val timedOut =
      batchRun(ev("a", "playback_request", 0), ev("b", "playback_start", 1 * S), ev("c", "heartbeat", 10 * S))
    // Closed at 10 s + 10 min = minute 10: a slice with no time that carries the end.
    assert(
      slices(timedOut).map(s => (s.minute, s.watch_time_ms, s.ended, s.ebvs, s.active)) == Seq(
        (T, 40000L, false, false, true),
        (T + 10 * Minute, 0L, true, false, false)
      )
    )
  }

  test("an event at or behind the watermark is late, a second copy of an id a duplicate; neither is applied") {
    val session = new StreamedSession()
    val first =
      session.batch(0, ev("a", "playback_request", 0), ev("b", "playback_start", 1 * S), ev("a", "heartbeat", 2 * S))
    assert(rejected(first) == Seq(("duplicate", "a")))
    val out = session.batch(
      60 * S,
      ev("c", "heartbeat", 20 * S), // behind the watermark
      ev("d", "heartbeat", 60 * S), // at it
      ev("e", "heartbeat", 60 * S + 1), // past it: on time
      ev("b", "playback_start", 61 * S), // seen in the first batch
      ev("f", "view_end", 65 * S)
    )
    assert(rejected(out).sortBy(_._2) == Seq(("late", "c"), ("late", "d"), ("duplicate", "b")).sortBy(_._2))
    val late = out.flatMap(_.rejected).find(_.raw == "d").get
    assert(late.detail == "ts 2025-11-24T16:01:00Z at or behind the watermark 2025-11-24T16:01:00Z")
    val end = session.batch(1000 * S)
    // Only a, b, e and f applied: 1 s startup, 30 s (capped) playing after b, 4.999 s playing from e to f. (The late
    // heartbeat at 20 s would have added 20 s of playing.)
    assert(times(only(end)) == ((true, Some(1000L), 35999L, 34999L, 0, 0L, "close")))
  }

  test("a session holds at most max_pending_events waiting; a batch run caps nothing") {
    val session = new StreamedSession(maxPending = 3)
    val five = Seq(
      ev("a", "playback_request", 0),
      ev("b", "playback_start", 1 * S),
      ev("c", "heartbeat", 5 * S),
      ev("d", "heartbeat", 8 * S),
      ev("e", "playback_finish", 9 * S)
    )
    val first = session.batch(0, five: _*)
    assert(rejected(first) == Seq(("session_overflow", "d"), ("session_overflow", "e")))
    // Once the watermark passes the three waiting events (a call of its own: no rows) there is room again.
    assert(session.batch(6 * S).isEmpty)
    assert(rejected(session.batch(7 * S, ev("f", "playback_finish", 9 * S))).isEmpty)
    assert(times(only(session.batch(200 * S))) == ((true, Some(1000L), 9000L, 8000L, 0, 0L, "finish")))

    assert(rejected(batchRun(five: _*)).isEmpty) // batchRun's sessions hold 3 as well
    assert(times(only(batchRun(five: _*))) == ((true, Some(1000L), 9000L, 8000L, 0, 0L, "finish")))
  }

  test("a session with nothing open is remembered for six view timeouts, then starts again at view 1") {
    val session = new StreamedSession()
    session.batch(0, ev("a", "playback_request", 0), ev("b", "view_end", 5 * S))
    assert(views(session.batch(120 * S)).keySet == Set("s#1"))
    assert(session.remembered)
    // Back 30 min later (within 6 × 10 min of its last event at 5 s): the numbering goes on.
    session.batch(121 * S, ev("c", "playback_request", 1800 * S), ev("d", "view_end", 1801 * S))
    assert(views(session.batch(1900 * S)).keySet == Set("s#2"))
    // Its last event at 1801 s; the state goes once the watermark is past 1801 s + 60 min.
    session.batch(1801 * S + 6 * Timeout)
    assert(session.remembered)
    session.batch(1801 * S + 6 * Timeout + 1)
    assert(!session.remembered)
    session.batch(6000 * S, ev("e", "playback_request", 6000 * S), ev("f", "view_end", 6001 * S))
    assert(views(session.batch(6100 * S)).keySet == Set("s#1"))
  }
}
