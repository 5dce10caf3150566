package vsa.spark.sessions

import org.apache.datasketches.kll.KllLongsSketch
import org.apache.datasketches.memory.Memory

/** The columns of one `cdn_requests` row that the sessionizer attributes to a view (docs/cdn.md, "Attribution").
  * `starved` is CMCD `bs`.
  */
final case class CdnRequest(
    bytes: Option[Long],
    status: Option[Int],
    cache_status: String,
    ttfb_ms: Option[Double],
    download_ms: Option[Double],
    starved: Boolean,
    pop: String,
    cdn: String
)

/** Running figures of the CDN requests attributed to a view, or to one minute of it: counts, sums, two KLL sketches
  * (TTFB ms and throughput kbps, serialized as Spark's `kll_sketch_agg_bigint` serializes them) and bytes per POP;
  * never the requests themselves, so a view's state stays the same size however many requests it has.
  */
final case class CdnFigures(
    var requests: Long = 0,
    var bytes: Long = 0,
    var errors: Long = 0,
    var cacheHits: Long = 0,
    var cacheMisses: Long = 0,
    var starved: Long = 0,
    var ttfb: Array[Byte] = null,
    var throughput: Array[Byte] = null,
    var popBytes: Map[String, Long] = Map.empty,
    var popCdn: Map[String, String] = Map.empty,
    var lastCdn: String = null
) {
  // The sketches updated in this call of the state function (deserializing per request would cost a copy each): kept
  // out of the constructor, so the state encoder stores only their bytes, which `flush` writes.
  private var ttfbLive: KllLongsSketch = _
  private var throughputLive: KllLongsSketch = _

  def add(r: CdnRequest): Unit = {
    requests += 1
    bytes += r.bytes.getOrElse(0L)
    // Status 0 is a request the CDN never answered: an error, as in cdn_qos_minute.
    if (r.status.exists(s => s >= 400 || s == 0)) errors += 1
    if (r.cache_status == "HIT") cacheHits += 1
    else if (r.cache_status == "MISS") cacheMisses += 1
    if (r.starved) starved += 1
    r.ttfb_ms.foreach { t =>
      ttfbLive = CdnFigures.live(ttfbLive, ttfb)
      ttfbLive.update(math.round(t))
    }
    for (b <- r.bytes; d <- r.download_ms if d > 0) {
      throughputLive = CdnFigures.live(throughputLive, throughput)
      // bits per millisecond is kilobits per second
      throughputLive.update(math.round(b * 8 / d))
    }
    if (r.pop != null) {
      popBytes = popBytes.updated(r.pop, popBytes.getOrElse(r.pop, 0L) + r.bytes.getOrElse(0L))
      if (r.cdn != null) popCdn = popCdn.updated(r.pop, r.cdn)
    }
    if (r.cdn != null) lastCdn = r.cdn
  }

  /** Serializes the sketches updated since the figures were read, before the state is saved. */
  def flush(): Unit = {
    if (ttfbLive != null) ttfb = ttfbLive.toByteArray
    if (throughputLive != null) throughput = throughputLive.toByteArray
  }

  def ttfbSketch: Array[Byte] = if (ttfbLive != null) ttfbLive.toByteArray else ttfb
  def throughputSketch: Array[Byte] = if (throughputLive != null) throughputLive.toByteArray else throughput

  def ttfbQuantile(rank: Double): Option[Double] = CdnFigures.quantile(ttfbLive, ttfb, rank)
  def throughputQuantile(rank: Double): Option[Double] = CdnFigures.quantile(throughputLive, throughput, rank)

  def cacheHitRatio: Option[Double] =
    if (cacheHits + cacheMisses > 0) Some(cacheHits.toDouble / (cacheHits + cacheMisses)) else None

  def pops: Seq[String] = popBytes.keys.toSeq.sorted

  /** The POP that served the most bytes; a tie goes to the smallest name. */
  def primaryPop: Option[String] =
    if (popBytes.isEmpty) None else Some(popBytes.minBy { case (pop, bytes) => (-bytes, pop) }._1)

  /** The CDN of the primary POP's requests (of the requests', when none has a POP). */
  def primaryCdn: Option[String] = primaryPop.flatMap(popCdn.get).orElse(Option(lastCdn))
}

object CdnFigures {

  /** The KLL `k` of the sketches: `KLL_K` of vsa.kpis.minute, so they merge with every other sketch of vsa. */
  val KllK = 4096

  private def live(current: KllLongsSketch, stored: Array[Byte]): KllLongsSketch =
    if (current != null) current
    else if (stored != null) KllLongsSketch.heapify(Memory.wrap(stored))
    else KllLongsSketch.newHeapInstance(KllK)

  // The quantile as Spark's kll_sketch_get_quantile_bigint reads it (inclusive search).
  private def quantile(current: KllLongsSketch, stored: Array[Byte], rank: Double): Option[Double] = {
    val sketch =
      if (current != null) current else if (stored != null) KllLongsSketch.wrap(Memory.wrap(stored)) else null
    if (sketch == null || sketch.isEmpty) None else Some(sketch.getQuantile(rank).toDouble)
  }
}
