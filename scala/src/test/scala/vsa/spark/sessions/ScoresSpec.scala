package vsa.spark.sessions

import org.scalatest.funsuite.AnyFunSuite

/** The experience scores of docs/kpis.md on hand-worked views: each expected figure is the formula worked out by hand.
  */
class ScoresSpec extends AnyFunSuite {

  /** A view that started after 2 s and played 60 s, neither stalled nor failed. */
  private val played = ViewRow(
    view_id = "s#1",
    session_id = "s",
    video_id = "v",
    started = true,
    startup_time_ms = Some(2000L),
    watch_time_ms = 60000L,
    playing_time_ms = 60000L,
    stall_count = 0,
    stall_time_ms = 0L,
    rebuffer_ratio = Some(0.0),
    playback_failed = false,
    video_start_failure = false,
    exit_before_video_start = false,
    avg_bitrate_kbps = None,
    bitrate_switches = 0,
    view_start = 0L,
    view_end = 62000L,
    closed_at = 62000L,
    end_reason = "end",
    start_missing = false,
    cdn_requests = 0L,
    cdn_bytes = 0L,
    cdn_errors = 0L,
    cdn_cache_hit_ratio = None,
    cdn_ttfb_p50_ms = None,
    cdn_ttfb_p95_ms = None,
    cdn_throughput_p50_kbps = None,
    cdn_starvation_requests = 0L,
    cdn_pops = Seq.empty,
    cdn_primary_pop = null,
    attrs = Seq.empty
  )

  /** A view that never showed a frame, `lastedMs` long. */
  private def neverStarted(lastedMs: Long, failed: Boolean) = played.copy(
    started = false,
    startup_time_ms = None,
    watch_time_ms = 0L,
    playing_time_ms = 0L,
    playback_failed = failed,
    video_start_failure = failed,
    exit_before_video_start = !failed,
    view_end = lastedMs
  )

  private def near(actual: Option[Double], expected: Double) =
    assert(actual.exists(a => math.abs(a - expected) < 1e-9), s"$actual is not $expected")

  test("a clean view: full success and smoothness, startup 8 / (8 + 2) × 100, overall their mean") {
    val s = played.scored
    near(s.score_playback_success, 100)
    near(s.score_startup, 80)
    near(s.score_smoothness, 100)
    assert(s.score_video_quality.isEmpty) // no rendition was compared with a display size
    near(s.score_overall, 90)
  }

  test("stalls: the mean of 100 / √(1 + (2 / 2)²) and 100·e^(−10 × 6 / 60)") {
    val s = played.copy(stall_count = 2, stall_time_ms = 6000L).scored
    val smooth = (100 / math.sqrt(2) + 100 * math.exp(-1)) / 2 // 70.7107 and 36.7879: 53.7493
    near(s.score_smoothness, smooth)
    near(s.score_overall, (80 + smooth) / 2)
  }

  test("a fatal failure after the start scores 0 overall, however well it began") {
    val s = played.copy(playback_failed = true).scored
    near(s.score_playback_success, 0)
    near(s.score_startup, 80)
    near(s.score_overall, 0)
  }

  test("a video start failure: 0, and no startup or smoothness score") {
    val s = neverStarted(5000L, failed = true).scored
    near(s.score_playback_success, 0)
    assert(s.score_startup.isEmpty && s.score_smoothness.isEmpty)
    near(s.score_overall, 0)
  }

  test("an exit before video start: 50, and no score at all under 1 s") {
    val left = neverStarted(3000L, failed = false).scored
    near(left.score_playback_success, 50)
    assert(left.score_startup.isEmpty && left.score_smoothness.isEmpty)
    near(left.score_overall, 50)
    val gone = neverStarted(999L, failed = false).scored
    assert(Seq(gone.score_playback_success, gone.score_overall).forall(_.isEmpty))
    near(neverStarted(1000L, failed = false).scored.score_playback_success, 50)
  }

  test("a start whose startup time is unknown (the view's start was missed) has smoothness but no startup score") {
    val s = played.copy(startup_time_ms = None, start_missing = true, stall_count = 1, stall_time_ms = 0L).scored
    assert(s.score_startup.isEmpty)
    val smooth = (100 / math.sqrt(1.25) + 100) / 2
    near(s.score_smoothness, smooth)
    near(s.score_overall, smooth)
  }

  test("video quality: 100·e^(−0.33 × (0.15 × 0.5 + 0.85 × 0.2)), joining the overall mean") {
    val quality = 100 * math.exp(-0.33 * (0.15 * 0.5 + 0.85 * 0.2)) // 92.2332
    near(Some(Scores.videoQuality(0.5, 0.2)), quality)
    val s = played.copy(max_upscale_pct = Some(50.0), upscale_pct = Some(20.0)).scored
    near(s.score_video_quality, quality)
    near(s.score_overall, (80 + 100 + quality) / 3)
    near(Some(Scores.videoQuality(0, 0)), 100)
  }
}
