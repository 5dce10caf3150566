package vsa.spark.sessions

import org.apache.spark.sql.catalyst.plans.logical.EventTimeWatermark
import org.apache.spark.sql.vsa.Columns.{column, expression}
import org.apache.spark.sql.functions.{coalesce, col, lit}
import org.apache.spark.sql.streaming.{GroupState, GroupStateTimeout, OutputMode}
import org.apache.spark.sql.types.{BinaryType, LongType, Metadata, MetadataBuilder, StructType}
import vsa.spark.expressions.{PackRow, UnpackRow}
import org.apache.spark.sql.{DataFrame, Dataset, Encoders}

import scala.collection.mutable.ArrayBuffer

/** Player events → views and view slices, by the rules of docs/views.md; CDN requests carrying a CMCD session id → the
  * CDN figures of the view they served (docs/cdn.md, "Attribution").
  *
  * Stateful per session key (`flatMapGroupsWithState`, event-time timeouts): an event's CMCD session id, a request's
  * CMCD `sid`. Events wait in the state until the watermark passes them and are then applied in event-time order, so
  * out-of-order delivery within the watermark changes nothing. A view keeps running totals; a minute's slice is emitted
  * once the watermark passes the minute's end, a view's row (with its last slice) once it closes.
  *
  * Device clocks (docs/views.md): a session's clock offset is the least receipt time minus `ts` of its events so far
  * (within the bound the input applied), so it only decreases; an event's time is `ts` + the offset. A view takes the
  * offset its first event arrived with and keeps it, so that durations within it are the device's.
  */
object Sessionizer {
  private val MinuteMs = 60000L
  private val WatermarkGuard = "_watermark_guard"

  /** A session with nothing open is remembered (its last view number) for this many view timeouts after its last event,
    * so a player that comes back within that time continues its view numbering; after it, the state goes and a
    * returning session starts again at 1.
    */
  private val SessionMemory = 6

  import Player.{Paused, Playing, Stalled}

  /** The player event types the sessionizer knows, in the order it applies them at the same instant: closes first,
    * heartbeats last (CDN requests come after every event). Validation (`PlayerEvents`) and the truth oracle
    * (`PythonApi.eventTypes`) read this list.
    */
  val EventTypes: Seq[String] = Seq(
    "view_end",
    "playback_finish",
    "playback_fail",
    "playback_request",
    "ad_break_start",
    "ad_break_end",
    "seek_start",
    "seek_end",
    "playback_pause",
    "playback_stall",
    "rendition_update",
    "playback_start",
    "heartbeat"
  )
  private val TiePriority: Map[String, Int] = EventTypes.zipWithIndex.toMap
  private val RequestPriority = 100

  /** Rows only passed through are spread over this many groups (a null key would put them all in one task). */
  private val PassthroughGroups = 256

  /** `cdnAttr`, `countryAttr`: where an event's `attrs` hold its CDN and country, the live view's dimensions (-1: not
    * there).
    */
  final case class Settings(
      viewTimeoutMs: Long,
      maxEventGapMs: Long,
      maxPendingEvents: Int,
      cdnAttr: Int = -1,
      countryAttr: Int = -1
  ) {
    require(maxEventGapMs > 0, "max_event_gap must be positive")
    require(viewTimeoutMs > maxEventGapMs, "view_timeout must be longer than max_event_gap")
    require(maxPendingEvents > 0, "max_pending_events_per_session must be positive")
  }

  /** Sessionizes `events` (the columns of [[SessionEvent]], `ts` in epoch ms; `key` defaults to `session_id`;
    * `request`, `clock_offset` and the picture's sizes to none). A session holds at most `maxPendingEvents` events
    * waiting for the watermark; more are rejected (`session_overflow`), and more requests are not attributed. A
    * streaming input must carry a watermark (`withWatermark` on any of its columns); a batch input is processed as a
    * stream whose watermark has passed every event, so every view closes. Events behind the watermark come out as
    * rejected (`late`), not dropped.
    *
    * A struct column `passthrough`, if `events` has one, comes out unchanged as the output column `passthrough`, in the
    * micro-batch its row came in: so one streaming query can write the input records themselves beside the views. A row
    * whose `key` is null carries only its `passthrough` (a record that is not a valid event, a request without `sid`).
    *
    * A row with `request` is a CDN request keyed by its CMCD `sid`: it waits for the watermark like an event, and is
    * then attributed to the view of its key open at its time (after the events of the same instant), if any; behind the
    * watermark it is not attributed (never rejected: it is a valid request).
    *
    * Each micro-batch that brings a session events also gives the session's part of the live view (`live` rows,
    * [[LiveReplay]]), its dimensions the `attrs` at `cdnAttr` and `countryAttr`.
    */
  def sessionize(
      events: DataFrame,
      viewTimeoutMs: Long,
      maxEventGapMs: Long,
      maxPendingEvents: Int,
      cdnAttr: Int = -1,
      countryAttr: Int = -1
  ): DataFrame = {
    val settings = Settings(viewTimeoutMs, maxEventGapMs, maxPendingEvents, cdnAttr, countryAttr)
    val streaming = events.isStreaming
    val carried = events.schema.find(_.name == Passthrough).map(_.dataType.asInstanceOf[StructType])
    val keyed = Seq(
      "key" -> col("session_id"),
      "request" -> lit(null).cast(Encoders.product[CdnRequest].schema),
      "clock_offset" -> lit(null).cast(LongType),
      "video_width" -> lit(null).cast(LongType),
      "video_height" -> lit(null).cast(LongType),
      "player_width" -> lit(null).cast(LongType),
      "player_height" -> lit(null).cast(LongType)
    ).foldLeft(events) { case (df, (name, default)) =>
      if (df.columns.contains(name)) df else df.withColumn(name, default)
    }
    val packed = keyed
      .withColumn(
        Passthrough,
        carried.fold(lit(null).cast(BinaryType))(_ => column(PackRow(expression(col(Passthrough)))))
      )
      .withColumn("ts", coalesce(col("ts"), lit(0L)))
    val input = if (streaming) lettingLateRowsThrough(packed) else packed
    val typed: Dataset[SessionEvent] = input.as(Encoders.product[SessionEvent])
    val out = typed
      .groupByKey(groupOf)(Encoders.STRING)
      .flatMapGroupsWithState(OutputMode.Append(), GroupStateTimeout.EventTimeTimeout())(
        (_: String, incoming: Iterator[SessionEvent], state: GroupState[Array[Byte]]) =>
          new SessionRun(settings, streaming, state).run(incoming)
      )(Encoders.BINARY, Encoders.product[SessionOutput])
      .toDF()
    carried.fold(out.drop(Passthrough))(schema =>
      out.withColumn(Passthrough, column(UnpackRow(expression(col(Passthrough)), schema)))
    )
  }

  private val Passthrough = "passthrough"

  /** A row's group: its key, or for a row only passed through one of [[PassthroughGroups]] groups by its bytes (such a
    * group may share a real key: `SessionRun` tells the rows apart by their null key).
    */
  private def groupOf(e: SessionEvent): String =
    if (e.key != null) e.key
    else "\u0000" + Math.floorMod(java.util.Arrays.hashCode(e.passthrough), PassthroughGroups)

  /** Spark drops rows behind the watermark before a `flatMapGroupsWithState` function sees them, judging by the column
    * that carries the watermark. Moving the watermark onto a column that is never behind it (the latest timestamp)
    * keeps the watermark (and the event-time timeouts) while every row reaches the function, which dead-letters the
    * late ones itself.
    */
  private def lettingLateRowsThrough(events: DataFrame): DataFrame = {
    val delayKey = EventTimeWatermark.delayKey
    val marked = events.schema.fields.filter(_.metadata.contains(delayKey))
    require(marked.nonEmpty, "a streaming input of the sessionizer needs a watermark (withWatermark)")
    val guard = new MetadataBuilder().putLong(delayKey, marked.head.metadata.getLong(delayKey)).build()
    marked
      .foldLeft(events)((df, field) => df.withColumn(field.name, col(field.name).as(field.name, Metadata.empty)))
      .withColumn(WatermarkGuard, lit(java.sql.Timestamp.valueOf("9999-12-31 00:00:00")).as(WatermarkGuard, guard))
  }

  /** One call of the state function for one session key: the state machine of docs/views.md, given the key's rows of
    * one micro-batch and its `GroupState`. Visible to the package so that its unit tests drive it directly, with
    * Spark's own `GroupState`, one micro-batch at a time (SessionStateMachineSpec).
    */
  private[sessions] final class SessionRun(
      settings: Settings,
      streaming: Boolean,
      state: GroupState[Array[Byte]]
  ) {
    private val watermark = if (streaming) state.getCurrentWatermarkMs() else Long.MaxValue
    private val out = ArrayBuffer.empty[SessionOutput]
    private val saved = state.getOption.map(StateBytes.decode)
    private var lastOrdinal = saved.map(_.lastOrdinal).getOrElse(0)
    private var lastActivity = saved.map(_.lastActivity).getOrElse(Long.MinValue)
    private var view: Option[ViewState] = saved.flatMap(_.view)
    private var closing: Seq[ViewState] = saved.map(_.closing).getOrElse(Seq.empty)
    private var offset: Option[Long] = saved.flatMap(_.offset)
    private var concurrentTick = saved.fold(Long.MinValue)(_.concurrentTick)
    private var stalledTick = saved.fold(Long.MinValue)(_.stalledTick)

    def run(incoming: Iterator[SessionEvent]): Iterator[SessionOutput] = {
      val keyed = incoming.filter { e => passedThrough(e).foreach(out += _); e.key != null }.toVector
      if (keyed.isEmpty && !state.exists) out.iterator else sessionize(keyed.iterator)
    }

    private def passedThrough(e: SessionEvent): Option[SessionOutput] =
      Option(e.passthrough).map(bytes => SessionOutput(None, None, None, Some(bytes)))

    private def sessionize(incoming: Iterator[SessionEvent]): Iterator[SessionOutput] = {
      val waiting = saved.map(s => Pending.unpack(s.pending)).getOrElse(Seq.empty)
      val arrived = incoming.toVector
      learnOffset(arrived.filter(_.request.isEmpty))
      val shift = offset.getOrElse(0L)
      var seen = waiting.map(_.event_id).toSet
      // A batch run applies every event at once: nothing waits, nothing overflows.
      var room = if (streaming) settings.maxPendingEvents - waiting.size else Int.MaxValue
      // Everything at or behind this batch's watermark was applied in an earlier batch (or is
      // applied now, from `waiting`), so an incoming event there would be applied out of order:
      // it is late. A later copy of an event id is a duplicate. Both go to the dead letters, as
      // do the events past what a session may hold.
      val fresh = Vector.newBuilder[SessionEvent]
      arrived.foreach { e =>
        if (e.request.isDefined) {
          if ((!streaming || e.ts > watermark) && room > 0) {
            fresh += stripped(e)
            room -= 1
          }
        } else if (streaming && e.ts + shift <= watermark)
          reject(
            e,
            "late",
            s"ts ${instant(e.ts)}${offsetNote(shift)} at or behind the watermark ${instant(watermark)}"
          )
        else if (seen(e.event_id)) reject(e, "duplicate", s"event_id ${e.event_id} seen before")
        else if (room <= 0)
          reject(e, "session_overflow", s"session holds ${settings.maxPendingEvents} events waiting for the watermark")
        else {
          seen += e.event_id
          fresh += stripped(e).copy(clock_offset = Some(shift))
          room -= 1
        }
      }
      val arrivedNow = fresh.result()
      val ordered =
        (waiting ++ arrivedNow).sortBy(e => (time(e, shift), priority(e), Option(e.event_id).getOrElse("")))
      val newEvents = arrivedNow.iterator.filter(_.request.isEmpty).map(_.event_id).toSet
      if (newEvents.nonEmpty) replayLive(ordered, newEvents)
      val (ready, later) = ordered.partition(time(_, shift) <= watermark)
      ready.foreach(apply)
      advanceTo(watermark)
      save(later, shift)
      out.iterator
    }

    /** The session's part of the live view: `ordered` (its events and requests waiting in event-time order) replayed
      * from the open view as the watermark left it, `newEvents` (ids) counted as this batch's.
      */
    private def replayLive(ordered: Seq[SessionEvent], newEvents: Set[String]): Unit = {
      val from = view.map { v =>
        LiveReplay.Open(v.videoId, v.player, v.inAd, pastFirstFrame(v), v.lastTs, v.offset, v.attrs)
      }
      val replay = new LiveReplay(settings, from, concurrentTick, stalledTick)
      ordered.foreach(e => if (e.request.isEmpty) replay(e, newEvents(e.event_id)))
      concurrentTick = replay.concurrentTick
      stalledTick = replay.stalledTick
      replay.rows.foreach(row => out += SessionOutput(None, None, None, live = Some(row)))
    }

    private def pastFirstFrame(v: ViewState): Boolean = v.startMissing || v.firstFrameTs.isDefined

    /** Takes in what `events` say of the device clock: the session's offset only decreases (see the object's doc). A
      * session whose first events say nothing (no receipt time within the bound: a replay) keeps their `ts`: offset 0.
      */
    private def learnOffset(events: Seq[SessionEvent]): Unit =
      if (events.nonEmpty) {
        val said = events.flatMap(_.clock_offset)
        offset = (offset.toSeq ++ said).minOption.orElse(Some(0L))
      }

    /** When a row waiting in the state is due: a request at its `ts` (the CDN's clock), an event at `ts` + `shift`. */
    private def time(e: SessionEvent, shift: Long): Long = if (e.request.isDefined) e.ts else e.ts + shift

    private def offsetNote(shift: Long): String = if (shift == 0) "" else s" + clock offset ${shift} ms"

    /** What of a row waits in the state: not its raw record, Kafka coordinates or passthrough (already out). */
    private def stripped(e: SessionEvent): SessionEvent =
      e.copy(raw = null, kafka_topic = null, kafka_partition = None, kafka_offset = None, passthrough = null)

    private def priority(e: SessionEvent): Int =
      if (e.request.isDefined) RequestPriority else TiePriority.getOrElse(e.event_type, 99)

    private def reject(e: SessionEvent, reason: String, detail: String): Unit =
      out += SessionOutput(
        None,
        None,
        Some(RejectedEvent(reason, detail, e.raw, e.kafka_topic, e.kafka_partition, e.kafka_offset))
      )

    private def instant(ms: Long): String = java.time.Instant.ofEpochMilli(ms).toString

    private def apply(e: SessionEvent): Unit = e.request match {
      case Some(r) => attribute(e.ts, r)
      case None    => applyEvent(e)
    }

    /** Adds a request to the view open at `ts` (one that timed out by then is closed first), if any. A request logged
      * with whole seconds comes at the end of its second (`ts` ends in 999, docs/cdn.md): it goes to the view open
      * then, else to one that closed within that second (it may have completed before the close). A request never moves
      * the view's activity: only events keep a view open.
      */
    private def attribute(ts: Long, r: CdnRequest): Unit = {
      view.foreach { v =>
        if (ts - v.lastTs >= settings.viewTimeoutMs) closeTimedOut(v)
      }
      val wholeSecond = Math.floorMod(ts, 1000L) == 999L
      val served = view.orElse(closing.reverse.find(v => wholeSecond && v.closedAt.exists(_ > ts - 999)))
      served.foreach { v =>
        v.cdn = Some(v.cdn.getOrElse(CdnFigures()))
        v.cdn.get.add(r)
        val acc = minute(v, ts)
        acc.cdn = Some(acc.cdn.getOrElse(CdnFigures()))
        acc.cdn.get.add(r)
        v.lastRequestTs = Some(v.lastRequestTs.fold(ts)(math.max(_, ts)))
      }
    }

    /** Applies an event in server time: at `ts` + the open view's offset when it continues the view, else at `ts` + the
      * offset it arrived with (it opens a view with that offset).
      */
    private def applyEvent(e: SessionEvent): Unit = {
      val own = e.copy(ts = e.ts + e.clock_offset.getOrElse(0L))
      view.foreach { v =>
        if (e.ts + v.offset - v.lastTs >= settings.viewTimeoutMs) closeTimedOut(v)
      }
      val at = view match {
        case None => open(own)
        case Some(v) if e.event_type == "playback_request" && differentVideo(v, e) =>
          account(v, e.ts + v.offset)
          close(v, closedAt = e.ts + v.offset, reason = "new_video", failed = false)
          open(own)
        case Some(v) =>
          val inView = e.copy(ts = e.ts + v.offset)
          step(v, inView)
          inView.ts
      }
      lastActivity = math.max(lastActivity, at)
    }

    private def differentVideo(v: ViewState, e: SessionEvent): Boolean =
      v.videoId != null && e.video_id != null && v.videoId != e.video_id

    /** Opens a view at `e` (in server time, its `clock_offset` the view's offset); returns its time. */
    private def open(e: SessionEvent): Long = {
      lastOrdinal += 1
      val startMissing = e.event_type != "playback_request"
      val v = ViewState(
        sessionId = e.session_id,
        ordinal = lastOrdinal,
        videoId = e.video_id,
        attrs = e.attrs,
        startMissing = startMissing,
        offset = e.clock_offset.getOrElse(0L),
        viewStart = e.ts,
        lastTs = e.ts,
        accountedTo = e.ts,
        player = Player.opening(e.event_type),
        firstFrameTs = None,
        startupTimeMs = None,
        startupSpoiled = false,
        nextMinute = minuteOf(e.ts)
      )
      hold(v, e)
      minute(v, e.ts).opened = true
      view = Some(v)
      if (startMissing) step(v, e, opening = true)
      e.ts
    }

    /** Applies one event to an open view: time since its last event first, then the event. */
    private def step(v: ViewState, e: SessionEvent, opening: Boolean = false): Unit = {
      if (!opening) {
        account(v, e.ts)
        v.lastTs = e.ts
        v.accountedTo = e.ts
      }
      if (v.attrs.contains(null)) v.attrs = filled(v.attrs, e.attrs)
      val acc = minute(v, e.ts)
      val pastFirstFrame = this.pastFirstFrame(v)
      val inAd = v.inAd
      // Only a rendition_update counts as a switch, and one to a lower bitrate as a downshift.
      val downshift =
        e.event_type == "rendition_update" && pastFirstFrame && e.bitrate_kbps.exists(b => v.bitrate.exists(b < _))
      if (downshift && !v.inAd) {
        v.picture.downshifts += 1
        acc.picture.downshifts += 1
      }
      hold(v, e)
      e.event_type match {
        case "ad_break_start" =>
          if (!v.inAd) { v.inAd = true; v.ads.breaks += 1; acc.ads.breaks += 1 }
          // A pre-roll's first frame is the first frame of anything the viewer saw.
          if (!pastFirstFrame && v.firstAnyFrameTs.isEmpty) v.firstAnyFrameTs = Some(e.ts)
        case "ad_break_end"            => v.inAd = false
        case "playback_fail" if v.inAd => v.ads.failures += 1; acc.ads.failures += 1
        case "playback_finish"         => close(v, e.ts, "finish", failed = false)
        case "playback_fail"           => close(v, e.ts, "fail", failed = true)
        case "view_end"                => close(v, e.ts, "close", failed = false)
        case _ if v.inAd               => () // the ad's own playback, not the content's
        case "playback_start" if !pastFirstFrame =>
          v.firstFrameTs = Some(e.ts)
          // Content startup leaves the pre-roll out (all ad time so far came before this frame).
          v.startupTimeMs = if (v.startupSpoiled) None else Some(e.ts - v.viewStart - v.ads.timeMs)
          v.startupWithAdsMs = if (v.startupSpoiled) None else Some(v.firstAnyFrameTs.getOrElse(e.ts) - v.viewStart)
          acc.firstFrame = true
        case "playback_stall" if pastFirstFrame =>
          v.stallCount += 1
          acc.stallCount += 1
        case "playback_pause" | "seek_start" if !pastFirstFrame => v.startupSpoiled = true
        case "rendition_update" if pastFirstFrame               => v.bitrateSwitches += 1
        case _                                                  => ()
      }
      v.player = Player.after(v.player, inAd, pastFirstFrame, e.event_type)
    }

    /** What an event says of the picture, held until an event says otherwise: any event may say which rendition plays
      * (CMCD reports carry `br` on every report) and the player's display size.
      */
    private def hold(v: ViewState, e: SessionEvent): Unit = {
      if (!v.inAd) { // an ad's rendition is not the content's
        e.bitrate_kbps.foreach(b => v.bitrate = Some(b))
        for (w <- e.video_width; h <- e.video_height) v.videoSize = Some((w, h))
      }
      for (w <- e.player_width; h <- e.player_height) v.playerSize = Some((w, h))
    }

    /** The picture's scale: the growth of its first dimension to reach the player's edge (aspect kept), when the
      * rendition and the display size are known.
      */
    private def scale(v: ViewState): Option[Double] =
      for {
        (vw, vh) <- v.videoSize if vw > 0 && vh > 0
        (pw, ph) <- v.playerSize if pw > 0 && ph > 0
      } yield math.min(pw.toDouble / vw, ph.toDouble / vh)

    /** Counts the time since the view's last event, up to `until` and at most the gap cap. */
    private def account(v: ViewState, until: Long): Unit = {
      val end = math.min(until, v.lastTs + settings.maxEventGapMs)
      var from = v.accountedTo
      while (from < end) {
        val m = minuteOf(from)
        val to = math.min(end, m + MinuteMs)
        val ms = to - from
        val acc = minute(v, from)
        if (v.inAd) { // ad time, not the content's: its state waits for the break's end
          acc.ads.timeMs += ms; v.ads.timeMs += ms
          acc.active = true
        } else {
          if (v.player != Paused) { acc.watch += ms; v.watch += ms }
          if (v.player == Playing) {
            acc.playing += ms; v.playing += ms
            val scaled = scale(v)
            v.picture.play(ms, v.bitrate, scaled)
            acc.picture.play(ms, v.bitrate, scaled)
          }
          if (v.player == Stalled) { acc.stall += ms; v.stall += ms }
          if (v.player == Playing || v.player == Stalled) acc.active = true
        }
        from = to
      }
      v.accountedTo = math.max(v.accountedTo, end)
    }

    /** Brings the session up to the watermark: a timeout of the open view, then the slices of every minute that ended
      * at or before the watermark, closing ones included. A slice is never emitted before its minute is over, so a
      * minute's slices all come in one batch.
      */
    private def advanceTo(w: Long): Unit = {
      val finalUpTo = minuteOf(w) - MinuteMs
      view.foreach { v =>
        if (w >= v.lastTs + settings.viewTimeoutMs) closeTimedOut(v)
        else {
          account(v, w)
          emitMinutes(v, upTo = finalUpTo)
        }
      }
      closing = closing.filterNot { v =>
        val closingMinute = minuteOf(v.closedAt.get)
        emitMinutes(v, upTo = math.min(finalUpTo, closingMinute - MinuteMs))
        val done = closingMinute <= finalUpTo
        if (done) {
          val row = viewRow(v)
          out += SessionOutput(Some(slice(v, closingMinute, ending = Some(row))), Some(row), None)
        }
        done
      }
    }

    private def closeTimedOut(v: ViewState): Unit = {
      account(v, Long.MaxValue)
      close(v, v.lastTs + settings.viewTimeoutMs, "timeout", failed = false)
    }

    /** The view's last minute with an event, counted time or an attributed request. */
    private def lastMinute(v: ViewState): Long = {
      val timed = if (v.accountedTo > v.lastTs) minuteOf(v.accountedTo - 1) else minuteOf(v.lastTs)
      v.lastRequestTs.fold(timed)(ts => math.max(timed, minuteOf(ts)))
    }

    /** Emits the slices of minutes `v.nextMinute..upTo` in which the view had an event or counted time. A minute of
      * silence longer than the gap cap has no slice: whether the view resumes after it or times out is only known
      * later, and a minute's slices must all come out in the batch whose watermark passes it.
      */
    private def emitMinutes(v: ViewState, upTo: Long): Unit = {
      val last = math.min(upTo, lastMinute(v))
      while (v.nextMinute <= last) {
        if (v.minutes.exists(_.minute == v.nextMinute))
          out += SessionOutput(Some(slice(v, v.nextMinute, ending = None)), None, None)
        v.minutes = v.minutes.filterNot(_.minute == v.nextMinute)
        v.nextMinute += MinuteMs
      }
    }

    /** Closes the view; its last slices and its row go out once their minutes are over. */
    private def close(v: ViewState, closedAt: Long, reason: String, failed: Boolean): Unit = {
      v.closedAt = Some(closedAt)
      v.endReason = reason
      v.failed = failed
      closing = closing :+ v
      view = None
    }

    private def viewRow(v: ViewState): ViewRow = {
      val pastFirstFrame = this.pastFirstFrame(v)
      val cdn = v.cdn.getOrElse(CdnFigures())
      val picture = v.picture
      ViewRow(
        view_id = viewId(v),
        session_id = v.sessionId,
        video_id = v.videoId,
        started = pastFirstFrame,
        startup_time_ms = v.startupTimeMs,
        startup_with_ads_ms = v.startupWithAdsMs,
        watch_time_ms = v.watch,
        playing_time_ms = v.playing,
        stall_count = v.stallCount,
        stall_time_ms = v.stall,
        rebuffer_ratio = if (v.watch > 0) Some(v.stall.toDouble / v.watch) else None,
        playback_failed = v.failed,
        video_start_failure = v.failed && !pastFirstFrame,
        exit_before_video_start = !v.failed && !pastFirstFrame,
        avg_bitrate_kbps = picture.avgBitrateKbps,
        bitrate_switches = v.bitrateSwitches,
        bitrate_downshifts = picture.downshifts,
        upscale_pct = picture.upscalePct,
        downscale_pct = picture.downscalePct,
        max_upscale_pct = picture.maxUpscale,
        ad_time_ms = v.ads.timeMs,
        ad_breaks = v.ads.breaks,
        ad_failures = v.ads.failures,
        view_start = v.viewStart,
        view_end = v.lastTs,
        closed_at = v.closedAt.get,
        end_reason = v.endReason,
        start_missing = v.startMissing,
        cdn_requests = cdn.requests,
        cdn_bytes = cdn.bytes,
        cdn_errors = cdn.errors,
        cdn_cache_hit_ratio = cdn.cacheHitRatio,
        cdn_ttfb_p50_ms = cdn.ttfbQuantile(0.5),
        cdn_ttfb_p95_ms = cdn.ttfbQuantile(0.95),
        cdn_throughput_p50_kbps = cdn.throughputQuantile(0.5),
        cdn_starvation_requests = cdn.starved,
        cdn_pops = cdn.pops,
        cdn_primary_pop = cdn.primaryPop.orNull,
        attrs = v.attrs
      ).scored
    }

    private def slice(v: ViewState, m: Long, ending: Option[ViewRow]): SliceRow = {
      val acc = v.minutes.find(_.minute == m).getOrElse(MinuteAcc(m))
      val cdn = acc.cdn.getOrElse(CdnFigures())
      SliceRow(
        view_id = viewId(v),
        session_id = v.sessionId,
        minute = m,
        video_id = v.videoId,
        opened = acc.opened,
        first_frame = acc.firstFrame,
        startup_time_ms = if (acc.firstFrame) v.startupTimeMs else None,
        watch_time_ms = acc.watch,
        playing_time_ms = acc.playing,
        stall_time_ms = acc.stall,
        stall_count = acc.stallCount,
        bitrate_kbps_ms = acc.picture.bitrateKbpsMs,
        bitrate_ms = acc.picture.bitrateMs,
        upscale_bp_ms = acc.picture.upscaleBpMs,
        downscale_bp_ms = acc.picture.downscaleBpMs,
        scaled_ms = acc.picture.scaledMs,
        bitrate_downshifts = acc.picture.downshifts,
        ad_time_ms = acc.ads.timeMs,
        ad_breaks = acc.ads.breaks,
        ad_failures = acc.ads.failures,
        failed = ending.exists(_.playback_failed),
        vsf = ending.exists(_.video_start_failure),
        ebvs = ending.exists(_.exit_before_video_start),
        ended = ending.isDefined,
        active = acc.active,
        cdn_requests = cdn.requests,
        cdn_bytes = cdn.bytes,
        cdn_errors = cdn.errors,
        cdn_cache_hits = cdn.cacheHits,
        cdn_cache_misses = cdn.cacheMisses,
        cdn_starvation_requests = cdn.starved,
        cdn_ttfb_sketch = cdn.ttfbSketch,
        cdn_throughput_sketch = cdn.throughputSketch,
        cdn_primary_pop = cdn.primaryPop.orNull,
        cdn_primary_cdn = if (cdn.requests > 0) cdn.primaryCdn.orNull else null,
        attrs = v.attrs
      )
    }

    private def minute(v: ViewState, ts: Long): MinuteAcc = {
      val m = minuteOf(ts)
      v.minutes.find(_.minute == m).getOrElse {
        val acc = MinuteAcc(m)
        v.minutes = v.minutes :+ acc
        acc
      }
    }

    private def viewId(v: ViewState): String = s"${v.sessionId}#${v.ordinal}"

    private def save(pending: Seq[SessionEvent], shift: Long): Unit =
      if (!streaming) ()
      else if (
        view.isEmpty && closing.isEmpty && pending.isEmpty &&
        watermark > lastActivity + SessionMemory * settings.viewTimeoutMs
      ) state.remove()
      else {
        (view.toSeq ++ closing).foreach { v =>
          v.cdn.foreach(_.flush())
          v.minutes.foreach(_.cdn.foreach(_.flush()))
        }
        state.update(
          StateBytes.encode(
            SessionState(
              lastOrdinal,
              lastActivity,
              Pending.pack(pending),
              view,
              closing,
              offset,
              concurrentTick,
              stalledTick
            )
          )
        )
        // Spark calls back once the watermark is past a timestamp: wake up when the next
        // event is ready, the next minute is over, or a view times out.
        val wakeUps = pending.headOption.map(time(_, shift) - 1).toSeq ++
          view.toSeq.flatMap(v => Seq(v.nextMinute + MinuteMs - 1, v.lastTs + settings.viewTimeoutMs - 1)) ++
          closing.map(v => minuteOf(v.closedAt.get) + MinuteMs - 1) :+
          (lastActivity + SessionMemory * settings.viewTimeoutMs)
        state.setTimeoutTimestamp(math.max(wakeUps.min, watermark + 1))
      }
  }

  /** `attrs` with each null filled from `more` (a view takes each descriptive column from its first event that has it).
    */
  private[sessions] def filled(attrs: Seq[String], more: Seq[String]): Seq[String] =
    if (attrs == null) more
    else if (more == null) attrs
    else attrs.zipAll(more, null, null).map { case (a, b) => if (a != null) a else b }

  private def minuteOf(ts: Long): Long = Math.floorDiv(ts, MinuteMs) * MinuteMs

  /** Events waiting for the watermark as the state keeps them. A session's events nearly all carry the same `attrs`
    * (its viewer, player, agent and place), and a backlog's first micro-batch keeps every event waiting (no watermark
    * yet): so an event keeps its `attrs` only where they differ from the previous waiting event's, null standing for
    * "the same" (an event's `attrs` are never null: the view merges them).
    */
  private[sessions] object Pending {
    def pack(events: Seq[SessionEvent]): Seq[SessionEvent] = {
      var last: Seq[String] = null
      events.map { e =>
        if (e.request.isDefined) e
        else if (last != null && e.attrs == last) e.copy(attrs = null)
        else { last = e.attrs; e }
      }
    }

    def unpack(events: Seq[SessionEvent]): Seq[SessionEvent] = {
      var last: Seq[String] = null
      events.map { e =>
        if (e.request.isDefined) e
        else if (e.attrs == null) e.copy(attrs = last)
        else { last = e.attrs; e }
      }
    }
  }
}
