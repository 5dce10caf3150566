package vsa.spark.sessions

import scala.collection.mutable

/** A player's states (docs/views.md) and how an event moves them: the one set of transitions that a view's state
  * machine (`Sessionizer`) and the live view's replay ([[LiveReplay]]) share.
  */
private[sessions] object Player {
  val Startup = 1
  val Waiting = 2
  val Playing = 3
  val Stalled = 4
  val Seeking = 5
  val Paused = 6

  /** The state after `eventType`, from `player`. Inside an ad break the content's state waits for the break's end; a
    * stall before the first frame is part of the startup.
    */
  def after(player: Int, inAd: Boolean, pastFirstFrame: Boolean, eventType: String): Int =
    if (inAd) player
    else
      eventType match {
        case "playback_request"                 => if (pastFirstFrame) Waiting else Startup
        case "playback_start"                   => Playing
        case "playback_stall" if pastFirstFrame => Stalled
        case "playback_pause"                   => Paused
        case "seek_start"                       => Seeking
        case "seek_end"                         => if (pastFirstFrame) Playing else Startup
        case _                                  => player
      }

  /** The state of a view that `eventType` opens: the startup after a request, else (the request was lost) what the
    * event says of a player past its first frame.
    */
  def opening(eventType: String): Int =
    if (eventType == "playback_request") Startup else after(Playing, inAd = false, pastFirstFrame = true, eventType)

  /** A viewer in this state is watching: content playing or stalled, or an ad. */
  def watching(player: Int, inAd: Boolean): Boolean = inAd || player == Playing || player == Stalled
}

/** A session's part of the live view (docs/kpis.md, "Live"), replayed in each micro-batch that brings the session
  * events. It starts from the open view as the watermark left it (`from`) and runs through every event still waiting
  * for the watermark, in event-time order, by the view's own transitions ([[Player]]). Nothing waits for the watermark,
  * so its figures are provisional: an event that arrives out of order changes the replay from its time on, never what
  * earlier batches counted.
  *
  * Per 10-s tick it counts the session once as a concurrent viewer (watching at some time in the tick: the state an
  * event leaves holds until the next event, at most the gap cap) and once as stalled, by the last ticks counted
  * (`concurrentTick`, `stalledTick`, kept in the session's state). Each event that arrived in this batch (`fresh`)
  * counts at its time for what it does: a view it opens (a start attempt), a failure (before the first frame, a start
  * failure too), an end before the first frame (an exit before start). A view that times out counts up to its last
  * event, and its timeout is not seen live.
  */
private[sessions] final class LiveReplay(
    settings: Sessionizer.Settings,
    from: Option[LiveReplay.Open],
    var concurrentTick: Long,
    var stalledTick: Long
) {
  import LiveReplay._

  private var view: Option[Open] = from
  private val counts = mutable.LinkedHashMap.empty[(Long, String, String), Array[Int]]

  /** Replays `event` (device time `ts`, its `clock_offset` the session's as of its arrival). */
  def apply(event: SessionEvent, fresh: Boolean): Unit = {
    view.foreach { v =>
      val at = event.ts + v.offset
      // A view that timed out is over at its last event: the silence after it was nobody watching.
      if (at - v.lastTs >= settings.viewTimeoutMs) view = None
      else {
        val end = math.min(at, v.lastTs + settings.maxEventGapMs)
        if (end > v.lastTs) cover(v, v.lastTs, end - 1)
        if (event.event_type == "playback_request" && differentVideo(v, event)) {
          if (fresh && !v.pastFirstFrame) count(at, v, ExitsBeforeStart)
          view = None
        }
      }
    }
    view match {
      case Some(v) => step(v, event, event.ts + v.offset, fresh)
      case None    => open(event, fresh)
    }
  }

  /** This batch's figures of the session, one row per tick and view dimensions. */
  def rows: Seq[LiveRow] =
    counts.iterator.map { case ((tick, cdn, country), c) =>
      LiveRow(tick, cdn, country, c(0), c(1), c(2), c(3), c(4), c(5))
    }.toSeq

  private def differentVideo(v: Open, e: SessionEvent): Boolean =
    v.videoId != null && e.video_id != null && v.videoId != e.video_id

  private def open(e: SessionEvent, fresh: Boolean): Unit = {
    val offset = e.clock_offset.getOrElse(0L)
    val at = e.ts + offset
    val startMissing = e.event_type != "playback_request"
    val v = Open(e.video_id, Player.opening(e.event_type), inAd = false, startMissing, at, offset, e.attrs)
    view = Some(v)
    if (fresh) count(at, v, StartAttempts)
    step(v, e, at, fresh)
  }

  private def step(v: Open, e: SessionEvent, at: Long, fresh: Boolean): Unit = {
    if (v.attrs == null || v.attrs.contains(null)) v.attrs = Sessionizer.filled(v.attrs, e.attrs)
    val failed = e.event_type == "playback_fail" && !v.inAd
    val ends = failed || e.event_type == "playback_finish" || e.event_type == "view_end"
    if (fresh && failed) {
      count(at, v, PlaybackFailures)
      if (!v.pastFirstFrame) count(at, v, StartFailures)
    }
    if (fresh && ends && !failed && !v.pastFirstFrame) count(at, v, ExitsBeforeStart)
    if (ends) view = None
    else {
      v.player = Player.after(v.player, v.inAd, v.pastFirstFrame, e.event_type)
      e.event_type match {
        case "ad_break_start"            => v.inAd = true
        case "ad_break_end"              => v.inAd = false
        case "playback_start" if !v.inAd => v.pastFirstFrame = true
        case _                           => ()
      }
      v.lastTs = at
      cover(v, at, at)
    }
  }

  /** Counts the session in the ticks from `from`'s to `to`'s, as its state says, once a tick. */
  private def cover(v: Open, from: Long, to: Long): Unit = {
    if (Player.watching(v.player, v.inAd)) {
      var t = math.max(tickOf(from), concurrentTick + TickMs)
      while (t <= tickOf(to)) { add(t, v, Concurrent); concurrentTick = t; t += TickMs }
    }
    if (!v.inAd && v.player == Player.Stalled) {
      var t = math.max(tickOf(from), stalledTick + TickMs)
      while (t <= tickOf(to)) { add(t, v, Stalled); stalledTick = t; t += TickMs }
    }
  }

  private def count(at: Long, v: Open, figure: Int): Unit = add(tickOf(at), v, figure)

  private def add(tick: Long, v: Open, figure: Int): Unit = {
    val key = (tick, attr(v, settings.cdnAttr), attr(v, settings.countryAttr))
    counts.getOrElseUpdate(key, new Array[Int](Figures))(figure) += 1
  }

  private def attr(v: Open, index: Int): String =
    if (v.attrs == null || index < 0 || index >= v.attrs.size) null else v.attrs(index)
}

private[sessions] object LiveReplay {
  val TickMs = 10000L

  // The figures of a LiveRow, in its order.
  private val Concurrent = 0
  private val Stalled = 1
  private val StartAttempts = 2
  private val StartFailures = 3
  private val ExitsBeforeStart = 4
  private val PlaybackFailures = 5
  private val Figures = 6

  /** What the replay knows of an open view: the player's state, and the time (server time) of its last event. */
  final case class Open(
      videoId: String,
      var player: Int,
      var inAd: Boolean,
      var pastFirstFrame: Boolean,
      var lastTs: Long,
      offset: Long,
      var attrs: Seq[String]
  )

  def tickOf(ts: Long): Long = Math.floorDiv(ts, TickMs) * TickMs
}
