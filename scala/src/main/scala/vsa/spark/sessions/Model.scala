package vsa.spark.sessions

/** One valid, enriched player event, or one CMCD-attributable CDN request (`request`), as the sessionizer reads it.
  * `key` groups a session's events with its requests: the event's CMCD session id (event field `cmcd_sid`, else its
  * `session_id`), the request's CMCD `sid`; null for a row that is only passed through. `attrs` carries the descriptive
  * columns (viewer, player, agent, geo…) that a view takes from its first event; `raw` and the Kafka coordinates are
  * only for the dead-letter row of an event the sessionizer rejects (dropped once the event is accepted). `passthrough`
  * is a record the sessionizer hands straight to its output (a packed row, see `Sessionizer.sessionize`); a row without
  * `session_id` carries only that. `clock_offset` (ms) is what the record says of its device's clock: its receipt time
  * minus `ts`, when within the bound (docs/views.md, "Device clocks"); none for a request (the CDN's clock is the
  * server's). Once the event waits in the state, it is the session's offset as of its arrival instead: the offset of
  * the view it opens, if it opens one.
  */
final case class SessionEvent(
    key: String,
    session_id: String,
    event_id: String,
    event_type: String,
    ts: Long,
    video_id: String,
    bitrate_kbps: Option[Long],
    attrs: Seq[String],
    raw: String,
    kafka_topic: String,
    kafka_partition: Option[Int],
    kafka_offset: Option[Long],
    passthrough: Array[Byte],
    request: Option[CdnRequest],
    clock_offset: Option[Long] = None,
    video_width: Option[Long] = None,
    video_height: Option[Long] = None,
    player_width: Option[Long] = None,
    player_height: Option[Long] = None
)

/** What happened to a view in one minute (a `view_slices` row). */
final case class SliceRow(
    view_id: String,
    session_id: String,
    minute: Long,
    video_id: String,
    opened: Boolean,
    first_frame: Boolean,
    startup_time_ms: Option[Long],
    watch_time_ms: Long,
    playing_time_ms: Long,
    stall_time_ms: Long,
    stall_count: Int,
    bitrate_kbps_ms: Long,
    bitrate_ms: Long,
    upscale_bp_ms: Long,
    downscale_bp_ms: Long,
    scaled_ms: Long,
    bitrate_downshifts: Int,
    ad_time_ms: Long,
    ad_breaks: Int,
    ad_failures: Int,
    failed: Boolean,
    vsf: Boolean,
    ebvs: Boolean,
    ended: Boolean,
    active: Boolean,
    cdn_requests: Long,
    cdn_bytes: Long,
    cdn_errors: Long,
    cdn_cache_hits: Long,
    cdn_cache_misses: Long,
    cdn_starvation_requests: Long,
    cdn_ttfb_sketch: Array[Byte],
    cdn_throughput_sketch: Array[Byte],
    cdn_primary_pop: String,
    cdn_primary_cdn: String,
    attrs: Seq[String]
)

/** A closed view (a `views` row). */
final case class ViewRow(
    view_id: String,
    session_id: String,
    video_id: String,
    started: Boolean,
    startup_time_ms: Option[Long],
    startup_with_ads_ms: Option[Long] = None,
    watch_time_ms: Long,
    playing_time_ms: Long,
    stall_count: Int,
    stall_time_ms: Long,
    rebuffer_ratio: Option[Double],
    playback_failed: Boolean,
    video_start_failure: Boolean,
    exit_before_video_start: Boolean,
    avg_bitrate_kbps: Option[Double],
    bitrate_switches: Int,
    bitrate_downshifts: Int = 0,
    upscale_pct: Option[Double] = None,
    downscale_pct: Option[Double] = None,
    max_upscale_pct: Option[Double] = None,
    ad_time_ms: Long = 0,
    ad_breaks: Int = 0,
    ad_failures: Int = 0,
    view_start: Long,
    view_end: Long,
    closed_at: Long,
    end_reason: String,
    start_missing: Boolean,
    cdn_requests: Long,
    cdn_bytes: Long,
    cdn_errors: Long,
    cdn_cache_hit_ratio: Option[Double],
    cdn_ttfb_p50_ms: Option[Double],
    cdn_ttfb_p95_ms: Option[Double],
    cdn_throughput_p50_kbps: Option[Double],
    cdn_starvation_requests: Long,
    cdn_pops: Seq[String],
    cdn_primary_pop: String,
    score_playback_success: Option[Double] = None,
    score_startup: Option[Double] = None,
    score_smoothness: Option[Double] = None,
    score_video_quality: Option[Double] = None,
    score_overall: Option[Double] = None,
    attrs: Seq[String]
) {

  /** This row with its experience scores (`Scores`). */
  def scored: ViewRow = {
    val s = Scores.of(this)
    copy(
      score_playback_success = s.playbackSuccess,
      score_startup = s.startup,
      score_smoothness = s.smoothness,
      score_video_quality = s.videoQuality,
      score_overall = s.overall
    )
  }
}

/** An event the sessionizer did not apply (`late`: the watermark had passed it; `duplicate`: its id was seen). */
final case class RejectedEvent(
    reason: String,
    detail: String,
    raw: String,
    kafka_topic: String,
    kafka_partition: Option[Int],
    kafka_offset: Option[Long]
)

/** A session's part of one 10-s tick of the live view (docs/kpis.md, "Live"), as one micro-batch saw it: a `live` row
  * before the batch adds up its sessions. `tick` is the tick's start (epoch ms); `cdn` and `country` are the view's.
  */
final case class LiveRow(
    tick: Long,
    cdn: String,
    country: String,
    concurrent_viewers: Int,
    stalled_viewers: Int,
    start_attempts: Int,
    start_failures: Int,
    exits_before_start: Int,
    playback_failures: Int
)

/** The sessionizer's output: a slice (and on the slice that ends its view, the view), a rejected event, a record passed
  * through, or a session's part of the live view.
  */
final case class SessionOutput(
    slice: Option[SliceRow],
    closed_view: Option[ViewRow],
    rejected: Option[RejectedEvent],
    passthrough: Option[Array[Byte]] = None,
    live: Option[LiveRow] = None
)

/** Time and counts of a view within one minute, until the minute is emitted. */
final case class MinuteAcc(
    minute: Long,
    var watch: Long = 0,
    var playing: Long = 0,
    var stall: Long = 0,
    var stallCount: Int = 0,
    var active: Boolean = false,
    var opened: Boolean = false,
    var firstFrame: Boolean = false,
    var cdn: Option[CdnFigures] = None,
    var picture: Picture = Picture(),
    var ads: Ads = Ads()
)

/** Ad breaks (docs/views.md, "Ads"): time in them, breaks begun, failures inside them. A view's and a minute's alike.
  */
final case class Ads(var timeMs: Long = 0, var breaks: Int = 0, var failures: Int = 0)

/** What the viewer saw while the view played (docs/kpis.md, "Picture quality"): time with a known bitrate and its
  * kbps·ms, time with a known rendition and display size and its upscale and downscale basis points·ms, the largest
  * upscale, and bitrate downshifts. A view's and a minute's alike.
  */
final case class Picture(
    var bitrateKbpsMs: Long = 0,
    var bitrateMs: Long = 0,
    var upscaleBpMs: Long = 0,
    var downscaleBpMs: Long = 0,
    var scaledMs: Long = 0,
    var maxUpscaleBp: Long = 0,
    var downshifts: Int = 0
) {

  /** Counts `ms` of playing at `bitrate` with the picture scaled by `scale` (display size / rendition size). Upscale
    * and downscale are whole basis points (0.01 %), so that every sum of them is exact whatever its order: a stream and
    * a batch run, split into different pieces of time, give the same figures to the last bit.
    */
  def play(ms: Long, bitrate: Option[Long], scale: Option[Double]): Unit = {
    bitrate.foreach { b => bitrateKbpsMs += b * ms; bitrateMs += ms }
    scale.foreach { s =>
      val (up, down) = Picture.basisPoints(s)
      upscaleBpMs += up * ms
      downscaleBpMs += down * ms
      scaledMs += ms
      maxUpscaleBp = math.max(maxUpscaleBp, up)
    }
  }

  def avgBitrateKbps: Option[Double] = if (bitrateMs > 0) Some(bitrateKbpsMs.toDouble / bitrateMs) else None
  def upscalePct: Option[Double] = if (scaledMs > 0) Some(upscaleBpMs.toDouble / scaledMs / 100) else None
  def downscalePct: Option[Double] = if (scaledMs > 0) Some(downscaleBpMs.toDouble / scaledMs / 100) else None
  def maxUpscale: Option[Double] = if (scaledMs > 0) Some(maxUpscaleBp / 100.0) else None
}

object Picture {

  /** A scale's upscale and downscale in basis points: (scale − 1) and (1 − scale) × 10,000, at least 0, rounded half
    * up.
    */
  def basisPoints(scale: Double): (Long, Long) =
    (
      math.floor(math.max(0.0, scale - 1) * 10000 + 0.5).toLong,
      math.floor(math.max(0.0, 1 - scale) * 10000 + 0.5).toLong
    )
}

/** An open view: running totals, never its events (see docs/views.md). Its times are in server time: each of its events
  * at `ts` + `offset`, the session's clock offset when the view opened.
  */
final case class ViewState(
    sessionId: String,
    ordinal: Int,
    videoId: String,
    var attrs: Seq[String],
    startMissing: Boolean,
    offset: Long,
    viewStart: Long,
    var lastTs: Long,
    var accountedTo: Long,
    var player: Int,
    var firstFrameTs: Option[Long],
    var startupTimeMs: Option[Long],
    var startupSpoiled: Boolean,
    var watch: Long = 0,
    var playing: Long = 0,
    var stall: Long = 0,
    var stallCount: Int = 0,
    var bitrateSwitches: Int = 0,
    var bitrate: Option[Long] = None,
    var videoSize: Option[(Long, Long)] = None,
    var playerSize: Option[(Long, Long)] = None,
    var picture: Picture = Picture(),
    var inAd: Boolean = false,
    var ads: Ads = Ads(),
    var firstAnyFrameTs: Option[Long] = None,
    var startupWithAdsMs: Option[Long] = None,
    var nextMinute: Long = 0,
    var minutes: Seq[MinuteAcc] = Seq.empty,
    var closedAt: Option[Long] = None,
    var endReason: String = null,
    var failed: Boolean = false,
    var cdn: Option[CdnFigures] = None,
    var lastRequestTs: Option[Long] = None
)

/** All a session keeps between micro-batches: events (and attributable CDN requests) waiting for the watermark (to be
  * applied in event-time order), the open view, views closed in a minute that is not over yet, the ordinal of its last
  * view, its device's clock offset (ms; none before its first event), and the last ticks the live view counted it in as
  * a concurrent and as a stalled viewer (`LiveReplay`).
  */
final case class SessionState(
    lastOrdinal: Int,
    lastActivity: Long,
    pending: Seq[SessionEvent],
    view: Option[ViewState],
    closing: Seq[ViewState],
    offset: Option[Long],
    concurrentTick: Long = Long.MinValue,
    stalledTick: Long = Long.MinValue
)
