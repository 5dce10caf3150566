package vsa.spark.useragent

import java.util.concurrent.ConcurrentHashMap

import org.apache.spark.sql.catalyst.InternalRow
import org.apache.spark.sql.catalyst.expressions.GenericInternalRow
import org.apache.spark.unsafe.types.UTF8String

/** A parsed user agent: the fields of `vsa_parse_ua`, in its struct's order. */
final case class ParsedUserAgent(fields: Array[String]) {

  /** The fields as the struct value of `vsa_parse_ua`, encoded once per cached agent; never mutated. */
  lazy val row: InternalRow = new GenericInternalRow(fields.map(UTF8String.fromString): Array[Any])
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

  // Keyed by the UTF-8 bytes Spark holds, so a hit neither decodes nor re-encodes the agent.
  private val cache = new ConcurrentHashMap[UTF8String, ParsedUserAgent]()

  def parse(ua: UTF8String): ParsedUserAgent = {
    val cached = cache.get(ua)
    if (cached != null) return cached
    val parsed = parseUncached(ua.toString)
    // Dropping everything at capacity keeps the bound without per-entry bookkeeping; the hot
    // agents come back within a few rows.
    if (cache.size() >= CacheCapacity) cache.clear()
    cache.put(ua.clone(), parsed) // the input may point into a buffer Spark reuses
    parsed
  }

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
