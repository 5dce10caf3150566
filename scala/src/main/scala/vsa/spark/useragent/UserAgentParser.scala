package vsa.spark.useragent

import org.apache.spark.sql.catalyst.InternalRow
import org.apache.spark.sql.catalyst.expressions.codegen.UnsafeRowWriter
import org.apache.spark.unsafe.types.UTF8String
import vsa.spark.util.Utf8Cache

/** A parsed user agent: the fields of `vsa_parse_ua`, in its struct's order. */
final case class ParsedUserAgent(fields: Array[String]) {

  /** The fields as the struct value of `vsa_parse_ua`, encoded once per cached agent; never mutated. An `UnsafeRow`:
    * its fields sit in one buffer, so a row that keeps the whole struct copies it in one go, and one that selects
    * fields reads a few cache lines, not a dozen objects.
    */
  val row: InternalRow = {
    val writer = new UnsafeRowWriter(fields.length)
    writer.resetRowWriter()
    fields.indices.foreach { i =>
      if (fields(i) == null) writer.setNullAt(i) else writer.write(i, UTF8String.fromString(fields(i)))
    }
    writer.getRow.copy()
  }
}

object ParsedUserAgent {
  val FieldNames: Seq[String] = Seq(
    "browser_family",
    "browser_major",
    "browser_minor",
    "browser_patch",
    "os_family",
    "os_major",
    "os_minor",
    "os_patch",
    "os_patch_minor",
    "device_family",
    "device_brand",
    "device_model",
    "device_type"
  )
}

/** Parses user agents with the bundled uap-core rules, behind a bounded per-JVM cache: real traffic repeats a few
  * thousand agents, so most rows skip the ~1,300 regular expressions.
  */
object UserAgentParser {
  val CacheCapacity = 20000
  // Agents longer than this are cut before matching: uap-core's rules never need more, and it
  // bounds the cost of a hostile input.
  val MaxLength = 1024

  // Keyed by the UTF-8 bytes Spark holds, so a hit neither decodes nor re-encodes the agent; keyed by the agent as
  // matched (cut to MaxLength), which alone decides the answer, so a 60 KB agent is a key of at most 1 KB. A cut agent
  // of more than MaxLength bytes (many multi-byte characters) is parsed but not cached: keys stay within
  // CacheCapacity × 1 KB (20 MB), where real agents (~100-300 bytes) take a few MB.
  private[spark] val cache = new Utf8Cache[ParsedUserAgent](CacheCapacity, maxKeyBytes = MaxLength)

  def parse(ua: UTF8String): ParsedUserAgent = {
    val matched = cut(ua)
    val cached = cache.get(matched)
    if (cached != null) return cached
    // The same answer as parseUncached(ua.toString): the cut keeps at least MaxLength UTF-16 units of a longer agent.
    val parsed = parseUncached(matched.toString)
    cache.put(matched, parsed)
    parsed
  }

  /** The agent's first MaxLength characters (as many bytes at most for ASCII: no scan of a short agent). */
  private[spark] def cut(ua: UTF8String): UTF8String = if (ua.numBytes <= MaxLength) ua else ua.substring(0, MaxLength)

  def parseUncached(raw: String): ParsedUserAgent = {
    val ua = if (raw.length > MaxLength) raw.substring(0, MaxLength) else raw
    val rules = UapRules.bundled
    val agent = rules.agent(ua)
    val os = rules.os(ua)
    val device = rules.device(ua)
    val deviceType = DeviceType.classify(ua, agent(0), os(0), os(1), device(0))
    ParsedUserAgent(agent.take(4) ++ os ++ device :+ deviceType)
  }
}
