package vsa.spark.useragent

import java.util.regex.{Matcher, Pattern}

import com.fasterxml.jackson.databind.{JsonNode, ObjectMapper}

import scala.jdk.CollectionConverters._

/** The uap-core rules (user agent, OS, device), matched the way the uap-core specification and the Python `ua-parser`
  * package match them. The rules file is exported from the PyPI package `ua-parser-builtins` by
  * `tools/export_uap_rules.py`, so the jar and the Python oracle agree.
  */
final case class AgentRule(pattern: Pattern, family: String, versions: Array[String])
final case class OsRule(pattern: Pattern, templates: Array[String])
final case class DeviceRule(pattern: Pattern, family: String, brand: String, model: String)

final class UapRules(val source: String, agents: Array[AgentRule], systems: Array[OsRule], devices: Array[DeviceRule]) {

  /** family, major, minor, patch, patch_minor; family "Other" when no rule matches. */
  def agent(ua: String): Array[String] = {
    var i = 0
    while (i < agents.length) {
      val rule = agents(i)
      val m = rule.pattern.matcher(ua)
      if (m.find()) {
        val family =
          if (rule.family.contains("$1")) rule.family.replace("$1", Option(m.group(1)).getOrElse(""))
          else rule.family
        val versions = Array.tabulate(4)(k => Option(rule.versions(k)).getOrElse(UapRules.group(m, k + 2)))
        return family +: versions
      }
      i += 1
    }
    Array("Other", null, null, null, null)
  }

  /** family, major, minor, patch, patch_minor; family "Other" when no rule matches. */
  def os(ua: String): Array[String] = {
    var i = 0
    while (i < systems.length) {
      val m = systems(i).pattern.matcher(ua)
      if (m.find()) return systems(i).templates.map(UapRules.replace(_, m))
      i += 1
    }
    Array("Other", null, null, null, null)
  }

  /** family, brand, model; family "Other" when no rule matches. */
  def device(ua: String): Array[String] = {
    var i = 0
    while (i < devices.length) {
      val rule = devices(i)
      val m = rule.pattern.matcher(ua)
      if (m.find()) return Array(rule.family, rule.brand, rule.model).map(UapRules.replace(_, m))
      i += 1
    }
    Array("Other", null, null)
  }
}

object UapRules {
  private val Placeholder = Pattern.compile("\\$(\\d)")

  /** The resource bundled in the jar. */
  lazy val bundled: UapRules = {
    val in = getClass.getResourceAsStream("/vsa/uap-rules.json")
    require(in != null, "uap-rules.json is missing from the vsa-spark jar")
    try load(new ObjectMapper().readTree(in))
    finally in.close()
  }

  def load(root: JsonNode): UapRules = {
    def text(node: JsonNode, field: String): String = {
      val v = node.get(field)
      if (v == null || v.isNull) null else v.asText()
    }
    def rules(kind: String) = root.get(kind).elements().asScala.toArray
    val agents = rules("user_agent").map { r =>
      AgentRule(
        Pattern.compile(text(r, "regex")),
        text(r, "family"),
        Array("major", "minor", "patch", "patch_minor").map(text(r, _))
      )
    }
    val systems = rules("os").map { r =>
      OsRule(
        Pattern.compile(text(r, "regex")),
        Array("family", "major", "minor", "patch", "patch_minor").map(text(r, _))
      )
    }
    val devices = rules("device").map { r =>
      val flags = if (r.get("ignore_case").asBoolean(false)) Pattern.CASE_INSENSITIVE else 0
      DeviceRule(Pattern.compile(text(r, "regex"), flags), text(r, "family"), text(r, "brand"), text(r, "model"))
    }
    new UapRules(text(root, "source"), agents, systems, devices)
  }

  /** A match group, with an empty or absent group as null. */
  private def group(m: Matcher, index: Int): String =
    if (index > m.groupCount()) null
    else {
      val g = m.group(index)
      if (g == null || g.isEmpty) null else g
    }

  /** uap-core's replacement: `$N` takes group N (or nothing), the result is stripped, empty is null. */
  private def replace(template: String, m: Matcher): String = {
    if (template == null || template.isEmpty) return null
    val out = new java.lang.StringBuilder
    val p = Placeholder.matcher(template)
    var last = 0
    while (p.find()) {
      out.append(template, last, p.start())
      val g = group(m, p.group(1).toInt)
      if (g != null) out.append(g)
      last = p.end()
    }
    out.append(template, last, template.length)
    val result = out.toString.strip()
    if (result.isEmpty) null else result
  }
}
