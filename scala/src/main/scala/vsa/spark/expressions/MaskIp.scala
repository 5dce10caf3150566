package vsa.spark.expressions

import java.net.InetAddress

import org.apache.spark.sql.catalyst.expressions.codegen.CodegenFallback
import org.apache.spark.sql.catalyst.expressions.{ExpectsInputTypes, Expression, UnaryExpression}
import org.apache.spark.sql.types.{DataType, StringType}
import org.apache.spark.unsafe.types.UTF8String

/** `vsa_mask_ip(ip)`: the /24 (IPv4) or /48 (IPv6) network of an address, so no table holds a client's full address.
  * Anything that is not an IP literal gives null.
  */
case class MaskIp(child: Expression) extends UnaryExpression with ExpectsInputTypes with CodegenFallback {

  override def inputTypes = Seq(StringType)

  override def dataType: DataType = StringType

  override protected def nullSafeEval(input: Any): Any =
    MaskIp.parseLiteral(input.toString.trim).map(MaskIp.mask).map(UTF8String.fromString).orNull

  override protected def withNewChildInternal(newChild: Expression): MaskIp = copy(child = newChild)

  override def prettyName: String = "vsa_mask_ip"
}

object MaskIp {
  private val Ipv6Chars = """^[0-9A-Fa-f:.]+$""".r

  /** An address from an IP literal only: InetAddress.getByName would resolve a host name. */
  def parseLiteral(s: String): Option[InetAddress] =
    parseIpv4(s).orElse {
      if (s.count(_ == ':') >= 2 && Ipv6Chars.matches(s))
        try Some(InetAddress.getByName(s))
        catch { case _: java.net.UnknownHostException => None }
      else None
    }

  /** A dotted quad of 1 to 3 ASCII digits per part, each at most 255; a loop rather than a regex, since every enriched
    * row comes through here.
    */
  private def parseIpv4(s: String): Option[InetAddress] = {
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

  def mask(address: InetAddress): String = {
    val bytes = address.getAddress
    val keep = if (bytes.length == 4) 3 else 6
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
