package vsa.spark.sessions

import java.nio.ByteBuffer
import java.nio.charset.StandardCharsets.UTF_8
import java.util.UUID

import org.apache.spark.sql.catalyst.encoders.ExpressionEncoder
import org.apache.spark.sql.catalyst.expressions.UnsafeRow
import vsa.spark.expressions.{PackRow, UnpackRow}

/** A session's state as the state store keeps it: the `UnsafeRow` of Spark's own encoder of [[SessionState]], behind a
  * mark of that row's schema.
  *
  * The state store could keep `SessionState` itself, but then every task that reads or writes state generates the
  * encoder's code again (the state holds waiting events and open views: hundreds of fields); here each executor thread
  * generates it once (docs/performance.md). The mark takes the place of Spark's state schema check, which sees bytes
  * only: state written by a sessionizer of another schema is refused by name, never read as garbage.
  */
private[sessions] object StateBytes {
  private val encoder = ExpressionEncoder[SessionState]()
  private val fields = encoder.schema.length

  /** The schema's mark: the first 8 bytes of the MD5 of its JSON. */
  val schemaMark: Long = UUID.nameUUIDFromBytes(encoder.schema.json.getBytes(UTF_8)).getMostSignificantBits

  private val toRow = ThreadLocal.withInitial(() => encoder.createSerializer())
  private val fromRow = ThreadLocal.withInitial(() => encoder.resolveAndBind().createDeserializer())

  private val Header = java.lang.Long.BYTES

  def encode(state: SessionState): Array[Byte] = {
    val bytes = PackRow.bytesOf(toRow.get()(state).asInstanceOf[UnsafeRow], Header)
    ByteBuffer.wrap(bytes).putLong(schemaMark)
    bytes
  }

  def decode(bytes: Array[Byte]): SessionState = {
    if (bytes.length < Header || ByteBuffer.wrap(bytes).getLong != schemaMark)
      throw new IllegalStateException(
        "the checkpoint holds sessions kept by another version of vsa's sessionizer, which this one cannot read: " +
          "let the old job catch up, then start this one with a new checkpoint_root (docs/operations.md, \"Upgrading\")"
      )
    fromRow.get()(UnpackRow.unpack(bytes, fields, Header))
  }
}
