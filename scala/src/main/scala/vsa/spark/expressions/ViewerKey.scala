package vsa.spark.expressions

import java.nio.charset.StandardCharsets
import javax.crypto.Mac
import javax.crypto.spec.SecretKeySpec

import org.apache.spark.sql.catalyst.expressions.codegen.CodegenFallback
import org.apache.spark.sql.catalyst.expressions.{Expression, ImplicitCastInputTypes, UnaryExpression}
import org.apache.spark.sql.internal.SQLConf
import org.apache.spark.sql.types.{DataType, StringType}
import org.apache.spark.unsafe.types.UTF8String

/** `vsa_viewer_key(id[, secret])`: a keyed pseudonym of an id, HMAC-SHA256(secret, UTF-8 of id) cut to its first 16
  * bytes and written as 32 lower-case hex digits. Stable for one secret, unlinkable without it.
  *
  * The secret is the session's `spark.vsa.viewer.secret` (Spark redacts conf values whose key says "secret"), or a
  * constant argument. Either way the expression holds it as a [[ViewerSecret]], which no plan string shows: Spark logs
  * the plan when a query fails.
  */
case class ViewerKey(id: Expression, secret: ViewerSecret)
    extends UnaryExpression
    with ImplicitCastInputTypes
    with CodegenFallback {

  override def child: Expression = id
  override def inputTypes = Seq(StringType)
  override def dataType: DataType = StringType

  override protected def nullSafeEval(value: Any): Any = secret.key(value.asInstanceOf[UTF8String])

  override protected def withNewChildInternal(newChild: Expression): ViewerKey = copy(id = newChild)

  override def prettyName: String = "vsa_viewer_key"
}

object ViewerKey {
  val SecretKey = "spark.vsa.viewer.secret"

  /** The builder of `vsa_viewer_key(id)`: the secret from the session's conf, read now (on the driver). */
  def fromConf(id: Expression): ViewerKey = ViewerKey(id, ViewerSecret.fromConf("vsa_viewer_key"))

  /** The builder of `vsa_viewer_key(id, secret)`: the secret must be a constant, evaluated now. */
  def apply(id: Expression, secret: Expression): ViewerKey = ViewerKey(id, ViewerSecret.of(secret, "vsa_viewer_key"))
}

/** An HMAC key that never prints: its `toString` (and so every plan string and log line) is `<secret>`. Not a case
  * class, so no plan serializer walks into it either.
  */
final class ViewerSecret private (private val value: Array[Byte]) extends Serializable {

  // Mac instances are not thread-safe; one per thread, keyed once.
  @transient private lazy val mac = ThreadLocal.withInitial[Mac] { () =>
    val m = Mac.getInstance("HmacSHA256")
    m.init(new SecretKeySpec(value, "HmacSHA256"))
    m
  }

  /** The pseudonym of `id`'s UTF-8 bytes. */
  def key(id: UTF8String): UTF8String = UTF8String.fromString(key(id.getBytes))

  def key(id: Array[Byte]): String = ViewerSecret.hex(mac.get().doFinal(id), ViewerSecret.KeyBytes)

  override def toString: String = "<secret>"
  override def equals(other: Any): Boolean = other match {
    case s: ViewerSecret => java.util.Arrays.equals(value, s.value)
    case _               => false
  }
  override def hashCode: Int = java.util.Arrays.hashCode(value)
}

object ViewerSecret {
  val KeyBytes = 16

  def fromConf(function: String): ViewerSecret = {
    val secret = Option(SQLConf.get.getConfString(ViewerKey.SecretKey, null)).filter(_.nonEmpty)
    new ViewerSecret(
      secret
        .getOrElse(fail(s"$function needs a secret: set ${ViewerKey.SecretKey}, or pass it as a constant argument"))
        .getBytes(StandardCharsets.UTF_8)
    )
  }

  def of(secret: Expression, function: String): ViewerSecret = {
    if (!secret.foldable) fail(s"$function: the secret must be a constant, not a column")
    Option(secret.eval()).map(_.toString).filter(_.nonEmpty) match {
      case Some(s) => new ViewerSecret(s.getBytes(StandardCharsets.UTF_8))
      case None    => fail(s"$function: the secret must not be null or empty")
    }
  }

  private def fail(message: String): Nothing = throw new IllegalArgumentException(message)

  private def hex(bytes: Array[Byte], n: Int): String = {
    val out = new java.lang.StringBuilder(2 * n)
    for (i <- 0 until n)
      out.append(Character.forDigit((bytes(i) >> 4) & 0xf, 16)).append(Character.forDigit(bytes(i) & 0xf, 16))
    out.toString
  }
}
