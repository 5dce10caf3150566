package vsa.spark.useragent

import java.util.concurrent.ConcurrentHashMap

/** A parsed user agent: the fields of `vsa_parse_ua`, in its struct's order. */
final case class ParsedUserAgent(fields: Array[String])

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

  private val cache = new ConcurrentHashMap[String, ParsedUserAgent]()

  def parse(ua: String): ParsedUserAgent = {
    val cached = cache.get(ua)
    if (cached != null) return cached
    val parsed = parseUncached(ua)
    // Dropping everything at capacity keeps the bound without per-entry bookkeeping; the hot
    // agents come back within a few rows.
    if (cache.size() >= CacheCapacity) cache.clear()
    cache.put(ua, parsed)
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
