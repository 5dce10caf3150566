package vsa.spark

import org.apache.spark.sql.AnalysisException
import org.apache.spark.sql.catalyst.FunctionIdentifier
import org.apache.spark.sql.catalyst.expressions.{Expression, ExpressionInfo}
import vsa.spark.expressions.{MaskIp, ParseUserAgent}

import scala.reflect.ClassTag

/** One entry per SQL function of vsa: its name, documentation and builder. The session extension registers exactly
  * these, and the Python wrappers in `vsa.functions` call them by name.
  */
final case class CatalogEntry(name: String, info: ExpressionInfo, builder: Seq[Expression] => Expression) {
  def identifier: FunctionIdentifier = FunctionIdentifier(name)
}

object FunctionCatalog {

  val entries: Seq[CatalogEntry] = Seq(
    unary[ParseUserAgent](
      "vsa_parse_ua",
      usage = "_FUNC_(ua) - Parses a user agent into browser, OS and device fields (uap-core rules) and a device_type.",
      example =
        "> SELECT _FUNC_('Mozilla/5.0 (iPhone; CPU iPhone OS 17_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.1 Mobile/15E148 Safari/604.1').device_type;\n       mobile",
      group = "misc_funcs"
    )(ParseUserAgent(_)),
    unary[MaskIp](
      "vsa_mask_ip",
      usage =
        "_FUNC_(ip) - Truncates an IP address to its network: /24 for IPv4, /48 for IPv6. Null when not an address.",
      example = "> SELECT _FUNC_('203.0.113.77');\n       203.0.113.0",
      group = "misc_funcs"
    )(MaskIp(_))
  )

  private def unary[T <: Expression: ClassTag](name: String, usage: String, example: String, group: String)(
      build: Expression => T
  ): CatalogEntry = {
    val info = new ExpressionInfo(
      implicitly[ClassTag[T]].runtimeClass.getName,
      null,
      name,
      usage,
      "",
      s"\n    Examples:\n      $example\n  ",
      "",
      group,
      "0.1.0",
      "",
      "scala_udf"
    )
    val builder: Seq[Expression] => Expression = {
      case Seq(arg) => build(arg)
      case args =>
        throw new AnalysisException(
          errorClass = "WRONG_NUM_ARGS.WITHOUT_SUGGESTION",
          messageParameters = Map(
            "functionName" -> s"`$name`",
            "expectedNum" -> "1",
            "actualNum" -> args.length.toString,
            "docroot" -> "https://spark.apache.org/docs/latest"
          )
        )
    }
    CatalogEntry(name, info, builder)
  }
}
