package vsa.spark.sessions

/** A view's experience scores, 0–100 (docs/kpis.md, "Scores"); none where a score does not apply. The four sub-scores
  * are Mux's published formulas, so a team moving from Mux sees the same numbers; the overall score is vsa's own.
  */
final case class Scores(
    playbackSuccess: Option[Double],
    startup: Option[Double],
    smoothness: Option[Double],
    videoQuality: Option[Double],
    overall: Option[Double]
)

object Scores {

  /** An exit before video start sooner than this after the view began gets no playback success score: the viewer left
    * before the player had a chance.
    */
  val MinExitBeforeStartMs = 1000L

  /** The scores of a closed view. */
  def of(view: ViewRow): Scores = {
    val success = playbackSuccess(view)
    val startup = if (view.started) view.startup_time_ms.map(startupScore) else None
    val smooth = if (view.started) Some(smoothness(view.stall_count, view.stall_time_ms, view.watch_time_ms)) else None
    // None when no rendition was compared with a display size while the view played.
    val quality = for (max <- view.max_upscale_pct; mean <- view.upscale_pct) yield videoQuality(max / 100, mean / 100)
    Scores(success, startup, smooth, quality, overall(success, Seq(startup, smooth, quality).flatten))
  }

  /** 0 on a fatal failure (a video start failure included), 50 on an exit before video start, else 100. */
  def playbackSuccess(view: ViewRow): Option[Double] =
    if (view.playback_failed) Some(0.0)
    else if (view.exit_before_video_start)
      if (view.view_end - view.view_start < MinExitBeforeStartMs) None else Some(50.0)
    else Some(100.0)

  /** 8 / (8 + startup seconds) × 100. */
  def startupScore(startupMs: Long): Double = 8.0 / (8.0 + startupMs / 1000.0) * 100.0

  /** The mean of a stall count's score, 100 / √(1 + (count / 2)²), and the rebuffer fraction's, 100·e^(−10·fraction).
    */
  def smoothness(stallCount: Int, stallMs: Long, watchMs: Long): Double = {
    val fraction = if (watchMs > 0) stallMs.toDouble / watchMs else 0.0
    val byCount = 100.0 / math.sqrt(1.0 + math.pow(stallCount / 2.0, 2))
    val byTime = 100.0 * math.exp(-10.0 * fraction)
    (byCount + byTime) / 2
  }

  /** 100·e^(−0.33·(0.15·max upscale + 0.85·time-weighted mean upscale)), upscales as fractions. */
  def videoQuality(maxUpscale: Double, meanUpscale: Double): Double =
    100.0 * math.exp(-0.33 * (0.15 * maxUpscale + 0.85 * meanUpscale))

  /** vsa's overall score: playback success × the mean of the experience scores that apply / 100. A view that failed
    * scores 0 however well it began; one that never started scores its playback success alone.
    */
  def overall(success: Option[Double], experience: Seq[Double]): Option[Double] =
    success.map(s => if (experience.isEmpty) s else s * experience.sum / experience.size / 100.0)
}
