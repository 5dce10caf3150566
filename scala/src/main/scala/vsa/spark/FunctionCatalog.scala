package vsa.spark

import org.apache.spark.sql.AnalysisException
import org.apache.spark.sql.catalyst.FunctionIdentifier
import org.apache.spark.sql.catalyst.expressions.{Expression, ExpressionInfo}
import vsa.spark.expressions._

import scala.reflect.ClassTag

/** One entry per SQL function of vsa: its name, documentation and builder. The session extension registers exactly
  * these, and the Python wrappers in `vsa.functions` call them by name.
  */
final case class CatalogEntry(name: String, info: ExpressionInfo, builder: Seq[Expression] => Expression) {
  def identifier: FunctionIdentifier = FunctionIdentifier(name)
}

object FunctionCatalog {

  val entries: Seq[CatalogEntry] = Seq(
    // Enrichment
    function[ParseUserAgent](
      "vsa_parse_ua",
      usage = "_FUNC_(ua) - Parses a user agent into browser, OS and device fields (uap-core rules) and a device_type.",
      example =
        "> SELECT _FUNC_('Mozilla/5.0 (iPhone; CPU iPhone OS 17_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.1 Mobile/15E148 Safari/604.1').device_type;\n       mobile",
      group = "misc_funcs"
    ) { case Seq(ua) => ParseUserAgent(ua) },
    function[GeoIp](
      "vsa_geoip",
      usage =
        "_FUNC_(ip) - Country (ISO code), region (first subdivision's ISO code), city, latitude, longitude, asn and as_org of an IP address, from the MaxMind DB files of spark.vsa.geoip.cityDb and spark.vsa.geoip.asnDb. Fields are null where unknown.",
      example = "> SELECT _FUNC_('81.2.69.142').city;\n       London",
      group = "misc_funcs"
    ) { case Seq(ip) => GeoIp.fromConf(ip) },
    // Player events
    function[ParsePlayerEvent](
      "vsa_parse_player_event",
      usage =
        "_FUNC_(raw, received, bound_seconds[, now]) - A player record (a JSON event, or a CMCD v2 event report) as its typed event (event), why it is not a valid one (reason, detail: null for a valid event), whether it is a CMCD report of no use to the model (ignored), what it says of its device's clock (clock_offset, ms) and its time for the watermark (event_time). received: when its transport received it, which the record's received_at overrides; bound_seconds: the largest clock offset believed; now: the batch's time (default current_timestamp()).",
      example =
        "> SELECT _FUNC_('{\"event_id\": \"e1\", \"event_type\": \"heartbeat\", \"ts\": 1764000000000, \"session_id\": \"s1\"}', NULL, 600).event.session_id;\n       s1",
      group = "string_funcs"
    ) {
      case Seq(raw, received, bound)      => new ParsePlayerEvent(raw, received, bound)
      case Seq(raw, received, bound, now) => ParsePlayerEvent(raw, received, bound, now)
    },
    // CDN logs
    function[ParseCmcd](
      "vsa_parse_cmcd",
      usage =
        "_FUNC_(text) - The CMCD (CTA-5004) keys of a query string's CMCD argument or of a CMCD header value, typed (br, bl, bs, bsd, cdn, cid, d, dl, e, msd, mtp, nor, nrr, ot, pr, rtp, sf, sid, st, sta, su, tb, ts, ttfb, ttlb, v), the other keys in `other`, and `error` for a malformed dictionary. Null without CMCD.",
      example = "> SELECT _FUNC_('/seg_1.m4s?CMCD=br%3D3200%2Cbs%2Cot%3Dv%2Csid%3D%226e2fb550%22').br;\n       3200",
      group = "string_funcs"
    ) { case Seq(text) => ParseCmcd(text) },
    function[LogLinesOf](
      "vsa_log_lines",
      usage =
        "_FUNC_(record) - A CDN log record's lines: split at newlines, a trailing carriage return dropped, lines of spaces only left out.",
      example = "> SELECT array_join(_FUNC_('a\\r\\n\\n  \\nb'), '|');\n       a|b",
      group = "string_funcs"
    ) { case Seq(record) => LogLinesOf(record) },
    function[ParseCloudFront](
      "vsa_parse_cloudfront",
      usage =
        "_FUNC_(line, names) - A CloudFront standard log line (tab-separated, `-` for none), its fields named by names (the #Fields: list), as a normalized request (timestamp, client_ip, user_agent, host, path, query, status, bytes, ttfb_ms, download_ms, cache_status, pop, cmcd_text) with reason and detail: null for a good line, else why it is rejected (bad_encoding, bad_field_count, missing_field, bad_timestamp, bad_type).",
      example =
        "> SELECT _FUNC_('2025-11-24\\t16:18:30\\tFRA56-P4\\t800\\t81.2.69.1\\tGET\\td.example\\t/a.ts\\t200', array('date', 'time', 'x-edge-location', 'sc-bytes', 'c-ip', 'cs-method', 'cs(Host)', 'cs-uri-stem', 'sc-status')).status;\n       200",
      group = "string_funcs"
    ) { case Seq(line, names) => ParseCloudFront(line, names) },
    function[ParseNginx](
      "vsa_parse_nginx",
      usage =
        "_FUNC_(line) - An nginx combined log line, optionally extended (rt=, ut=, uht=, cs=), as a normalized request (as vsa_parse_cloudfront's) with reason and detail: null for a good line, else why it is rejected (bad_encoding, malformed_line, missing_field, bad_timestamp, bad_type).",
      example =
        "> SELECT _FUNC_('203.0.113.7 - - [24/Nov/2025:16:18:30 +0000] \"GET /a.ts?x=1 HTTP/1.1\" 200 800 \"-\" \"Player\" rt=0.5').download_ms;\n       500.0",
      group = "string_funcs"
    ) { case Seq(line) => ParseNginx(line) },
    function[ParseAkamai](
      "vsa_parse_akamai",
      usage =
        "_FUNC_(line) - An Akamai DataStream 2 line (a JSON object; keys in any case, values strings or numbers, `-`, `^` or `\"\"` for none) as a normalized request (as vsa_parse_cloudfront's) with reason and detail: null for a good line, else why it is rejected (bad_encoding, malformed_json, missing_field, bad_timestamp, bad_type).",
      example =
        "> SELECT _FUNC_('{\"reqTimeSec\": \"1700000000.25\", \"statusCode\": \"206\", \"reqPath\": \"a.ts\", \"turnAroundTimeMSec\": \"11\", \"transferTimeMSec\": \"125\"}').download_ms;\n       136.0",
      group = "string_funcs"
    ) { case Seq(line) => ParseAkamai(line) },
    function[ParseCloudFrontRealtime](
      "vsa_parse_cloudfront_realtime",
      usage =
        "_FUNC_(line, names) - A CloudFront real-time log line (tab-separated, positional, `-` for none), its fields named by names (the real-time log configuration's fields in CloudFront's order), as a normalized request (as vsa_parse_cloudfront's; its cmcd-* fields typed in cmcd_fields, the CMCD headers of cs-headers in cmcd_text) with reason and detail: null for a good line, else why it is rejected (bad_encoding, bad_field_count, missing_field, bad_timestamp, bad_type).",
      example =
        "> SELECT _FUNC_('1700000000.123\\t81.2.69.1\\t200\\t/a.ts\\t2400', array('timestamp', 'c-ip', 'sc-status', 'cs-uri-stem', 'cmcd-encoded-bitrate')).cmcd_fields.br;\n       2400",
      group = "string_funcs"
    ) { case Seq(line, names) => ParseCloudFrontRealtime(line, names) },
    function[ParseEdgecast](
      "vsa_parse_edgecast",
      usage =
        "_FUNC_(line) - An Edgio (Edgecast) RTLD log entry (a JSON object, values strings or numbers, `-` or empty for none) as a normalized request (as vsa_parse_cloudfront's) with reason and detail: null for a good line, else why it is rejected (bad_encoding, malformed_json, missing_field, bad_timestamp, bad_type).",
      example =
        "> SELECT _FUNC_('{\"timestamp\": 1700000000.5, \"status_code\": 200, \"path\": \"/a.ts\", \"total_time\": 0.8}').download_ms;\n       800.0",
      group = "string_funcs"
    ) { case Seq(line) => ParseEdgecast(line) },
    function[ParseFastly](
      "vsa_parse_fastly",
      usage =
        "_FUNC_(line[, field_map]) - A Fastly log line (a JSON object; the keys of real Fastly formats, start_time, req_uri, resp_status, ..., or of vsa's VCL format) as a normalized request (as vsa_parse_cloudfront's) with reason and detail: null for a good line, else why it is rejected (bad_encoding, malformed_json, missing_field, bad_timestamp, bad_type). field_map, a constant map, names your own key for a name of the preset (timestamp, client_ip, user_agent, host, url, status, bytes, elapsed_us, ttfb_s, cache_state, pop, cmcd).",
      example =
        "> SELECT _FUNC_('{\"ts\": \"1714557602.5\", \"status\": 200, \"url\": \"/a.mpd?x=1\"}', map('timestamp', 'ts')).query;\n       x=1",
      group = "string_funcs"
    ) {
      case Seq(line)           => new ParseFastly(line)
      case Seq(line, fieldMap) => ParseFastly(line, fieldMap)
    },
    // Player events
    function[MapWithout](
      "vsa_map_without",
      usage =
        "_FUNC_(map, keys[, prefix]) - The string-to-string map without the entries whose key is in keys (a constant array), the keys it keeps prefixed by prefix (a constant string; none by default).",
      example =
        "> SELECT array_join(map_keys(_FUNC_(map('a', '1', 'b', '2', 'c', '3'), array('a', 'c'), 'x_')), ',');\n       x_b",
      group = "map_funcs"
    ) {
      case Seq(map, keys)         => new MapWithout(map, keys)
      case Seq(map, keys, prefix) => MapWithout(map, keys, prefix)
    },
    function[IsJsonObject](
      "vsa_is_json_object",
      usage =
        "_FUNC_(text) - Whether text is one JSON object with only whitespace around it: false for two objects, trailing garbage or anything else. The object's content is not validated (from_json does that).",
      example = "> SELECT _FUNC_('{\"a\": 1}{\"b\": 2}');\n       false",
      group = "json_funcs"
    ) { case Seq(text) => IsJsonObject(text) },
    function[JsonObjectFields](
      "vsa_json_object_fields",
      usage =
        "_FUNC_(text) - The top-level fields of text, when it is one JSON object (vsa_is_json_object), as a map<string,string>: each value as from_json(text, 'map<string,string>') gives it (a string's text, any other value as JSON). Null for anything else.",
      example = "> SELECT _FUNC_('{\"a\": \"x\", \"n\": 1, \"o\": {\"b\": [2]}}')['o'];\n       {\"b\":[2]}",
      group = "json_funcs"
    ) { case Seq(text) => JsonObjectFields(text) },
    // Privacy
    function[MaskIp](
      "vsa_mask_ip",
      usage =
        "_FUNC_(ip) - Truncates a client's IP address to its network: /24 for IPv4, /48 for IPv6 (/40 for 6to4, 2002::/16, which embeds an IPv4 address). The address may carry a port (ip:port, [v6]:port), brackets or a zone (%eth0), or come first in a comma-separated list. Null when not an address.",
      example = "> SELECT _FUNC_('203.0.113.77');\n       203.0.113.0",
      group = "misc_funcs"
    ) { case Seq(ip) => MaskIp(ip) },
    function[MaskIpsInText](
      "vsa_mask_ips_in_text",
      usage =
        "_FUNC_(text) - The text (or the keys and values of a map<string,string>) with every IPv4 and IPv6 address in it truncated as vsa_mask_ip truncates one (/24, /48), with a port or brackets or not, its colons written %3A or not; the dotted or dashed quad of a host name (7.113.0.203.in-addr.arpa, ec2-203-0-113-7) with its first and last numbers zeroed.",
      example =
        "> SELECT _FUNC_('{\"ip\": \"203.0.113.77\", \"v6\": \"2001:db8:1:2::9\"}');\n       {\"ip\": \"203.0.113.0\", \"v6\": \"2001:db8:1::\"}",
      group = "misc_funcs"
    ) { case Seq(text) => MaskIpsInText(text) },
    function[ViewerKey](
      "vsa_viewer_key",
      usage =
        "_FUNC_(id[, secret]) - A keyed pseudonym of id: the first 16 bytes of HMAC-SHA256(secret, id) as 32 hex digits. The secret: the session's spark.vsa.viewer.secret, or a constant; no plan shows it.",
      example = "> SELECT _FUNC_('viewer-1', 's3cret');\n       f0142901aef8ce1e659f1c668359da9c",
      group = "hash_funcs"
    ) {
      case Seq(id)         => ViewerKey.fromConf(id)
      case Seq(id, secret) => ViewerKey(id, secret)
    },
    function[ViewerKeysInJson](
      "vsa_viewer_keys_in_json",
      usage =
        "_FUNC_(text[, secret]) - JSON text (well-formed or not) with the value of every viewer_id key replaced by its vsa_viewer_key under the same secret.",
      example =
        "> SELECT _FUNC_('{\"viewer_id\": \"viewer-1\", \"ts\": 1}', 's3cret');\n       {\"viewer_id\": \"f0142901aef8ce1e659f1c668359da9c\", \"ts\": 1}",
      group = "string_funcs"
    ) {
      case Seq(text)         => ViewerKeysInJson(text, ViewerSecret.fromConf("vsa_viewer_keys_in_json"))
      case Seq(text, secret) => ViewerKeysInJson(text, ViewerSecret.of(secret, "vsa_viewer_keys_in_json"))
    },
    // Unique viewers
    function[ViewerSketch](
      "vsa_viewer_sketch",
      usage =
        "_FUNC_(id[, lgK]) - A HyperLogLog sketch (DataSketches HLL_8, as hll_sketch_agg) of the distinct ids; lgK 4..21, default 12 (relative standard error about 1.04/sqrt(2^lgK)).",
      example = "> SELECT vsa_sketch_estimate(_FUNC_(id)) FROM VALUES ('a'), ('b'), ('a') AS t(id);\n       2",
      group = "agg_funcs"
    ) {
      case Seq(id)      => new ViewerSketch(id)
      case Seq(id, lgK) => ViewerSketch(id, lgK)
    },
    function[SketchUnion](
      "vsa_sketch_union",
      usage =
        "_FUNC_(sketch[, allowDifferentLgK]) - The union of the sketches of a group (as hll_union_agg); different lgK values are an error unless allowDifferentLgK is true.",
      example =
        "> SELECT vsa_sketch_estimate(_FUNC_(s)) FROM (SELECT vsa_viewer_sketch(id) AS s FROM VALUES ('a', 1), ('b', 2), ('a', 2) AS t(id, m) GROUP BY m);\n       2",
      group = "agg_funcs"
    ) {
      case Seq(sketch)        => new SketchUnion(sketch)
      case Seq(sketch, allow) => SketchUnion(sketch, allow)
    },
    function[SketchEstimate](
      "vsa_sketch_estimate",
      usage = "_FUNC_(sketch) - The distinct count a vsa_viewer_sketch estimates (as hll_sketch_estimate).",
      example = "> SELECT _FUNC_(vsa_viewer_sketch(id)) FROM VALUES ('a'), ('b') AS t(id);\n       2",
      group = "misc_funcs"
    ) { case Seq(sketch) => new SketchEstimate(sketch) },
    function[SketchBound](
      "vsa_sketch_lower_bound",
      usage = "_FUNC_(sketch, numStdDev) - The lower confidence bound of a sketch's estimate, numStdDev 1, 2 or 3.",
      example = "> SELECT round(_FUNC_(vsa_viewer_sketch(id), 2), 3) FROM VALUES ('a'), ('b') AS t(id);\n       2.0",
      group = "misc_funcs"
    ) { case Seq(sketch, n) => SketchBound(sketch, n, upper = false) },
    function[SketchBound](
      "vsa_sketch_upper_bound",
      usage = "_FUNC_(sketch, numStdDev) - The upper confidence bound of a sketch's estimate, numStdDev 1, 2 or 3.",
      example = "> SELECT round(_FUNC_(vsa_viewer_sketch(id), 2), 3) FROM VALUES ('a'), ('b') AS t(id);\n       2.0",
      group = "misc_funcs"
    ) { case Seq(sketch, n) => SketchBound(sketch, n, upper = true) }
  )

  /** An entry whose builder accepts the argument lists `build` is defined for, and otherwise fails analysis with
    * Spark's own wrong-number-of-arguments error.
    */
  private def function[T <: Expression: ClassTag](name: String, usage: String, example: String, group: String)(
      build: PartialFunction[Seq[Expression], Expression]
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
    val builder: Seq[Expression] => Expression = args =>
      build.applyOrElse(
        args,
        (wrong: Seq[Expression]) =>
          throw new AnalysisException(
            errorClass = "WRONG_NUM_ARGS.WITHOUT_SUGGESTION",
            messageParameters = Map(
              "functionName" -> s"`$name`",
              "expectedNum" -> expectedArity(usage),
              "actualNum" -> wrong.length.toString,
              "docroot" -> "https://spark.apache.org/docs/latest"
            )
          )
      )
    CatalogEntry(name, info, builder)
  }

  /** "1", "2" or "1 or 2", read from the usage's signature, e.g. `_FUNC_(id[, lgK])`. */
  private def expectedArity(usage: String): String = {
    val signature = usage.takeWhile(_ != ')')
    val required = signature.takeWhile(_ != '[').count(_ == ',') + 1
    val optional = signature.count(_ == '[')
    if (optional == 0) required.toString else s"$required or ${required + optional}"
  }
}
