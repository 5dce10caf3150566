package vsa.spark

import org.scalatest.funsuite.AnyFunSuite
import vsa.spark.useragent.{ParsedUserAgent, UserAgentParser}

class UserAgentParserSpec extends AnyFunSuite {

  private def parse(ua: String): Map[String, String] =
    ParsedUserAgent.FieldNames.zip(UserAgentParser.parseUncached(ua).fields).toMap

  test("a desktop Chrome on Windows") {
    val ua = parse(
      "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.6099.130 Safari/537.36"
    )
    assert(ua("browser_family") == "Chrome")
    assert(ua("browser_major") == "120")
    assert(ua("browser_patch") == "6099")
    assert(ua("os_family") == "Windows")
    assert(ua("os_major") == "10")
    assert(ua("device_family") == "Other")
    assert(ua("device_type") == "desktop")
  }

  test("an iPhone gets brand and model, and is mobile") {
    val ua = parse(
      "Mozilla/5.0 (iPhone; CPU iPhone OS 17_1_2 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.1 Mobile/15E148 Safari/604.1"
    )
    assert(ua("browser_family") == "Mobile Safari")
    assert(ua("os_family") == "iOS")
    assert(ua("os_major") == "17")
    assert(ua("os_minor") == "1")
    assert(ua("os_patch") == "2")
    assert(ua("device_family") == "iPhone")
    assert(ua("device_brand") == "Apple")
    assert(ua("device_model") == "iPhone")
    assert(ua("device_type") == "mobile")
  }

  test("an Android tablet without 'Mobile Safari' is a tablet") {
    val ua = parse(
      "Mozilla/5.0 (Linux; Android 13; SM-X700 Build/TP1A.220624.014) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/119.0.0.0 Safari/537.36"
    )
    assert(ua("os_family") == "Android")
    assert(ua("device_brand") == "Samsung")
    assert(ua("device_model") == "SM-X700")
    assert(ua("device_type") == "tablet")
  }

  test("crawlers, TVs and consoles") {
    assert(parse("Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)")("device_type") == "bot")
    assert(
      parse(
        "Mozilla/5.0 (SMART-TV; LINUX; Tizen 6.0) AppleWebKit/537.36 (KHTML, like Gecko) 76.0.3809.146/6.0 TV Safari/537.36"
      )("device_type") == "tv"
    )
    assert(
      parse("Mozilla/5.0 (PlayStation 4 11.00) AppleWebKit/605.1.15 (KHTML, like Gecko)")("device_type") == "console"
    )
  }

  test("empty and garbage strings give families Other, never an exception") {
    for (garbage <- Seq("", " ", "-", "\u0000\u0001\u0002", "☃☃☃", "((((((((", "$1 $2 \\ [")) {
      val ua = parse(garbage)
      assert(ua("browser_family") == "Other", garbage)
      assert(ua("os_family") == "Other", garbage)
      assert(ua("device_family") == "Other", garbage)
      assert(ua("device_type") == "other", garbage)
    }
  }

  test("a very long agent is parsed from its first kilobyte, quickly") {
    val chrome =
      "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/121.0.0.0 Safari/537.36 "
    val ua = parse(chrome + ("(" * 100000))
    assert(ua("browser_family") == "Chrome")
    assert(ua("device_type") == "desktop")
  }

  test("the cache returns the same answer as a fresh parse") {
    val ua =
      "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_2) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.2 Safari/605.1.15"
    val bytes = org.apache.spark.unsafe.types.UTF8String.fromString(ua)
    assert(UserAgentParser.parse(bytes).fields.toSeq == UserAgentParser.parseUncached(ua).fields.toSeq)
    assert(UserAgentParser.parse(bytes) eq UserAgentParser.parse(bytes.clone()))
  }

  test("a long agent is cached by its matched first kilobyte, never by its whole text") {
    import org.apache.spark.unsafe.types.UTF8String
    val chrome =
      "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/121.0.0.0 Safari/537.36 "
    val long = UTF8String.fromString(chrome + "x" * 60000)
    val parsed = UserAgentParser.parse(long)
    assert(parsed.fields.toSeq == UserAgentParser.parseUncached(long.toString).fields.toSeq)
    assert(UserAgentParser.cache.get(long) == null) // no 60 KB key
    assert(UserAgentParser.cache.get(UserAgentParser.cut(long)) eq parsed)
    assert(UserAgentParser.cut(long).numBytes == UserAgentParser.MaxLength)
    // Another tail after the same first kilobyte is the same answer, from the cache.
    assert(UserAgentParser.parse(UTF8String.fromString(chrome + "y" * 60000)).fields.toSeq == parsed.fields.toSeq)
    // Characters of several bytes: cut by characters, as parseUncached cuts, with the same answer; not cached when the
    // cut is longer than a kilobyte.
    val wide = UTF8String.fromString(chrome + "é" * 3000)
    assert(UserAgentParser.parse(wide).fields.toSeq == UserAgentParser.parseUncached(wide.toString).fields.toSeq)
    assert(UserAgentParser.cache.get(UserAgentParser.cut(wide)) == null)
  }
}
