package vsa.spark.expressions

import java.net.InetAddress

import org.apache.spark.sql.catalyst.expressions.codegen.Block._
import org.apache.spark.sql.catalyst.expressions.codegen.{CodegenContext, ExprCode}
import org.apache.spark.sql.catalyst.expressions.{ExpectsInputTypes, Expression, UnaryExpression}
import org.apache.spark.sql.types.{DataType, StringType}
import org.apache.spark.unsafe.types.UTF8String

/** `vsa_mask_ip(ip)`: the /24 (IPv4) or /48 (IPv6; /40 for 6to4, see [[MaskIp.mask]]) network of a client address, so
  * no table holds a client's full address. The address may be written as clients and proxies write it (see
  * [[MaskIp.parseLiteral]]); anything else gives null.
  */
case class MaskIp(child: Expression) extends UnaryExpression with ExpectsInputTypes {

  override def inputTypes = Seq(StringType)

  override def dataType: DataType = StringType

  // Null for what is not an address, whatever the input's nullability.
  override def nullable: Boolean = true

  override protected def nullSafeEval(input: Any): Any = MaskIp.maskText(input.asInstanceOf[UTF8String])

  // Generated code (a call per row), so the projection that masks stays in whole-stage code generation.
  override protected def doGenCode(ctx: CodegenContext, ev: ExprCode): ExprCode = {
    val address = child.genCode(ctx)
    ev.copy(code = code"""
        ${address.code}
        UTF8String ${ev.value} = ${address.isNull} ? null : vsa.spark.expressions.MaskIp.maskText(${address.value});
        boolean ${ev.isNull} = ${ev.value} == null;""")
  }

  override protected def withNewChildInternal(newChild: Expression): MaskIp = copy(child = newChild)

  override def prettyName: String = "vsa_mask_ip"
}

object MaskIp {

  /** The masked network of an address as written, null for what is not one. */
  def maskText(text: UTF8String): UTF8String =
    parseLiteral(text.toString).map(mask).map(UTF8String.fromString).orNull

  /** The address of a client as written: an IP literal, alone or with a port (`203.0.113.7:8443`, `[2001:db8::1]:443`),
    * brackets, a zone (`fe80::1%eth0`), or first in a list (`203.0.113.7, 198.51.100.2`, as X-Forwarded-For gives the
    * client first). Never a host name: InetAddress.getByName would resolve one.
    */
  def parseLiteral(text: String): Option[InetAddress] = {
    val s = text.trim
    val listEnd = s.indexWhere(c => c == ',' || Character.isWhitespace(c))
    val first = if (listEnd < 0) s else s.substring(0, listEnd)
    val unbracketed =
      if (first.startsWith("[")) { val close = first.indexOf(']'); if (close < 0) "" else first.substring(1, close) }
      else if (first.indexOf(':') >= 0 && first.indexOf(':') == first.lastIndexOf(':')) first.takeWhile(_ != ':')
      else first
    val zone = unbracketed.indexOf('%')
    parseAddress(if (zone < 0) unbracketed else unbracketed.substring(0, zone))
  }

  /** Exactly one IPv4 or IPv6 literal, nothing around it. */
  def parseAddress(s: String): Option[InetAddress] =
    parseIpv4(s).orElse {
      if (s.count(_ == ':') >= 2 && s.forall(isIpv6Char))
        try Some(InetAddress.getByName(s))
        catch { case _: java.net.UnknownHostException => None }
      else None
    }

  private def isIpv6Char(c: Char): Boolean =
    (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F') || c == ':' || c == '.'

  /** A dotted quad of 1 to 3 ASCII digits per part, each at most 255; a loop rather than a regex, since every enriched
    * row comes through here.
    */
  def parseIpv4(s: String): Option[InetAddress] = {
    val bytes = new Array[Byte](4)
    var part = 0
    var value = 0
    var digits = 0
    var i = 0
    while (i < s.length) {
      val c = s.charAt(i)
      if (c >= '0' && c <= '9' && digits < 3) {
        value = value * 10 + (c - '0')
        digits += 1
      } else if (c == '.' && digits > 0 && part < 3 && value <= 255) {
        bytes(part) = value.toByte
        part += 1
        value = 0
        digits = 0
      } else return None
      i += 1
    }
    if (part != 3 || digits == 0 || value > 255) None
    else {
      bytes(3) = value.toByte
      Some(InetAddress.getByAddress(bytes))
    }
  }

  /** The /24 (IPv4) or /48 (IPv6) network of an address; a 6to4 address (2002::/16) to /40, as its bits 16 to 47 are an
    * IPv4 address (`2002:cb00:7107::` is 203.0.113.7's), of which the /24 is kept.
    */
  def mask(address: InetAddress): String = {
    val bytes = address.getAddress
    val sixToFour = bytes.length == 16 && bytes(0) == 0x20 && bytes(1) == 0x02
    val keep = if (bytes.length == 4) 3 else if (sixToFour) 5 else 6
    java.util.Arrays.fill(bytes, keep, bytes.length, 0.toByte)
    val masked = InetAddress.getByAddress(bytes).getHostAddress
    if (bytes.length == 4) masked else compressIpv6(masked)
  }

  // Java prints IPv6 in full ("2001:db8:0:0:0:0:0:0"); the RFC 5952 form is what people read.
  private def compressIpv6(full: String): String = {
    val groups = full.split(":").map(g => java.lang.Integer.parseInt(g, 16).toHexString)
    val (start, length) = groups.indices.foldLeft((-1, 0)) { case ((bestStart, bestLen), i) =>
      if (groups(i) != "0" || (i > 0 && groups(i - 1) == "0")) (bestStart, bestLen)
      else {
        val run = groups.drop(i).takeWhile(_ == "0").length
        if (run > bestLen) (i, run) else (bestStart, bestLen)
      }
    }
    if (length < 2) groups.mkString(":")
    else groups.take(start).mkString(":") + "::" + groups.drop(start + length).mkString(":")
  }
}
