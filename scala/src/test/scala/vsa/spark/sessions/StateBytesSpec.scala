package vsa.spark.sessions

import java.nio.ByteBuffer

import org.scalatest.funsuite.AnyFunSuite

/** A session's state as the state store keeps it ([[StateBytes]]). */
class StateBytesSpec extends AnyFunSuite {
  private val T = 1764000000000L

  private def waiting(id: String, at: Long, attrs: Seq[String]): SessionEvent =
    SessionEvent(
      "s",
      "s",
      id,
      "heartbeat",
      T + at,
      "v1",
      Some(2500L),
      attrs,
      id,
      "topic",
      Some(1),
      Some(7L),
      null,
      None
    )

  private val state = SessionState(
    lastOrdinal = 3,
    lastActivity = T,
    pending = Seq(waiting("a", 1000, Seq("FR", null, "Chrome")), waiting("b", 2000, null)),
    view = None,
    closing = Seq.empty,
    offset = Some(-300000L),
    concurrentTick = T - 10000
  )

  test("a state reads back as it was written, from bytes alone") {
    val bytes = StateBytes.encode(state)
    assert(StateBytes.decode(bytes.clone()) == state)
    assert(StateBytes.encode(StateBytes.decode(bytes)).sameElements(bytes))
  }

  test("a state of another schema is refused by name, never read") {
    val other = StateBytes.encode(state)
    ByteBuffer.wrap(other).putLong(StateBytes.schemaMark + 1)
    val refused = intercept[IllegalStateException](StateBytes.decode(other))
    assert(refused.getMessage.contains("another version of vsa's sessionizer"))
    assert(refused.getMessage.contains("new checkpoint_root"))
    assertThrows[IllegalStateException](StateBytes.decode(Array[Byte](1, 2)))
  }
}
