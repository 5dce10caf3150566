package vsa.spark.sessions

import org.apache.spark.api.java.Optional
import org.apache.spark.sql.streaming.{GroupStateTimeout, TestGroupState}

/** The sessionizer's state function driven directly, one session key and one micro-batch at a time, without a
  * SparkSession: each call gets Spark's own `GroupState` (`TestGroupState`, Spark's public API for testing state
  * functions) with the batch's watermark, and the state goes from one call to the next as the bytes the state store
  * keeps ([[StateBytes]]).
  */
object SessionRuns {

  /** One session key in a stream: its state between micro-batches and the timeout its last call set. Watermarks are ms
    * after `origin`.
    */
  class Streamed(settings: Sessionizer.Settings, origin: Long) {
    private var stored: Option[Array[Byte]] = None
    private var timeoutAt: Option[Long] = None

    def remembered: Boolean = stored.isDefined

    /** The `attrs` of the events waiting in the state, as the state keeps them. */
    def waitingAttrs: Seq[Seq[String]] = stored.toSeq.flatMap(StateBytes.decode(_).pending.map(_.attrs))

    /** A micro-batch whose watermark is `origin` + `watermark` (0: the first batch, no watermark yet) with `rows` of
      * this key; the function runs if there are rows or the watermark has passed the timeout, as in Spark.
      */
    def batch(watermark: Long, rows: SessionEvent*): Seq[SessionOutput] = {
      val w = if (watermark == 0) 0L else origin + watermark
      val timedOut = rows.isEmpty && timeoutAt.exists(_ < w)
      if (rows.isEmpty && !timedOut) Seq.empty
      else {
        val state = TestGroupState.create[Array[Byte]](
          Optional.ofNullable(stored.orNull),
          GroupStateTimeout.EventTimeTimeout(),
          0L,
          Optional.of(w),
          timedOut
        )
        val out = new Sessionizer.SessionRun(settings, streaming = true, state).run(rows.iterator).toVector
        stored = state.getOption
        timeoutAt = if (state.exists) Some(state.getTimeoutTimestampMs.get) else None
        out
      }
    }
  }

  /** A batch run (`vsa batch`): every row at once, no watermark, every view closes. */
  def batch(settings: Sessionizer.Settings, rows: Seq[SessionEvent]): Seq[SessionOutput] = {
    val state = TestGroupState.create[Array[Byte]](
      Optional.empty[Array[Byte]](),
      GroupStateTimeout.EventTimeTimeout(),
      0L,
      Optional.empty[Long](),
      false
    )
    new Sessionizer.SessionRun(settings, streaming = false, state).run(rows.iterator).toVector
  }
}
