package vsa.spark.sessions

import org.scalatest.funsuite.AnyFunSuite

/** The live view (docs/kpis.md, "Live"): a session's `live` rows, per 10-s tick, as the sessionizer's state function
  * gives them in a batch run and micro-batch by micro-batch ([[SessionRuns]]). Every expected value is worked out by
  * hand from the events of its test (times in seconds after `T`, a tick's start).
  */
class LiveViewSpec extends AnyFunSuite {
  private val S = 1000L
  private val T = 1764000000000L // 2025-11-24T16:00:00Z
  // The events' attrs hold (cdn, country).
  private val settings = Sessionizer.Settings(600 * S, 30 * S, 10000, cdnAttr = 0, countryAttr = 1)

  private def ev(id: String, kind: String, at: Long, video: String = "v1", attrs: Seq[String] = Seq("akamai", "DE")) =
    SessionEvent("s", "s", id, kind, T + at, video, None, attrs, id, null, None, None, null, None)

  /** Per tick (s after `T`): (concurrent, stalled, attempts, start failures, exits before start, failures), the rows of
    * every batch added up.
    */
  private def ticks(out: Seq[SessionOutput]): Map[Long, (Int, Int, Int, Int, Int, Int)] =
    out.flatMap(_.live).groupBy(r => (r.tick - T) / S).map { case (tick, rows) =>
      tick -> rows
        .map(r =>
          (
            r.concurrent_viewers,
            r.stalled_viewers,
            r.start_attempts,
            r.start_failures,
            r.exits_before_start,
            r.playback_failures
          )
        )
        .reduce((a, b) => (a._1 + b._1, a._2 + b._2, a._3 + b._3, a._4 + b._4, a._5 + b._5, a._6 + b._6))
    }

  private val watched = Seq(
    ev("a", "playback_request", 0),
    ev("b", "playback_start", 2 * S),
    ev("c", "heartbeat", 10 * S),
    ev("d", "playback_stall", 15 * S),
    ev("e", "playback_start", 17 * S),
    ev("f", "heartbeat", 25 * S),
    ev("g", "playback_pause", 28 * S),
    ev("h", "heartbeat", 38 * S),
    ev("i", "playback_finish", 40 * S)
  )

  test("a viewer counts once a tick while watching, stalled once a tick while stalled; a pause counts nothing") {
    // 0: the request (an attempt), the first frame at 2 s; 10: playing, the stall at 15 s; 20: playing until the
    // pause at 28 s; 30: paused until the finish at 40 s.
    assert(
      ticks(SessionRuns.batch(settings, watched)) == Map(
        0L -> ((1, 0, 1, 0, 0, 0)),
        10L -> ((1, 1, 0, 0, 0, 0)),
        20L -> ((1, 0, 0, 0, 0, 0))
      )
    )
  }

  test("micro-batch by micro-batch, before the watermark, each tick counts once, as the batch run counts it") {
    val session = new SessionRuns.Streamed(settings, T)
    // The watermark trails by 20 s; each event comes in a batch of its own.
    val out = watched.map(e => session.batch(math.max(0L, e.ts - T - 20 * S), e))
    assert(ticks(out.flatten) == ticks(SessionRuns.batch(settings, watched)))
    // The heartbeat at 10 s counts tick 10 in its own batch: nothing waits for the watermark (still 0 then).
    assert(ticks(out(2)) == Map(10L -> ((1, 0, 0, 0, 0, 0))))
    // The playing from 17 s on counts tick 20 once the heartbeat at 25 s shows it went on.
    assert(ticks(out(5)) == Map(20L -> ((1, 0, 0, 0, 0, 0))))
  }

  test("an event out of order changes the replay from its time on, not what earlier batches counted") {
    val session = new SessionRuns.Streamed(settings, T)
    val first =
      session.batch(0, ev("a", "playback_request", 0), ev("b", "playback_start", 2 * S), ev("c", "heartbeat", 12 * S))
    assert(ticks(first) == Map(0L -> ((1, 0, 1, 0, 0, 0)), 10L -> ((1, 0, 0, 0, 0, 0))))
    // A stall at 5 s, sent late (the watermark has not passed it): tick 0 was stalled too.
    val late = session.batch(1 * S, ev("d", "playback_stall", 5 * S), ev("e", "heartbeat", 22 * S))
    assert(ticks(late) == Map(0L -> ((0, 1, 0, 0, 0, 0)), 10L -> ((0, 1, 0, 0, 0, 0)), 20L -> ((1, 1, 0, 0, 0, 0))))
  }

  test("a failure before the first frame is a start failure, an end before it an exit before start") {
    val failed = SessionRuns.batch(settings, Seq(ev("a", "playback_request", 0), ev("b", "playback_fail", 3 * S)))
    assert(ticks(failed) == Map(0L -> ((0, 0, 1, 1, 0, 1))))
    val left = SessionRuns.batch(settings, Seq(ev("a", "playback_request", 0), ev("b", "view_end", 14 * S)))
    assert(ticks(left) == Map(0L -> ((0, 0, 1, 0, 0, 0)), 10L -> ((0, 0, 0, 0, 1, 0))))
    // A request for another video ends the view and opens the next: two attempts, one exit before start.
    val switched = SessionRuns.batch(
      settings,
      Seq(
        ev("a", "playback_request", 0),
        ev("b", "playback_request", 4 * S, video = "v2"),
        ev("c", "playback_start", 5 * S)
      )
    )
    assert(ticks(switched) == Map(0L -> ((1, 0, 2, 0, 1, 0))))
  }

  test("an ad break is watching; a failure inside it is the ad's, not a playback failure") {
    val out = SessionRuns.batch(
      settings,
      Seq(
        ev("a", "playback_request", 0),
        ev("b", "ad_break_start", 1 * S),
        ev("c", "playback_start", 2 * S), // the ad's first frame
        ev("d", "playback_stall", 3 * S), // the ad's stall
        ev("e", "playback_fail", 5 * S), // the ad failed; the view goes on
        ev("f", "ad_break_end", 12 * S),
        ev("g", "playback_start", 13 * S),
        ev("h", "playback_finish", 14 * S)
      )
    )
    assert(ticks(out) == Map(0L -> ((1, 0, 1, 0, 0, 0)), 10L -> ((1, 0, 0, 0, 0, 0))))
  }

  test("rows carry the view's CDN and country; silence longer than the gap cap counts nothing") {
    val out = SessionRuns.batch(
      settings,
      Seq(
        ev("a", "playback_start", 0, attrs = Seq(null, "FR")), // start lost: watching at once
        ev("b", "heartbeat", 5 * S, attrs = Seq("fastly", "FR")),
        ev("c", "heartbeat", 100 * S)
      )
    )
    val rows = out.flatMap(_.live)
    // 0 s, before the CDN was known; 5-35 s (the gap cap after 5 s): ticks 0 to 30; then 100 s.
    val known = Set(10L, 20L, 30L, 100L).map(t => (t, "fastly", "FR"))
    assert(rows.map(r => ((r.tick - T) / S, r.cdn, r.country)).toSet == known + ((0L, null, "FR")))
    // Tick 0 counts once, as it was first counted.
    assert(ticks(out).values.map(_._1).sum == 5)
  }
}
