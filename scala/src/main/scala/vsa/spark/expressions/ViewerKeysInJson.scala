package vsa.spark.expressions

import java.nio.charset.StandardCharsets
import java.util.regex.{Matcher, Pattern}

import org.apache.spark.sql.catalyst.expressions.codegen.CodegenFallback
import org.apache.spark.sql.catalyst.expressions.{Expression, ImplicitCastInputTypes, UnaryExpression}
import org.apache.spark.sql.types.{DataType, StringType}
import org.apache.spark.unsafe.types.UTF8String

/** `vsa_viewer_keys_in_json(text[, secret])`: JSON text (a record as received, well-formed or not) with the value of
  * every `viewer_id` key replaced by its `vsa_viewer_key`, so a dead letter's raw record holds the pseudonym its tables
  * would hold, never the id. A key is compared once decoded (`"viewer\u005fid"` is `viewer_id`); a string value is
  * keyed decoded, as `from_json` reads it, and any other scalar by its text. The scan never backtracks, so a hostile
  * record costs time linear in its length.
  */
case class ViewerKeysInJson(text: Expression, secret: ViewerSecret)
    extends UnaryExpression
    with ImplicitCastInputTypes
    with CodegenFallback {

  override def child: Expression = text
  override def inputTypes = Seq(StringType)
  override def dataType: DataType = StringType

  override protected def nullSafeEval(value: Any): Any =
    UTF8String.fromString(ViewerKeysInJson.replace(value.toString, secret))

  override protected def withNewChildInternal(newChild: Expression): ViewerKeysInJson = copy(text = newChild)

  override def prettyName: String = "vsa_viewer_keys_in_json"
}

object ViewerKeysInJson {
  val Field = "viewer_id"

  private val JsonString = "\"((?:[^\"\\\\]++|\\\\.)*+)\""
  // A string followed by a colon is a key; its value: a string, or a bare scalar up to the next delimiter.
  private val KeyValue =
    Pattern.compile(JsonString + "\\s*+:\\s*+(?:" + JsonString + "|([^\\s,}\\]\"{\\[]++))", Pattern.DOTALL)

  def replace(in: String, secret: ViewerSecret): String = {
    val m = KeyValue.matcher(in)
    val out = new java.lang.StringBuilder(in.length)
    var last = 0
    while (m.find()) {
      if (decode(m.group(1)) == Field) {
        val (start, id) =
          if (m.group(2) != null) (m.start(2) - 1, decode(m.group(2))) else (m.start(3), m.group(3))
        out.append(in, last, start).append('"').append(secret.key(id.getBytes(StandardCharsets.UTF_8))).append('"')
        last = m.end()
      } else if (m.group(2) != null) {
        // The value may itself be followed by a colon (malformed text): look for keys from the value on.
        m.region(m.start(2) - 1, in.length)
      }
    }
    out.append(in, last, in.length).toString
  }

  /** A JSON string's content decoded; an escape that is not JSON's is kept as written. */
  private def decode(s: String): String =
    if (s.indexOf('\\') < 0) s
    else {
      val out = new java.lang.StringBuilder(s.length)
      var i = 0
      while (i < s.length) {
        val c = s.charAt(i)
        if (c != '\\' || i + 1 == s.length) { out.append(c); i += 1 }
        else
          s.charAt(i + 1) match {
            case '"'  => out.append('"'); i += 2
            case '\\' => out.append('\\'); i += 2
            case '/'  => out.append('/'); i += 2
            case 'b'  => out.append('\b'); i += 2
            case 'f'  => out.append('\f'); i += 2
            case 'n'  => out.append('\n'); i += 2
            case 'r'  => out.append('\r'); i += 2
            case 't'  => out.append('\t'); i += 2
            case 'u' if i + 6 <= s.length && s.substring(i + 2, i + 6).forall(Character.digit(_, 16) >= 0) =>
              out.append(Integer.parseInt(s.substring(i + 2, i + 6), 16).toChar); i += 6
            case _ => out.append(c); i += 1
          }
      }
      out.toString
    }
}
