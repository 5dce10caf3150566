package vsa.spark.expressions

import java.nio.charset.StandardCharsets
import javax.crypto.Mac
import javax.crypto.spec.SecretKeySpec

import org.apache.spark.sql.catalyst.analysis.TypeCheckResult
import org.apache.spark.sql.catalyst.expressions.codegen.CodegenFallback
import org.apache.spark.sql.catalyst.expressions.{BinaryExpression, Expression, ImplicitCastInputTypes}
import org.apache.spark.sql.types.{DataType, StringType}
import org.apache.spark.unsafe.types.UTF8String

/** `vsa_viewer_key(id, secret)`: a keyed pseudonym of an id, HMAC-SHA256(secret, UTF-8 of id) cut to its first 16 bytes
  * and written as 32 lower-case hex digits. Stable for one secret, unlinkable without it. The secret must be a constant
  * (a literal or a parameter), never a column.
  */
case class ViewerKey(id: Expression, secret: Expression)
    extends BinaryExpression
    with ImplicitCastInputTypes
    with CodegenFallback {

  override def inputTypes = Seq(StringType, StringType)

  override def dataType: DataType = StringType

  override def left: Expression = id
  override def right: Expression = secret

  override def checkInputDataTypes(): TypeCheckResult = super.checkInputDataTypes() match {
    case TypeCheckResult.TypeCheckSuccess if !secret.foldable =>
      TypeCheckResult.TypeCheckFailure(s"$prettyName: the secret must be a constant, not a column")
    case TypeCheckResult.TypeCheckSuccess if secret.eval() == null || secret.eval().toString.isEmpty =>
      TypeCheckResult.TypeCheckFailure(s"$prettyName: the secret must not be null or empty")
    case other => other
  }

  // Mac instances are not thread-safe; one per thread, keyed once.
  @transient private lazy val mac = ThreadLocal.withInitial[Mac] { () =>
    val m = Mac.getInstance("HmacSHA256")
    m.init(new SecretKeySpec(secret.eval().toString.getBytes(StandardCharsets.UTF_8), "HmacSHA256"))
    m
  }

  override protected def nullSafeEval(value: Any, key: Any): Any = {
    val digest = mac.get().doFinal(value.asInstanceOf[UTF8String].getBytes)
    UTF8String.fromString(ViewerKey.hex(digest, ViewerKey.KeyBytes))
  }

  override protected def withNewChildrenInternal(newLeft: Expression, newRight: Expression): ViewerKey =
    copy(id = newLeft, secret = newRight)

  override def prettyName: String = "vsa_viewer_key"
}

object ViewerKey {
  val KeyBytes = 16

  private def hex(bytes: Array[Byte], n: Int): String = {
    val out = new java.lang.StringBuilder(2 * n)
    for (i <- 0 until n)
      out.append(Character.forDigit((bytes(i) >> 4) & 0xf, 16)).append(Character.forDigit(bytes(i) & 0xf, 16))
    out.toString
  }
}
