package vsa.spark.cmcd

import scala.collection.mutable

/** A value of a structured-field dictionary (RFC 8941), as CMCD (CTA-5004) sends it. */
sealed trait SfValue {

  /** The text kept in the map of keys without a typed column: a string or a token bare, anything else as JSON (inner
    * lists as arrays, an item with parameters as `{"$item": ..., "$params": {...}}`).
    */
  def text: String = json

  /** The value as JSON: strings, tokens and byte sequences as JSON strings. */
  def json: String
}
final case class SfInteger(value: Long) extends SfValue { def json: String = value.toString }
final case class SfDecimal(value: Double) extends SfValue {
  def json: String = java.math.BigDecimal.valueOf(value).stripTrailingZeros.toPlainString
}
final case class SfString(value: String) extends SfValue {
  override def text: String = value
  def json: String = SfValue.quote(value)
}
final case class SfToken(value: String) extends SfValue {
  override def text: String = value
  def json: String = SfValue.quote(value)
}
final case class SfBoolean(value: Boolean) extends SfValue { def json: String = value.toString }
final case class SfBytes(base64: String) extends SfValue { def json: String = SfValue.quote(s":$base64:") }
final case class SfInnerList(items: Seq[SfValue]) extends SfValue {
  def json: String = items.map(_.json).mkString("[", ",", "]")
}

/** An item or inner list with parameters (`1;p=2`, `"1.mp4";r="0-100"`): CMCD v2 puts some data there. */
final case class SfWithParams(item: SfValue, params: Seq[(String, SfValue)]) extends SfValue {
  def json: String =
    params
      .map { case (k, v) => s"${SfValue.quote(k)}:${v.json}" }
      .mkString(s"""{"$$item":${item.json},"$$params":{""", ",", "}}")
}

object SfValue {

  /** A JSON string literal. */
  def quote(s: String): String = {
    val out = new java.lang.StringBuilder(s.length + 2).append('"')
    s.foreach {
      case '"'           => out.append("\\\"")
      case '\\'          => out.append("\\\\")
      case c if c < 0x20 => out.append(f"\\u${c.toInt}%04x")
      case c             => out.append(c)
    }
    out.append('"').toString
  }

  /** The value without its parameters (what a typed column holds). */
  def bare(v: SfValue): SfValue = v match {
    case SfWithParams(item, _) => item
    case other                 => other
  }
}

/** Thrown at the first character that breaks the grammar; the message says where and what. */
final class SfParseError(message: String) extends Exception(message, null, false, false)

/** CMCD from a query string (`...&CMCD=<url-encoded dictionary>`), from CMCD request headers (`CMCD-Object: ...` lines,
  * names in any case) or from a header value (the dictionary itself).
  *
  * A hand-written parser of the RFC 8941 dictionary: every CDN request of the pipeline comes through here, and the
  * grammar is small (keys, integers, decimals, quoted strings with `\"` and `\\` escapes, tokens, byte sequences,
  * booleans `?1`/`?0` and the bare key for true, inner lists, parameters).
  */
object CmcdParser {

  private val HeaderNames = Set("cmcd-object", "cmcd-request", "cmcd-status", "cmcd-session")
  // A header line's name: `Name:` at the start of the text (not a URL's `scheme://`).
  private val HeaderLine = "^\\s*[A-Za-z][A-Za-z0-9-]*:(?!//).*".r.pattern
  // Akamai DataStream 2 writes the query argument as `cmcd=//1.0@V/<dictionary>`.
  private val AkamaiPrefix = "^//[0-9.]+@V/".r

  /** The dictionary of `input`'s CMCD: the values of its CMCD headers joined, its `CMCD` query argument (any case), the
    * argument's value alone (still percent-encoded), or `input` itself read as a dictionary. `None`: no CMCD (null,
    * empty, or a query string or headers without it).
    */
  def parse(input: String): Option[mutable.LinkedHashMap[String, SfValue]] = {
    val dictionary =
      if (HeaderLine.matcher(input).lookingAt()) headerValues(input)
      else if (looksLikeQuery(input)) queryArgument(input).map(queryValue)
      else if (encodedOutsideStrings(input)) Some(queryValue(input)) // the argument's value alone
      else Some(input)
    dictionary.map(_.trim).filter(_.nonEmpty).map(new Reader(_).dictionary())
  }

  /** The values of the CMCD headers among `Name: value` lines (any line break; CloudFront's `cs-headers` decoded). */
  private def headerValues(headers: String): Option[String] = {
    val values = headers
      .split("[\\r\\n]+")
      .iterator
      .flatMap { line =>
        val colon = line.indexOf(':')
        if (colon > 0 && HeaderNames.contains(line.substring(0, colon).trim.toLowerCase(java.util.Locale.ROOT)))
          Some(line.substring(colon + 1).trim).filter(_.nonEmpty)
        else None
      }
      .toSeq
    if (values.isEmpty) None else Some(values.mkString(","))
  }

  /** The CMCD query argument's dictionary: percent-decoded (twice when the sender encoded it twice), without Akamai's
    * version prefix.
    */
  private def queryValue(argument: String): String = {
    val once = percentDecode(argument)
    val decoded = if (encodedOutsideStrings(once)) percentDecode(once) else once
    AkamaiPrefix.replaceFirstIn(decoded, "")
  }

  /** A `%` outside quoted strings: a dictionary has none there, so the text is still percent-encoded. */
  private def encodedOutsideStrings(s: String): Boolean = {
    var inString = false
    var i = 0
    while (i < s.length) {
      s.charAt(i) match {
        case '\\' if inString => i += 1
        case '"'              => inString = !inString
        case '%' if !inString => return true
        case _                => ()
      }
      i += 1
    }
    false
  }

  /** A query string (or a URL), not a header value: it starts with `CMCD=`, or has a `?` or `&` outside quoted strings
    * (a dictionary's keys are lower case, and CMCD has no `?` or `&` outside its strings but in `=?0`, `=?1`).
    */
  private def looksLikeQuery(s: String): Boolean = {
    val quote = s.indexOf('"')
    val before = if (quote < 0) s else s.substring(0, quote)
    before.regionMatches(true, 0, "CMCD=", 0, 5) || before.indexOf('&') >= 0 || before.indices.exists { i =>
      // `=?0` and `=?1` are booleans
      before.charAt(i) == '?' && !(i > 0 && before.charAt(i - 1) == '=' && i + 1 < before.length && "01"
        .indexOf(before.charAt(i + 1)) >= 0)
    }
  }

  /** The value of the query's `CMCD` argument; the name in any case (Akamai writes `cmcd`). */
  private def queryArgument(query: String): Option[String] = {
    val q = query.substring(query.indexOf('?') + 1) // a whole URL, a query with its '?', or a bare query
    val start =
      if (q.regionMatches(true, 0, "CMCD=", 0, 5)) 0
      else {
        val i = q.toLowerCase(java.util.Locale.ROOT).indexOf("&cmcd=")
        if (i < 0) -1 else i + 1
      }
    if (start < 0) None
    else {
      val end = q.indexOf('&', start)
      Some(q.substring(start + 5, if (end < 0) q.length else end))
    }
  }

  /** `s` percent-decoded, or `s` itself when it is not valid percent-encoding (a string value's own `%`). */
  def tryPercentDecode(s: String): String =
    try percentDecode(s)
    catch { case _: SfParseError => s }

  /** %XX decoding only: CMCD is encoded with encodeURIComponent, so a `+` is a plus sign, never a space. */
  def percentDecode(s: String): String =
    if (s.indexOf('%') < 0) s
    else {
      val out = new java.io.ByteArrayOutputStream(s.length)
      var i = 0
      while (i < s.length) {
        val c = s.charAt(i)
        if (c == '%') {
          if (i + 2 >= s.length) throw new SfParseError(s"bad percent-encoding at ${i + 1}")
          val hi = Character.digit(s.charAt(i + 1), 16)
          val lo = Character.digit(s.charAt(i + 2), 16)
          if (hi < 0 || lo < 0) throw new SfParseError(s"bad percent-encoding at ${i + 1}")
          out.write(hi * 16 + lo)
          i += 3
        } else {
          val bytes = String.valueOf(c).getBytes(java.nio.charset.StandardCharsets.UTF_8)
          out.write(bytes, 0, bytes.length)
          i += 1
        }
      }
      out.toString(java.nio.charset.StandardCharsets.UTF_8)
    }

  private final class Reader(s: String) {
    private var i = 0

    private def fail(what: String): Nothing = {
      val at = if (i < s.length) s"'${s.charAt(i)}' at ${i + 1}" else "end of input"
      throw new SfParseError(s"$what, found $at")
    }
    private def peek: Char = if (i < s.length) s.charAt(i) else '\u0000'
    private def skipSpaces(): Unit = while (i < s.length && s.charAt(i) == ' ') i += 1
    private def skipOws(): Unit = while (i < s.length && (s.charAt(i) == ' ' || s.charAt(i) == '\t')) i += 1

    def dictionary(): mutable.LinkedHashMap[String, SfValue] = {
      val out = mutable.LinkedHashMap.empty[String, SfValue]
      skipSpaces()
      while (i < s.length) {
        val k = key()
        val value =
          if (peek == '=') { i += 1; if (peek == '(') innerList() else bareItem() }
          else SfBoolean(true)
        val member = withParameters(value)
        out.remove(k) // RFC 8941: the last value wins, at the last position
        out.update(k, member)
        skipOws()
        if (i < s.length) {
          if (peek != ',') fail("expected ',' between members")
          i += 1
          skipOws()
          if (i >= s.length) fail("trailing ','")
        }
      }
      out
    }

    private def key(): String = {
      val start = i
      val c = peek
      if (!(c >= 'a' && c <= 'z') && c != '*') fail("expected a key (lower-case letter or '*')")
      i += 1
      while (
        i < s.length && {
          val d = s.charAt(i); (d >= 'a' && d <= 'z') || (d >= '0' && d <= '9') || "_-.*".indexOf(d) >= 0
        }
      )
        i += 1
      s.substring(start, i)
    }

    /** `value` with the parameters that follow it, if any (a bare parameter name is true). */
    private def withParameters(value: SfValue): SfValue = {
      val params = Seq.newBuilder[(String, SfValue)]
      var any = false
      while (peek == ';') {
        i += 1
        skipSpaces()
        val k = key()
        params += k -> (if (peek == '=') { i += 1; bareItem() }
                        else SfBoolean(true))
        any = true
      }
      if (any) SfWithParams(value, params.result()) else value
    }

    private def innerList(): SfInnerList = {
      i += 1 // '('
      val items = Seq.newBuilder[SfValue]
      skipSpaces()
      while (peek != ')') {
        if (i >= s.length) fail("unterminated inner list")
        items += withParameters(bareItem())
        if (i >= s.length) fail("unterminated inner list")
        if (peek != ' ' && peek != ')') fail("expected ' ' or ')' in inner list")
        skipSpaces()
      }
      i += 1
      SfInnerList(items.result())
    }

    private def bareItem(): SfValue = peek match {
      case c if c == '-' || (c >= '0' && c <= '9')           => number()
      case '"'                                               => string()
      case ':'                                               => bytes()
      case '?'                                               => boolean()
      case c if c == '*' || Character.isLetter(c) && c < 128 => token()
      case _                                                 => fail("expected a value")
    }

    private def number(): SfValue = {
      val start = i
      if (peek == '-') i += 1
      val intStart = i
      while (i < s.length && s.charAt(i) >= '0' && s.charAt(i) <= '9') i += 1
      val intDigits = i - intStart
      if (intDigits == 0) fail("expected a digit")
      if (peek == '.') {
        if (intDigits > 12) fail("decimal with more than 12 integer digits")
        i += 1
        val fracStart = i
        while (i < s.length && s.charAt(i) >= '0' && s.charAt(i) <= '9') i += 1
        val fracDigits = i - fracStart
        if (fracDigits == 0 || fracDigits > 3) fail("decimal needs 1 to 3 fractional digits")
        SfDecimal(s.substring(start, i).toDouble)
      } else {
        if (intDigits > 15) fail("integer with more than 15 digits")
        SfInteger(s.substring(start, i).toLong)
      }
    }

    private def string(): SfString = {
      i += 1 // '"'
      val out = new java.lang.StringBuilder
      while (true) {
        if (i >= s.length) fail("unterminated string")
        val c = s.charAt(i)
        i += 1
        if (c == '"') return SfString(out.toString)
        if (c == '\\') {
          if (i >= s.length || (s.charAt(i) != '"' && s.charAt(i) != '\\')) {
            i -= 1; fail("a backslash in a string escapes only '\"' or '\\'")
          }
          out.append(s.charAt(i))
          i += 1
        } else if (c < 0x20 || c > 0x7e) { i -= 1; fail("a string holds printable ASCII only") }
        else out.append(c)
      }
      fail("unreachable")
    }

    private def token(): SfToken = {
      val start = i
      i += 1
      while (
        i < s.length && {
          val c = s.charAt(i); c < 128 && (Character.isLetterOrDigit(c) || "!#$%&'*+-.^_`|~:/".indexOf(c) >= 0)
        }
      )
        i += 1
      val token = SfToken(s.substring(start, i))
      // A stray closing quote after a token at the end of a member (Akamai's own sample ends `st=v%22`): skipped.
      if (peek == '"' && (i + 1 == s.length || s.charAt(i + 1) == ',')) i += 1
      token
    }

    private def bytes(): SfBytes = {
      i += 1
      val start = i
      while (i < s.length && s.charAt(i) != ':') {
        val c = s.charAt(i)
        if (!(c < 128 && (Character.isLetterOrDigit(c) || c == '+' || c == '/' || c == '='))) fail("bad byte sequence")
        i += 1
      }
      if (i >= s.length) fail("unterminated byte sequence")
      i += 1
      SfBytes(s.substring(start, i - 1))
    }

    private def boolean(): SfBoolean = {
      i += 1
      peek match {
        case '1' => i += 1; SfBoolean(true)
        case '0' => i += 1; SfBoolean(false)
        case _   => fail("expected ?1 or ?0")
      }
    }
  }
}
